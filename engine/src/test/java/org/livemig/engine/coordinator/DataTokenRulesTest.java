package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.livemig.engine.security.DataToken;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.Phase;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.StartMigration;

/**
 * The data token is journaled only as its hash: an incarnation that takes over in Perform asks
 * the destination's Prepare again for it before sending Perform, and refuses a token that is not
 * the journaled one.
 */
class DataTokenRulesTest {
  static final String TOKEN = "0123456789abcdef0123456789abcdef";

  private static PrepareCookie cookie(String token) {
    return PrepareCookie.newBuilder().setDataHost("127.0.0.1").setDataPort(7000).setToken(token)
        .setDestinationHost("host-b").build();
  }

  private static MigrationState journaled(CoordinatorEvent... more) {
    GuestDescription g = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(256).build();
    MigrationState s = MigrationState.EMPTY.apply(Events.requested(StartMigration.newBuilder().setMigrationId("m")
        .setGuestId("g").setSourceHost("host-a").setDestinationHost("host-b").build(),
        MigrationParameters.getDefaultInstance(), 1));
    s = s.apply(Events.begun(BeginCookie.newBuilder().setGuest(g).setSourceHost("host-a").build()));
    for (CoordinatorEvent e : more) s = s.apply(e);
    return s;
  }

  private static HostReply prepareAnswer(String token) {
    return HostReply.newBuilder().setMigrationId("m").setEpoch(1).setStep(Step.PREPARE.number).setHost("host-b")
        .setOk(true).setPrepare(cookie(token)).build();
  }

  @Test
  void theJournalKeepsTheHashNotTheToken() {
    CoordinatorEvent e = Events.prepared(cookie(TOKEN));
    PrepareCookie kept = e.getPhaseCompleted().getPrepare();
    assertEquals("", kept.getToken());
    assertFalse(e.toString().contains(TOKEN), "the token is nowhere in the event: " + e);
    assertTrue(DataToken.matches(kept, TOKEN));
    assertFalse(DataToken.matches(kept, TOKEN.replace('0', '1')));
    assertFalse(DataToken.matches(kept, ""));
  }

  @Test
  void thePrepareAnswerIsJournaledWithoutTheTokenAndPerformCarriesIt() {
    MigrationState s = journaled();
    Unpersisted u = new Unpersisted();
    Decision d = Phases.onReply(s, withAwaited(u, Step.PREPARE), prepareAnswer(TOKEN));
    assertEquals(1, d.events.size());
    assertEquals("", d.events.get(0).getPhaseCompleted().getPrepare().getToken());
    assertTrue(d.afterWrite.contains(new Decision.Send(Step.PERFORM)), d.afterWrite.toString());
    MigrationState after = s.apply(d.events.get(0));
    assertEquals(TOKEN, Step.PERFORM.command(after, u).getPerform().getPrepare().getToken());
  }

  @Test
  void aTakeoverInPerformAsksPrepareAgainAndSendsPerformWithTheJournaledToken() {
    MigrationState s = journaled(Events.prepared(cookie(TOKEN)));
    assertEquals(Phase.PERFORM, s.phase());
    Unpersisted u = new Unpersisted(); // a new incarnation: no token
    Decision resumed = Phases.resume(s, u);
    assertTrue(resumed.afterWrite.contains(new Decision.Send(Step.PREPARE)), resumed.afterWrite.toString());
    assertFalse(resumed.afterWrite.contains(new Decision.Send(Step.PERFORM)), "no Perform without its token");

    Decision d = Phases.onReply(s, withAwaited(u, Step.PREPARE), prepareAnswer(TOKEN));
    assertTrue(d.events.isEmpty(), "Prepare is journaled once: " + d.events);
    assertTrue(d.afterWrite.contains(new Decision.Send(Step.PERFORM)), d.afterWrite.toString());
    assertEquals(TOKEN, Step.PERFORM.command(s, u).getPerform().getPrepare().getToken());
  }

  @Test
  void afterTheStunTheTakeoverSendsPerformStraightAway() {
    // The source stunned, so it has Perform and its token; Prepare is not asked again.
    MigrationState s = journaled(Events.prepared(cookie(TOKEN)), Events.switchoverStarted(1_000_000));
    Decision resumed = Phases.resume(s, new Unpersisted());
    assertTrue(resumed.afterWrite.contains(new Decision.Send(Step.PERFORM)), resumed.afterWrite.toString());
  }

  @Test
  void anotherTokenOrNoneAfterTheTakeoverRollsBack() {
    for (String answered : List.of("", TOKEN.replace('a', 'b'))) {
      MigrationState s = journaled(Events.prepared(cookie(TOKEN)));
      Unpersisted u = withAwaited(new Unpersisted(), Step.PREPARE);
      Decision d = Phases.onReply(s, u, prepareAnswer(answered));
      assertTrue(d.events.stream().anyMatch(CoordinatorEvent::hasResumeOwnerChosen), "rolled back: " + d.events);
      assertFalse(d.afterWrite.contains(new Decision.Send(Step.PERFORM)), "no Perform: " + d.afterWrite);
      assertTrue(d.events.toString().contains("data endpoint for this migration is gone"), d.events.toString());
    }
  }

  @Test
  void aJournalWrittenBeforeTokensWereHashedStillResumes() {
    CoordinatorEvent old = Events.prepared(cookie(TOKEN)).toBuilder().setPhaseCompleted(
        Events.prepared(cookie(TOKEN)).getPhaseCompleted().toBuilder().setPrepare(cookie(TOKEN))).build();
    MigrationState s = journaled(old);
    Unpersisted u = new Unpersisted();
    Decision resumed = Phases.resume(s, u);
    assertTrue(resumed.afterWrite.contains(new Decision.Send(Step.PERFORM)), "its token is in the journal: "
        + resumed.afterWrite);
    assertEquals(TOKEN, Step.PERFORM.command(s, u).getPerform().getPrepare().getToken());
    assertTrue(DataToken.matches(s.prepare(), TOKEN));
    assertFalse(DataToken.matches(s.prepare(), TOKEN.replace('a', 'b')));
  }

  private static Unpersisted withAwaited(Unpersisted u, Step step) {
    u.awaiting.add(step);
    return u;
  }
}
