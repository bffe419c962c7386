package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.livemig.engine.coordinator.Admission.Claim;
import org.livemig.engine.coordinator.Admission.Limits;

/** Which queued migrations start, as a table of queues, running migrations and limits. */
class AdmissionTest {
  private static Claim m(String id, String source, String destination) {
    return new Claim(id, source, destination);
  }

  private static List<String> granted(List<Claim> queue, List<Claim> active, Limits limits) {
    return Admission.grants(queue, active, limits).stream().map(Claim::migrationId).toList();
  }

  @Test
  void atMostMaxOutboundLeaveOneHost() {
    List<Claim> queue = List.of(m("1", "a", "b"), m("2", "a", "c"), m("3", "a", "d"));
    assertEquals(List.of("1", "2"), granted(queue, List.of(), new Limits(2, 0, 0)));
    assertEquals(List.of("1"), granted(queue, List.of(m("0", "a", "x")), new Limits(2, 0, 0)));
    assertEquals(List.of(), granted(queue, List.of(m("0", "a", "x"), m("00", "a", "y")), new Limits(2, 0, 0)));
  }

  @Test
  void atMostMaxInboundArriveAtOneHost() {
    List<Claim> queue = List.of(m("1", "a", "z"), m("2", "b", "z"), m("3", "c", "z"));
    assertEquals(List.of("1", "2"), granted(queue, List.of(), new Limits(0, 2, 0)));
    assertEquals(List.of(), granted(queue, List.of(m("0", "x", "z"), m("00", "y", "z")), new Limits(0, 2, 0)));
  }

  @Test
  void theClusterLimitCountsRunningMigrations() {
    List<Claim> queue = List.of(m("1", "a", "b"), m("2", "c", "d"), m("3", "e", "f"));
    assertEquals(List.of("1", "2"), granted(queue, List.of(m("0", "x", "y")), new Limits(0, 0, 3)));
    assertEquals(List.of(), granted(queue, List.of(m("0", "x", "y")), new Limits(0, 0, 1)));
  }

  @Test
  void zeroMeansNoLimit() {
    List<Claim> queue = List.of(m("1", "a", "b"), m("2", "a", "b"), m("3", "a", "b"));
    assertEquals(List.of("1", "2", "3"), granted(queue, List.of(m("0", "a", "b")), new Limits(0, 0, 0)));
  }

  @Test
  void queuedMigrationsStartInRequestOrder() {
    List<Claim> queue = List.of(m("3", "a", "b"), m("1", "a", "c"), m("2", "a", "d"));
    assertEquals(List.of("3"), granted(queue, List.of(), new Limits(1, 0, 0)));
  }

  @Test
  void aBusyHostDoesNotHoldBackALaterMigrationBetweenFreeHosts() {
    // 1 waits for a's outbound slot, 2 for b's inbound one; 3 (c -> d) starts anyway.
    List<Claim> queue = List.of(m("1", "a", "x"), m("2", "y", "b"), m("3", "c", "d"), m("4", "a", "d"));
    List<Claim> active = List.of(m("0", "a", "b"));
    assertEquals(List.of("3"), granted(queue, active, new Limits(1, 1, 0)));
  }

  @Test
  void aMigrationWaitingForTwoBusyHostsIsNotStarvedByLaterOnesTakingEachSlotInTurn() {
    // 1 (a -> b) is first; a's outbound slot is free, b's inbound one is taken. The later 2 needs a,
    // the later 3 needs b: each would take the slot 1 waits for, again and again. They wait behind
    // it; 4, on hosts nobody ahead of it waits for, starts.
    List<Claim> queue = List.of(m("1", "a", "b"), m("2", "a", "c"), m("3", "e", "b"), m("4", "f", "g"));
    Limits oneEach = new Limits(1, 1, 0);
    assertEquals(List.of("4"), granted(queue, List.of(m("0", "x", "b")), oneEach));
    assertEquals(List.of("1", "4"), granted(queue, List.of(), oneEach), "b freed: 1 goes first");
  }

  @Test
  void theClusterLimitStopsAtTheFirstThatFitsOnlyAfterTheEarlierOnes() {
    // Skipping a busy host still grants in order: with one cluster slot left, the first that fits gets it.
    List<Claim> queue = List.of(m("1", "a", "x"), m("2", "c", "d"), m("3", "e", "f"));
    assertEquals(List.of("2"), granted(queue, List.of(m("0", "a", "b")), new Limits(1, 0, 2)));
  }

  @Test
  void aMigrationWithinOneHostTakesItsOutboundAndInboundSlotOnce() {
    List<Claim> queue = List.of(m("1", "a", "a"), m("2", "a", "b"), m("3", "c", "a"));
    // a's one outbound and one inbound slot both go to 1; 2 and 3 wait.
    assertEquals(List.of("1"), granted(queue, List.of(), new Limits(1, 1, 0)));
    // With two each way, 1 counts once each way: 2 and 3 fit beside it.
    assertEquals(List.of("1", "2", "3"), granted(queue, List.of(), new Limits(2, 2, 0)));
  }

  @Test
  void grantsCountEachOtherWithinOneDecision() {
    List<Claim> queue = List.of(m("1", "a", "b"), m("2", "a", "c"), m("3", "d", "b"));
    assertEquals(List.of("1"), granted(queue, List.of(), new Limits(1, 1, 0)));
  }

  @Test
  void negativeLimitsAreRefusedWithTheirNames() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Limits(-1, 2, 8));
    assertTrue(e.getMessage().contains("max-outbound-per-host = -1"), e.getMessage());
  }

  @Test
  void theStateKeepsRequestOrderAndMovesGrantsOutOfTheQueue() {
    var requested = org.livemig.messages.AdmissionEvent.newBuilder();
    Admission.State s = Admission.State.EMPTY;
    for (Claim c : List.of(m("1", "a", "b"), m("2", "a", "c"), m("3", "a", "d"))) {
      s = s.apply(requested.clone().setRequested(c.toProto()).build());
    }
    s = s.apply(requested.clone().setRequested(m("1", "a", "b").toProto()).build()); // repeated: once
    s = s.apply(org.livemig.messages.AdmissionEvent.newBuilder().setGranted("2").build());
    assertEquals(List.of("1", "3"), s.queue().stream().map(Claim::migrationId).toList());
    assertEquals(2, s.position("3"));
    assertTrue(s.granted().containsKey("2"));
    s = s.apply(org.livemig.messages.AdmissionEvent.newBuilder().setReleased(
        org.livemig.messages.AdmissionReleased.newBuilder().setMigrationId("2")).build());
    assertEquals(Admission.State.fromProto(s.toProto()), s);
    assertTrue(!s.knows("2"));
  }

  @Test
  void aQueuedMigrationIsInNoPhaseUntilAdmittedAndACancelEndsItAtOnce() {
    var request = org.livemig.messages.StartMigration.newBuilder().setMigrationId("m").setGuestId("g")
        .setSourceHost("a").setDestinationHost("b").build();
    var params = org.livemig.messages.MigrationParameters.getDefaultInstance();
    MigrationState queued = MigrationState.EMPTY.apply(Events.requested(request, params, 1, true));
    assertEquals(org.livemig.messages.MigrationStatus.QUEUED, queued.status());
    assertEquals(org.livemig.messages.Phase.PHASE_NONE, queued.phase());
    assertTrue(queued.started() && !queued.ended());

    MigrationState admitted = queued.apply(Events.admitted());
    assertEquals(org.livemig.messages.MigrationStatus.SETUP, admitted.status());
    assertEquals(org.livemig.messages.Phase.BEGIN, admitted.phase());

    MigrationState cancelled = queued.apply(Events.cancelledWhileQueued("not now"));
    assertEquals(org.livemig.messages.MigrationStatus.CANCELLED, cancelled.status());
    assertTrue(cancelled.ended());
    // A journal from before admission control: Begin at once, as it always did.
    assertEquals(org.livemig.messages.MigrationStatus.SETUP,
        MigrationState.EMPTY.apply(Events.requested(request, params, 1)).status());
  }
}
