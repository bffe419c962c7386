package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.livemig.engine.security.DataToken;
import org.livemig.messages.HostLedgerEvent;
import org.livemig.messages.HostReply;
import org.livemig.messages.PrepareCookie;

/** The ledger keeps Prepare's answer with the data token's hash, never the token. */
class HostLedgerTokenTest {
  @Test
  void prepareAnswerIsWrittenWithTheHashOnly() {
    String token = "feedfacecafebeef0011223344556677";
    HostReply answer = HostReply.newBuilder().setMigrationId("m").setEpoch(1).setStep(2).setHost("host-b").setOk(true)
        .setPrepare(PrepareCookie.newBuilder().setDataHost("127.0.0.1").setDataPort(7000).setToken(token)).build();
    HostLedgerEvent written = HostLedger.answered(answer);
    assertFalse(written.toString().contains(token), written.toString());
    assertEquals(7000, written.getAnswered().getPrepare().getDataPort());
    assertTrue(DataToken.matches(written.getAnswered().getPrepare(), token));
    HostReply other = answer.toBuilder().clearPrepare().build();
    assertEquals(other, HostLedger.answered(other).getAnswered(), "answers without a token are written as they are");
  }
}
