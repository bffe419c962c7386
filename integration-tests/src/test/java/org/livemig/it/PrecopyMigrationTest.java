package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;

/** A running guest moves between two hosts of a real cluster, verified byte for byte. */
class PrecopyMigrationTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of(), "host-b", Map.of()));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  @Test
  void aLiveGuestMigratesAndMatchesTheOracle() throws Exception {
    GuestDescription d = TestCluster.guest("vm-live", 64, 5000);
    cluster.createGuest("host-a", d);
    Thread.sleep(200); // let the workload dirty memory before the first round
    MigrationInfo started = cluster.client.start(d.getGuestId(), "host-a", "host-b",
        MigrationParameters.getDefaultInstance()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(started.getMigrationId(), Duration.ofSeconds(60));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertEquals(ResumeOwner.DESTINATION, done.getResumeOwner());
    assertTrue(done.getDowntimeMs() >= 0, "downtime measured");
    assertTrue(done.getTransferredBytes() >= 64L << 20, "at least the whole guest was sent");
    assertTrue(done.getRounds() >= 2, "precopy ran rounds of dirty pages: " + done.getRounds());
    cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    assertEquals(1, cluster.cleanupRuns("host-a").get(started.getMigrationId()));
    assertEquals(1, cluster.cleanupRuns("host-b").get(started.getMigrationId()));
    assertEquals(List.of(Phase.BEGIN, Phase.PREPARE, Phase.PERFORM, Phase.FINISH, Phase.CONFIRM),
        journalPhases(started.getMigrationId()), "the journal holds the phases in order");
  }

  /** libvirt keeps a paused domain paused: it arrives paused, and a cancelled migration leaves it paused. */
  @Test
  void aPausedGuestArrivesPausedAndACancelLeavesItPaused() throws Exception {
    GuestDescription d = TestCluster.guest("vm-paused", 16, 3000);
    cluster.createGuest("host-a", d);
    cluster.guestOn("host-a", d.getGuestId()).orElseThrow().pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(cluster.client.start(d.getGuestId(), "host-a", "host-b",
        MigrationParameters.getDefaultInstance()).toCompletableFuture().get(10, TimeUnit.SECONDS).getMigrationId(),
        Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    var arrived = cluster.guestOn("host-b", d.getGuestId()).orElseThrow();
    assertEquals(org.livemig.engine.guest.RunState.PAUSED, arrived.state(), "the copy arrives paused");
    var v = new org.livemig.engine.guest.GuestOracle(d).verify(arrived.memory(), arrived.steps());
    assertTrue(v.matches(), v.toString());
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");

    // Back, slowly, and cancelled mid-copy: the source's copy stays paused, as it was.
    String id = cluster.client.start(d.getGuestId(), "host-b", "host-a", MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(4_000_000).build()).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getTransferredBytes() > 0, Duration.ofSeconds(30));
    cluster.client.cancel(id, "changed plans").toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(MigrationStatus.CANCELLED, cluster.awaitEnd(id, Duration.ofSeconds(30)).getStatus());
    assertEquals(org.livemig.engine.guest.RunState.PAUSED,
        cluster.guestOn("host-b", d.getGuestId()).orElseThrow().state(), "a rollback does not start a paused guest");
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the destination's copy was discarded");
  }

  @Test
  void aGuestDirtyingFasterThanTheLinkConvergesThroughThrottling() throws Exception {
    // About 80 MB/s of writes against a 16 MB/s link: precopy alone never converges.
    GuestDescription d = TestCluster.guest("vm-hot", 16, 20000).toBuilder().setHotPages(4096).build();
    cluster.createGuest("host-a", d);
    MigrationParameters p = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(16_000_000)
        .setDowntimeLimitMs(50).setMaxRoundsBeforeThrottle(2).setThrottleInitialPercent(50)
        .setThrottleIncrementPercent(20).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    MigrationInfo throttled = cluster.awaitStatus(id, i -> i.getThrottlePercent() > 0
        || i.getStatus() == MigrationStatus.COMPLETED || i.getStatus() == MigrationStatus.FAILED, Duration.ofSeconds(60));
    assertTrue(throttled.getThrottlePercent() >= 50, "the status shows the throttle while it runs: " + throttled);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(90));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    int firstThrottled = -1;
    for (var r : done.getRoundHistoryList()) {
      if (r.getThrottlePercent() > 0) {
        firstThrottled = r.getRound();
        break;
      }
    }
    assertTrue(firstThrottled > 2, "throttling starts only after the configured rounds: " + done.getRoundHistoryList());
    cluster.assertExactlyOneRunningOn("host-b", d);
  }

  @Test
  void aDowntimeLimitBelowTheControlPathSwitchesOverWithoutThrottlingTheGuestToTheMaximum() throws Exception {
    // 1 ms is less than the control path alone (a journal write and four hops): precopy can never
    // converge, and once the copy left is at its floor a throttled guest would gain nothing, so the
    // source switches over then instead of slowing the guest to the maximum (99%) first. Whether
    // the floor comes after the first round or after a throttled one depends on the pages the
    // guest dirtied meanwhile, so only the maximum is ruled out.
    GuestDescription d = TestCluster.guest("vm-strict", 8, 2000);
    cluster.createGuest("host-a", d);
    MigrationParameters p = MigrationParameters.newBuilder().setDowntimeLimitMs(1).setMaxRoundsBeforeThrottle(1)
        .setThrottleInitialPercent(50).setThrottleIncrementPercent(49).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getRoundHistory(done.getRoundHistoryCount() - 1).getThrottlePercent() < 99,
        "it switched over before throttling the guest to the maximum: " + done.getRoundHistoryList());
    assertTrue(done.getDowntimeMs() > 1, "the limit was indeed below the control path: " + done.getDowntimeMs());
    cluster.assertExactlyOneRunningOn("host-b", d);
  }

  @Test
  void aRaisedBandwidthCapTakesEffectWhileTheCopyRuns() throws Exception {
    GuestDescription d = TestCluster.guest("vm-capped", 16, 1000);
    cluster.createGuest("host-a", d);
    // At 1 MB/s the first round alone needs more than 16 s.
    MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(1_000_000).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", slow).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    cluster.awaitStatus(id, i -> i.getTransferredBytes() > 0, Duration.ofSeconds(20));
    MigrationInfo changed = cluster.client.setParameters(id, 1_000_000_000L, null).toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
    assertEquals(1_000_000_000L, changed.getParameters().getMaxBandwidthBytesPerSecond());
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getTotalTimeMs() < 15_000, "the raised cap applied mid-copy: " + done.getTotalTimeMs() + " ms");
    assertTrue(JournalEvents.of(dir, id).stream().anyMatch(CoordinatorEvent::hasParametersChanged),
        "the change is in the journal");
    cluster.assertExactlyOneRunningOn("host-b", d);
  }

  static List<Phase> journalPhases(String migrationId) throws Exception {
    return JournalEvents.of(dir, migrationId).stream().filter(CoordinatorEvent::hasPhaseCompleted)
        .map(e -> e.getPhaseCompleted().getPhase()).toList();
  }
}
