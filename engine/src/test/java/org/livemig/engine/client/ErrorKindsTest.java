package org.livemig.engine.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.Refusal;

/** A refusal's kind, never its wording, decides the exception a client sees. */
class ErrorKindsTest {
  @Test
  void everyKindMapsToItsExceptionWhateverTheMessageSays() {
    Map<ErrorKind, MigrationException.Kind> expected = Map.of(
        ErrorKind.ERROR_INVALID_REQUEST, MigrationException.Kind.INVALID_REQUEST,
        ErrorKind.ERROR_UNKNOWN_MIGRATION, MigrationException.Kind.UNKNOWN_MIGRATION,
        ErrorKind.ERROR_UNKNOWN_GUEST, MigrationException.Kind.UNKNOWN_GUEST,
        ErrorKind.ERROR_HOST_UNREACHABLE, MigrationException.Kind.HOST_UNREACHABLE,
        ErrorKind.ERROR_CONFLICT, MigrationException.Kind.CONFLICT,
        ErrorKind.ERROR_NOT_SUPPORTED, MigrationException.Kind.NOT_SUPPORTED,
        ErrorKind.ERROR_REFUSED, MigrationException.Kind.REFUSED,
        ErrorKind.ERROR_POWERED_OFF, MigrationException.Kind.REFUSED, // a migration's end, never a refusal
        ErrorKind.ERROR_NONE, MigrationException.Kind.REFUSED);
    for (ErrorKind k : ErrorKind.values()) {
      if (k == ErrorKind.UNRECOGNIZED) continue;
      // A message that names another kind's words must not change the type.
      MigrationException e = Errors.of(Refusal.newBuilder().setKind(k).setField("guest_id")
          .setMessage("unknown guest; already migrating; invalid request: x; unknown host").build());
      assertEquals(expected.get(k), e.kind(), k.name());
    }
    MigrationException invalid = Errors.of(Refusal.newBuilder().setKind(ErrorKind.ERROR_INVALID_REQUEST)
        .setField("channels").setMessage("reworded").build());
    assertEquals("channels", assertInstanceOf(MigrationException.InvalidRequest.class, invalid).field());
  }

  @Test
  void onlyRefusalsOfTheRequestItselfFailASetupWait() {
    assertTrue(Errors.refusesRequest(ErrorKind.ERROR_UNKNOWN_GUEST));
    assertTrue(Errors.refusesRequest(ErrorKind.ERROR_CONFLICT));
    assertTrue(Errors.refusesRequest(ErrorKind.ERROR_HOST_UNREACHABLE));
    assertFalse(Errors.refusesRequest(ErrorKind.ERROR_REFUSED)); // e.g. not enough memory: the status says why
    assertFalse(Errors.refusesRequest(ErrorKind.ERROR_NONE));
  }
}
