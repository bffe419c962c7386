package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.FailoverResult;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.ProtectGuest;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionEvent;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionRole;
import org.livemig.messages.ProtectionState;
import org.livemig.messages.ReplicationStatusReport;
import org.livemig.messages.SecondaryCookie;

/** A protection's decisions without an actor system: situation x input -> events and the commands owed. */
class ProtectionRulesTest {
  private static final ProtectGuest REQUEST = ProtectGuest.newBuilder().setGuestId("g").setPrimaryHost("a")
      .setSecondaryHost("b").setIntervalMs(50).build();

  private static Protection apply(Protection s, ProtectionRules.Outcome o) {
    assertNull(o.refusal(), () -> "refused: " + o.refusal());
    for (ProtectionEvent e : o.events()) s = s.apply(e);
    return s;
  }

  private static Protection protectedState(ProtectGuest request) {
    return apply(Protection.EMPTY, ProtectionRules.protect(Protection.EMPTY, new ProtectionRules.Progress(), "g", request));
  }

  /** Protected, the handshake answered, a checkpoint acknowledged: REPLICATING. */
  private static Protection replicating(ProtectGuest request, ProtectionRules.Progress p) {
    Protection s = protectedState(request);
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setDescribed(GuestDescription.newBuilder().setGuestId("g")).build()));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setRole(ProtectionRole.SECONDARY)
        .setCookie(SecondaryCookie.newBuilder().setToken("t")).build()));
    return apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setStatus(status("REPLICATING", 1)).build()));
  }

  private static ProtectionHostReply.Builder answer(Protection s, String host) {
    return ProtectionHostReply.newBuilder().setGuestId("g").setGeneration(s.generation()).setEpoch(s.epoch())
        .setHost(host).setRole(host.equals(s.primary()) ? ProtectionRole.PRIMARY : ProtectionRole.SECONDARY)
        .setAnswered(true).setOk(true);
  }

  private static ReplicationStatusReport status(String state, long checkpoints) {
    return ReplicationStatusReport.newBuilder().setState(state).setCheckpoints(checkpoints).build();
  }

  private static List<ProtectionCommand.CommandCase> owed(Protection s, ProtectionRules.Progress p, String host) {
    return ProtectionRules.pending(s, p).stream().filter(x -> x.host().equals(host)).map(x -> x.command().getCommandCase())
        .toList();
  }

  @Test
  void badRequestsAreRefusedAndChangeNothing() {
    var same = ProtectionRules.protect(Protection.EMPTY, new ProtectionRules.Progress(), "g", REQUEST.toBuilder().setSecondaryHost("a").build());
    assertEquals(ErrorKind.ERROR_INVALID_REQUEST, same.refusal().getKind());
    assertEquals("secondary_host", same.refusal().getField());
    assertEquals("interval_ms", ProtectionRules.protect(Protection.EMPTY, new ProtectionRules.Progress(), "g", REQUEST.toBuilder().setIntervalMs(2).build())
        .refusal().getField());
    assertEquals("guest_id", ProtectionRules.protect(Protection.EMPTY, new ProtectionRules.Progress(), "other", REQUEST).refusal().getField());
    assertEquals("primary_host", ProtectionRules.protect(Protection.EMPTY, new ProtectionRules.Progress(), "g", REQUEST.toBuilder().setPrimaryHost("a b")
        .build()).refusal().getField());
    assertTrue(same.events().isEmpty());
    var never = ProtectionRules.failover(Protection.EMPTY, "g", "");
    assertEquals(ErrorKind.ERROR_UNKNOWN_GUEST, never.refusal().getKind());
    assertTrue(never.refusal().getMessage().startsWith("guest g has never been protected"), never.refusal().getMessage());
  }

  @Test
  void theHandshakeGoesDescribePrepareStartAndAnAcknowledgedCheckpointMakesItReplicating() {
    var p = new ProtectionRules.Progress();
    Protection s = protectedState(REQUEST);
    assertEquals(ProtectionState.SYNCING, s.state());
    assertEquals(1, s.generation());
    assertEquals(List.of(ProtectionCommand.CommandCase.DESCRIBE), owed(s, p, "a"));
    assertEquals(List.of(), owed(s, p, "b"));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setDescribed(GuestDescription.newBuilder().setGuestId("g")).build()));
    assertEquals(List.of(ProtectionCommand.CommandCase.PREPARE_SECONDARY), owed(s, p, "b"));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setCookie(SecondaryCookie.newBuilder().setToken("t")).build()));
    assertEquals(List.of(ProtectionCommand.CommandCase.START_PRIMARY), owed(s, p, "a"));
    // Synced but no checkpoint acknowledged yet: still SYNCING (the secondary holds nothing whole).
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setStatus(status("REPLICATING", 0)).build()));
    assertEquals(ProtectionState.SYNCING, s.state());
    assertEquals(List.of(), ProtectionRules.pending(s, p));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setAnswered(false).setStatus(status("REPLICATING", 1)).build()));
    assertEquals(ProtectionState.REPLICATING, s.state());
    // The same request again changes nothing; another one is a conflict.
    assertTrue(ProtectionRules.protect(s, p, "g", REQUEST).events().isEmpty());
    assertEquals(ErrorKind.ERROR_CONFLICT, ProtectionRules.protect(s, p, "g", REQUEST.toBuilder().setSecondaryHost("c")
        .build()).refusal().getKind());
  }

  @Test
  void thePrimarysHostLeavingFailsOverWithANewEpochAndNothingIsSentToTheDeadPrimary() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    long epoch = s.epoch();
    s = apply(s, ProtectionRules.onHostLost(s, p, "a"));
    assertEquals(ProtectionState.FAILING_OVER, s.state());
    assertEquals(epoch + 1, s.epoch());
    assertTrue(s.primaryGone() && s.primaryStopped());
    assertEquals(List.of(), owed(s, p, "a"));
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
    // An answer of the older epoch (a repeat sent before the decision) decides nothing.
    var stale = answer(s, "b").setEpoch(epoch).setFailedOver(FailoverResult.newBuilder().setCheckpoint(9)).build();
    assertTrue(ProtectionRules.onReply(s, p, stale).events().isEmpty());
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setFailedOver(FailoverResult.newBuilder().setCheckpoint(7)
        .setOutputsUpto(30)).build()));
    assertEquals(ProtectionState.FAILED_OVER, s.state());
    assertEquals(7, ProtectionStatus.info(s, p).getFailoverCheckpoint());
    assertEquals(List.of(), ProtectionRules.pending(s, p));
  }

  @Test
  void aForcedFailoverStopsALivePrimaryBeforeTheSecondaryRuns() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.failover(s, "g", ""));
    assertEquals(ProtectionState.FAILING_OVER, s.state());
    assertEquals(List.of(ProtectionCommand.CommandCase.STOP_PRIMARY), owed(s, p, "a"));
    assertEquals(List.of(), owed(s, p, "b"), "the secondary waits until the primary is stopped");
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").build()));
    assertTrue(s.primaryStopped());
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
    assertEquals(List.of(), owed(s, p, "a"));
  }

  @Test
  void aForcedFailoverWhoseLivePrimaryThenLeavesCountsItStopped() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.failover(s, "g", "drill"));
    s = apply(s, ProtectionRules.onHostLost(s, p, "a"));
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
  }

  @Test
  void failoverBeforeAnyWholeCheckpointIsRefused() {
    var p = new ProtectionRules.Progress();
    Protection s = protectedState(REQUEST);
    var o = ProtectionRules.failover(s, "g", "");
    assertEquals(ErrorKind.ERROR_CONFLICT, o.refusal().getKind());
    assertTrue(o.events().isEmpty());
  }

  @Test
  void aManualFailoverWaitsForAnOperatorWhenThePrimaryIsLost() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST.toBuilder().setManualFailover(true).build(), p);
    s = apply(s, ProtectionRules.onHostLost(s, p, "a"));
    assertEquals(ProtectionState.FAILOVER_WAITING, s.state());
    assertEquals(List.of(), ProtectionRules.pending(s, p));
    assertEquals(ErrorKind.ERROR_CONFLICT, ProtectionRules.unprotect(s, "g", "").refusal().getKind());
    s = apply(s, ProtectionRules.failover(s, "g", ""));
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
    assertTrue(s.primaryGone());
  }

  @Test
  void aPrimaryThatReportsItsReplicationFailedIsAliveTheProtectionDegrades() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    var failed = answer(s, "a").setAnswered(false).setStatus(status("FAILED", 12).toBuilder()
        .setFailure("no ack for checkpoint 13 within 5s")).build();
    s = apply(s, ProtectionRules.onReply(s, p, failed));
    assertEquals(ProtectionState.DEGRADED, s.state());
    assertTrue(s.reason().contains("secondary b") && s.reason().contains("no ack"), s.reason());
    // Both hosts are told it ended (the primary releases its held output, the secondary destroys its copy).
    assertEquals(List.of(ProtectionCommand.CommandCase.END), owed(s, p, "a"));
    assertEquals(List.of(ProtectionCommand.CommandCase.END), owed(s, p, "b"));
    assertEquals(ErrorKind.ERROR_CONFLICT, ProtectionRules.failover(s, "g", "").refusal().getKind());
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setEnded(true).build()));
    assertEquals(List.of(), owed(s, p, "b"));
    // Not again while the primary has not confirmed the end (its held output released).
    var early = ProtectionRules.protect(s, p, "g", REQUEST.toBuilder().setSecondaryHost("c").build());
    assertEquals(ErrorKind.ERROR_CONFLICT, early.refusal().getKind());
    assertTrue(early.refusal().getMessage().contains("[a]"), early.refusal().getMessage());
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setEnded(true).build()));
    // Protect again: a new generation, the handshake from the start.
    Protection again = apply(s, ProtectionRules.protect(s, p, "g", REQUEST.toBuilder().setSecondaryHost("c").build()));
    assertEquals(2, again.generation());
    assertEquals(ProtectionState.SYNCING, again.state());
  }

  @Test
  void theSecondaryLostDegradesAndOnlyTheLivePrimaryIsTold() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.onHostLost(s, p, "b"));
    assertEquals(ProtectionState.DEGRADED, s.state());
    assertEquals(List.of(ProtectionCommand.CommandCase.END), owed(s, p, "a"));
    assertEquals(List.of(), owed(s, p, "b"));
  }

  @Test
  void theSecondarysStreamEndingAloneDecidesNothing() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    var ended = answer(s, "b").setAnswered(false).setStreamEnded("no frame for 3000 ms").build();
    assertTrue(ProtectionRules.onReply(s, p, ended).events().isEmpty());
    assertTrue(ProtectionStatus.info(s, p).getReason().contains("no frame"), "shown, not decided");
  }

  private static ProtectionHostReply leaseOut(Protection s) {
    return answer(s, "b").setAnswered(false).setLeaseOut(org.livemig.messages.PrimaryLeaseOut.newBuilder()
        .setStreamEnded("connection closed by peer").setCheckpoint(41).setLeaseMs(1050)).build();
  }

  @Test
  void thePrimarysLeaseRunOutFailsOverAtOnceAndItsPausedCopyIsStoppedBesides() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    long epoch = s.epoch();
    s = apply(s, ProtectionRules.onReply(s, p, leaseOut(s)));
    assertEquals(ProtectionState.FAILING_OVER, s.state());
    assertEquals(epoch + 1, s.epoch());
    assertTrue(s.reason().contains("lease ran out 1050 ms after checkpoint 41"), s.reason());
    assertTrue(s.primaryLeaseOut() && !s.primaryStopped() && !s.primaryGone());
    // The secondary does not wait for the primary's stop: the lease has the guest paused there,
    // and it stays so (not destroyed) until the copy runs, in case the failover fails.
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
    assertEquals(List.of(), owed(s, p, "a"));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setFailedOver(FailoverResult.newBuilder().setCheckpoint(41))
        .build()));
    assertEquals(ProtectionState.FAILED_OVER, s.state());
    // Failed over, and the old primary's paused copy still to be destroyed: until it answers or leaves.
    assertEquals(List.of(ProtectionCommand.CommandCase.STOP_PRIMARY), owed(s, p, "a"));
    assertEquals(List.of(), owed(s, p, "b"));
    Protection answered = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").build()));
    assertEquals(List.of(), ProtectionRules.pending(answered, p));
    // A primary the receptionist does not list may be cut off: still owed its stop, until removed.
    assertTrue(ProtectionRules.onHostNotFound(s, p, "a", "is not registered").events().isEmpty());
    assertEquals(List.of(ProtectionCommand.CommandCase.STOP_PRIMARY), owed(s, p, "a"));
    Protection left = apply(s, ProtectionRules.onHostLost(s, p, "a"));
    assertEquals(List.of(), ProtectionRules.pending(left, p));
    assertEquals(ProtectionState.FAILED_OVER, left.state());
  }

  @Test
  void aCoordinatorThatTookOverReattachesTheCopySoThatItsLeaseOutReachesIt() {
    var before = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, before);
    var p = new ProtectionRules.Progress(); // the new incarnation: nothing heard yet
    p.takenOver = true;
    assertEquals(List.of(ProtectionCommand.CommandCase.DESCRIBE), owed(s, p, "a"));
    var reattach = ProtectionRules.pending(s, p).stream().filter(x -> x.host().equals("b")).toList();
    assertEquals(1, reattach.size());
    assertTrue(reattach.get(0).command().getPrepareSecondary().getReattach(), "asks for the existing copy only");
    // The copy answers with its cookie; the primary, dead, never describes the guest; the copy's lease-out decides.
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setCookie(SecondaryCookie.newBuilder().setToken("t")).build()));
    assertEquals(List.of(), owed(s, p, "b"));
    s = apply(s, ProtectionRules.onReply(s, p, leaseOut(s)));
    assertEquals(ProtectionState.FAILING_OVER, s.state());
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
    // A host without the copy says so (ok, no role): not asked again, and nothing ends.
    var q = new ProtectionRules.Progress();
    q.takenOver = true;
    Protection t = replicating(REQUEST, new ProtectionRules.Progress());
    assertTrue(ProtectionRules.onReply(t, q, answer(t, "b").setRole(ProtectionRole.ROLE_NONE).build()).events().isEmpty());
    assertEquals(List.of(), owed(t, q, "b"));
  }

  @Test
  void aLeaseOutFailoverThatFailsLetsThePausedPrimaryRunOn() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.onReply(s, p, leaseOut(s)));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setOk(false).setErrorKind(ErrorKind.ERROR_REFUSED)
        .setError("no whole checkpoint").build()));
    assertEquals(ProtectionState.DEGRADED, s.state());
    assertTrue(s.reason().contains("runs on there"), s.reason());
    assertEquals(List.of(ProtectionCommand.CommandCase.END), owed(s, p, "a"), "the End runs the paused guest again");
    // Whereas after a host's removal the primary is gone: nothing to run on.
    var q = new ProtectionRules.Progress();
    Protection gone = replicating(REQUEST, q);
    gone = apply(gone, ProtectionRules.onHostLost(gone, q, "a"));
    gone = apply(gone, ProtectionRules.onReply(gone, q, answer(gone, "b").setOk(false)
        .setErrorKind(ErrorKind.ERROR_REFUSED).setError("no whole checkpoint").build()));
    assertEquals(ProtectionState.LOST, gone.state());
  }

  @Test
  void aLeaseRunOutAfterThePrimaryReportedItsFailureDecidesNothing() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setAnswered(false).setStatus(status("FAILED", 40)
        .toBuilder().setFailure("connection reset")).build()));
    assertEquals(ProtectionState.DEGRADED, s.state());
    assertTrue(ProtectionRules.onReply(s, p, leaseOut(s)).events().isEmpty(), "the primary spoke first: it runs on");
    assertEquals(List.of(ProtectionCommand.CommandCase.END), owed(s, p, "a"));
  }

  @Test
  void aLeaseRunOutWithManualFailoverWaitsAndTheOperatorsFailoverStillStopsThePrimary() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST.toBuilder().setManualFailover(true).build(), p);
    s = apply(s, ProtectionRules.onReply(s, p, leaseOut(s)));
    assertEquals(ProtectionState.FAILOVER_WAITING, s.state());
    assertEquals(List.of(), ProtectionRules.pending(s, p));
    // The operator may keep it where it is: unprotected, the End runs the paused primary again.
    Protection kept = apply(s, ProtectionRules.unprotect(s, "g", ""));
    assertEquals(ProtectionState.UNPROTECTED, kept.state());
    assertEquals(List.of(ProtectionCommand.CommandCase.END), owed(kept, p, "a"));
    s = apply(s, ProtectionRules.failover(s, "g", ""));
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, p, "b"));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setFailedOver(FailoverResult.newBuilder().setCheckpoint(41))
        .build()));
    assertEquals(List.of(ProtectionCommand.CommandCase.STOP_PRIMARY), owed(s, p, "a"));
  }

  @Test
  void aFailoverTheSecondaryCannotDoLeavesTheGuestLostWithTheReason() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.onHostLost(s, p, "a"));
    var refused = answer(s, "b").setOk(false).setError("no whole checkpoint reached the secondary").build();
    s = apply(s, ProtectionRules.onReply(s, p, refused));
    assertEquals(ProtectionState.LOST, s.state());
    assertTrue(s.reason().contains("no whole checkpoint"), s.reason());
  }

  @Test
  void anOlderGenerationsReplyIsIgnored() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    var old = answer(s, "a").setGeneration(s.generation() - 1).setAnswered(false).setStatus(status("FAILED", 3)).build();
    assertTrue(ProtectionRules.onReply(s, p, old).events().isEmpty());
    assertNotNull(ProtectionStatus.info(s, p));
  }

  @Test
  void aPrimaryThatNoLongerHoldsTheGuestAfterATakeoverIsLostNotDegraded() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    // A new incarnation: its hosts are asked again; host a restarted meanwhile and lost the guest.
    var q = new ProtectionRules.Progress();
    q.takenOver = true;
    var unknown = answer(s, "a").setOk(false).setErrorKind(ErrorKind.ERROR_UNKNOWN_GUEST)
        .setError("unknown guest g on host a").build();
    s = apply(s, ProtectionRules.onReply(s, q, unknown));
    assertEquals(ProtectionState.FAILING_OVER, s.state(), "the copy on b is all there is: " + s.reason());
    assertEquals(List.of(ProtectionCommand.CommandCase.FAILOVER), owed(s, q, "b"));
  }

  @Test
  void aFirstRequestForAGuestThePrimaryDoesNotHoldIsRefusedAndEndsNothingElse() {
    var p = new ProtectionRules.Progress();
    Protection s = protectedState(REQUEST);
    var unknown = answer(s, "a").setOk(false).setErrorKind(ErrorKind.ERROR_UNKNOWN_GUEST)
        .setError("unknown guest g on host a").build();
    s = apply(s, ProtectionRules.onReply(s, p, unknown));
    assertEquals(ProtectionState.UNPROTECTED, s.state());
    assertTrue(s.reason().contains("unknown guest g"), s.reason());
  }

  @Test
  void aHostNeverReachedAndNotRegisteredEndsTheRequestAHostReachedDoesNot() {
    Protection s = protectedState(REQUEST);
    Protection ended = apply(s, ProtectionRules.onHostNotFound(s, new ProtectionRules.Progress(), "b", "is not registered"));
    assertEquals(ProtectionState.UNPROTECTED, ended.state());
    assertTrue(ended.reason().contains("host b is not registered"), ended.reason());
    Protection reached = s.apply(ProtectionEvent.newBuilder().setLocated(org.livemig.messages.HostLocated.newBuilder()
        .setHost("b").setAddress("akka://livemig@127.0.0.1:2552")).build());
    assertEquals("akka://livemig@127.0.0.1:2552", reached.address("b"));
    assertTrue(ProtectionRules.onHostNotFound(reached, new ProtectionRules.Progress(), "b", "is not registered").events().isEmpty(),
        "only its watch or its node leaving the membership says it is gone");
  }

  @Test
  void aMistypedSecondaryEndsTheRequestAndDoesNotBlockTheNextOne() {
    var p = new ProtectionRules.Progress();
    Protection s = protectedState(REQUEST.toBuilder().setSecondaryHost("x").build());
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setDescribed(GuestDescription.newBuilder().setGuestId("g")).build()));
    s = apply(s, ProtectionRules.onHostNotFound(s, p, "x", "is not registered"));
    assertEquals(ProtectionState.UNPROTECTED, s.state());
    assertEquals(List.of(), owed(s, p, "x"), "a host never found owes no answer");
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setEnded(true).build()));
    assertEquals(2, apply(s, ProtectionRules.protect(s, p, "g", REQUEST)).generation());
  }

  @Test
  void aGuestGoneFromThePrimaryBeforeItsReplicationStartedEndsTheRequest() {
    var p = new ProtectionRules.Progress();
    Protection s = protectedState(REQUEST);
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "a").setDescribed(GuestDescription.newBuilder().setGuestId("g")).build()));
    s = apply(s, ProtectionRules.onReply(s, p, answer(s, "b").setCookie(SecondaryCookie.newBuilder().setToken("t")).build()));
    // Migrated away (or powered off) between Describe and StartPrimary: nothing was protected.
    var gone = answer(s, "a").setOk(false).setErrorKind(ErrorKind.ERROR_UNKNOWN_GUEST).setError("unknown guest g").build();
    s = apply(s, ProtectionRules.onReply(s, p, gone));
    assertEquals(ProtectionState.UNPROTECTED, s.state(), s.reason());
  }

  @Test
  void theFailedOverOwnerTokenNamesTheDecision() {
    var p = new ProtectionRules.Progress();
    Protection s = replicating(REQUEST, p);
    s = apply(s, ProtectionRules.onHostLost(s, p, "a"));
    var failover = ProtectionRules.pending(s, p).get(0).command().getFailover();
    assertEquals("protection:g:1:" + s.epoch(), failover.getOwnerToken());
  }
}
