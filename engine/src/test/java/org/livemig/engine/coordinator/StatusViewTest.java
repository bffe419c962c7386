package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.PerformResult;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;
import org.livemig.messages.StartMigration;

/**
 * The status a progress line polls: rounds and bytes transferred never go back, and the dirty
 * rate is the guest's, from the first sample on (not 0 until a round is persisted).
 */
class StatusViewTest {
  static final long MIB = 1 << 20;

  private MigrationState s = active();
  private final Unpersisted u = new Unpersisted();

  private static MigrationState active() {
    GuestDescription g = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(65536).build();
    MigrationState s = MigrationState.EMPTY.apply(Events.requested(StartMigration.newBuilder().setMigrationId("m")
        .setGuestId("g").setSourceHost("host-a").setDestinationHost("host-b").build(),
        MigrationParameters.newBuilder().setDowntimeLimitMs(300).build(), 1));
    s = s.apply(Events.begun(BeginCookie.newBuilder().setGuest(g).setSourceHost("host-a").build()));
    return s.apply(Events.prepared(PrepareCookie.newBuilder().setDataHost("127.0.0.1").setDataPort(7000)
        .setToken("t").setDestinationHost("host-b").build()));
  }

  /** A mid-round sample, taken in round (as the source numbers them: the round on the wire). */
  private static ProgressReport sample(int round, long transferred, long dirtyRate) {
    return ProgressReport.newBuilder().setMigrationId("m").setEpoch(1).setTransferredBytes(transferred)
        .setRemainingBytes(256 * MIB - transferred).setTotalBytes(256 * MIB)
        .setRound(RoundStats.newBuilder().setRound(round).setBandwidthBytesPerSecond(250_000_000)
            .setDirtyRateBytesPerSecond(dirtyRate))
        .build();
  }

  private static RoundStats round(int n, long bytes, long dirtyPagesAfter, long dirtyRate) {
    return RoundStats.newBuilder().setRound(n).setBytesSent(bytes).setPagesSent(bytes / 4096)
        .setDirtyPagesAfter(dirtyPagesAfter).setDirtyRateBytesPerSecond(dirtyRate)
        .setBandwidthBytesPerSecond(250_000_000).setExpectedDowntimeMs(2000).build();
  }

  private static ProgressReport roundDone(RoundStats r, long transferred) {
    return ProgressReport.newBuilder().setMigrationId("m").setEpoch(1).setRound(r).setTransferredBytes(transferred)
        .setRemainingBytes(r.getDirtyPagesAfter() * 4096).setTotalBytes(256 * MIB).setRoundDone(true).build();
  }

  /** The coordinator's handling of a report, journal writes included; then what a status query shows. */
  private MigrationInfo report(ProgressReport p) {
    Decision d = Phases.onProgress(s, u, p, Long.MAX_VALUE); // one round persisted, later ones only shown
    for (CoordinatorEvent e : d.events) s = s.apply(e);
    return StatusView.info(s, u);
  }

  @Test
  void theSourcesShareOfItsHostsLinkIsShownFromItsLastReport() {
    assertEquals(0, StatusView.info(s, u).getBandwidthShareBytesPerSecond(), "not copying yet");
    assertEquals(24_000_000, report(sample(1, 40 * MIB, 0).toBuilder().setBandwidthShareBytesPerSecond(24_000_000)
        .build()).getBandwidthShareBytesPerSecond());
    assertEquals(12_000_000, report(sample(1, 50 * MIB, 0).toBuilder().setBandwidthShareBytesPerSecond(12_000_000)
        .build()).getBandwidthShareBytesPerSecond(), "another migration started on the host: half the link");
  }

  @Test
  void roundsAndBytesNeverGoBackAndTheDirtyRateIsShownLive() {
    List<MigrationInfo> shown = new ArrayList<>();
    assertEquals(256 * MIB, StatusView.info(s, u).getRemainingBytes(), "before the first page, all of it remains");
    shown.add(report(sample(1, 40 * MIB, 18_000_000)));
    shown.add(report(roundDone(round(1, 256 * MIB, 4000, 15_000_000), 256 * MIB)));
    shown.add(report(sample(2, 270 * MIB, 17_000_000)));
    shown.add(report(roundDone(round(2, 16 * MIB, 3000, 16_000_000), 272 * MIB))); // shown, not persisted
    shown.add(report(sample(2, 271 * MIB, 16_500_000))); // late: taken in round 2 before its report
    shown.add(report(sample(3, 280 * MIB, 19_000_000)));

    assertEquals(1, s.rounds().size(), "only the first round's report was written");
    for (int k = 1; k < shown.size(); k++) {
      MigrationInfo before = shown.get(k - 1), now = shown.get(k);
      assertTrue(now.getRounds() >= before.getRounds(), "rounds went back at report " + k + ": " + before.getRounds()
          + " then " + now.getRounds());
      assertTrue(now.getTransferredBytes() >= before.getTransferredBytes(), "transferred went back at report " + k);
    }
    assertEquals(2, shown.get(3).getRounds(), "a round reported done counts before it is persisted");
    assertEquals(272 * MIB, shown.get(3).getTransferredBytes());
    assertEquals(3000 * 4096, shown.get(3).getRemainingBytes());
    assertEquals(16_000_000, shown.get(4).getDirtyRateBytesPerSecond(), "a stale sample does not replace the round");
    for (MigrationInfo i : shown) assertTrue(i.getDirtyRateBytesPerSecond() > 0, "dirty rate shown: " + i);
    assertEquals(18_000_000, shown.get(0).getDirtyRateBytesPerSecond(), "from the first sample on");
    assertEquals(19_000_000, shown.get(5).getDirtyRateBytesPerSecond());
  }

  @Test
  void theFinalCopysReportDoesNotShowAsARoundOfTheRunningGuest() {
    report(roundDone(round(1, 256 * MIB, 4000, 15_000_000), 256 * MIB));
    MigrationInfo stunned = report(roundDone(round(2, 16 * MIB, 0, 0), 272 * MIB).toBuilder().setFinalCopy(true).build());
    assertEquals(15_000_000, stunned.getDirtyRateBytesPerSecond(), "the rate the guest dirtied at while it ran");
    assertEquals(272 * MIB, stunned.getTransferredBytes());
  }

  @Test
  void afterTheSwitchoverTheDirtyRateIsTheLastRunningRoundsNotTheStunnedCopys() {
    report(roundDone(round(1, 256 * MIB, 4000, 15_000_000), 256 * MIB));
    RoundStats last = round(2, 16 * MIB, 300, 16_000_000);
    RoundStats finalCopy = round(3, 1_200_000, 0, 0);
    s = s.apply(Events.performed(PerformResult.newBuilder().addRounds(round(1, 256 * MIB, 4000, 15_000_000))
        .addRounds(last).addRounds(finalCopy).setTotalBytes(274 * MIB).setTotalPages(274 * 256).build()));
    MigrationInfo i = StatusView.info(s, u);
    assertEquals(3, i.getRounds());
    assertEquals(274 * MIB, i.getTransferredBytes());
    assertEquals(0, i.getRemainingBytes());
    assertEquals(16_000_000, i.getDirtyRateBytesPerSecond());
  }
}
