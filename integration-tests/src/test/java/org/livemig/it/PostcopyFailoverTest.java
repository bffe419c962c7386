package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;


import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.LivemigNode;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * What postcopy does when a whole process goes: the coordinator's node (the journal brings the
 * paused migration back and a recovery still works), the destination host (FAILED, said plainly,
 * the stale source never resumed), the source host (the destination says how many pages are
 * lost and stays paused for an operator).
 */
class PostcopyFailoverTest {
  @TempDir Path dir;
  TestCluster cluster;
  LinkProxy proxy;

  @AfterEach
  void down() throws Exception {
    if (cluster != null) cluster.close();
    if (proxy != null) proxy.close();
  }

  private String startPostcopy(int coordinators, GuestDescription d) throws Exception {
    proxy = LinkProxy.onFreePorts();
    cluster = new TestCluster(dir, coordinators, TestCluster.hostBBehind(proxy), null);
    cluster.createGuest("host-a", d);
    MigrationParameters p = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(4_000_000)
        .setPostcopyAfterRounds(1).setPostcopyKeepaliveMs(500).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
    cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_ACTIVE, Duration.ofSeconds(30));
    Thread.sleep(300);
    return id;
  }

  /**
   * The link goes first (postcopy pauses), so the push cannot finish while the host's node is
   * leaving; then the host goes.
   */
  private void cutThenKill(String id, String host) throws Exception {
    proxy.cut();
    cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_PAUSED, Duration.ofSeconds(30));
    cluster.kill(host);
  }

  @Test
  void coordinatorCrashWhilePausedThenRecovery() throws Exception {
    GuestDescription d = TestCluster.guest("pc-coord-crash", 16, 3000);
    String id = startPostcopy(2, d);
    proxy.cut();
    MigrationInfo paused = cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_PAUSED,
        Duration.ofSeconds(30));
    LivemigNode running = cluster.coordinatorOf(id).orElseThrow();
    cluster.crash(running);
    // No timeout ends a paused postcopy, a takeover included: the new incarnation replays it paused.
    MigrationInfo replayed = cluster.awaitStatus(id, i -> i.getEpoch() > paused.getEpoch(), Duration.ofSeconds(90));
    assertEquals(MigrationStatus.POSTCOPY_PAUSED, replayed.getStatus(), replayed.toString());
    assertTrue(replayed.getPostcopy());
    cluster.client.recover(id).toCompletableFuture().get(15, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    var result = JournalEvents.of(dir, id).stream().filter(CoordinatorEvent::hasPostcopyCompleted).findFirst()
        .orElseThrow().getPostcopyCompleted().getResult();
    assertEquals(0, result.getDuplicatePages());
    assertEquals(1, cluster.cleanupRuns("host-a").get(id));
    assertEquals(1, cluster.cleanupRuns("host-b").get(id));
  }

  @Test
  void destinationHostLostFailsAndTheStaleSourceIsNeverResumed() throws Exception {
    GuestDescription d = TestCluster.guest("pc-dest-lost", 16, 3000);
    String id = startPostcopy(1, d);
    cutThenKill(id, "host-b");
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.FAILED, done.getStatus());
    assertTrue(done.getError().contains("destination host host-b") && done.getError().contains("never resumed"),
        done.getError());
    // The source closes its postcopy channel (nobody is left to serve), once, and keeps its copy paused.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cluster.cleanupRuns("host-a").get(id) == null && System.nanoTime() < deadline) {
      Thread.sleep(50); // the cleanup runs on the source host after the journal write
    }
    assertEquals(1, cluster.cleanupRuns("host-a").get(id), "the source's postcopy role was cleaned up once");
    MigratableGuest source = cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
    assertEquals(RunState.PAUSED, source.state(), "the stale source stays paused");
    assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("postcopy-")
        && t.getName().contains(id)), "no postcopy thread of the migration is left");
  }

  @Test
  void sourceHostLostLeavesTheDestinationPausedWithThePagesLost() throws Exception {
    GuestDescription d = TestCluster.guest("pc-source-lost", 16, 3000);
    String id = startPostcopy(1, d);
    cutThenKill(id, "host-a");
    MigrationInfo paused = cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_PAUSED
        && i.getPostcopyPausedReason().contains("source host host-a"), Duration.ofSeconds(30));
    assertTrue(paused.getPostcopyPagesMissing() > 0, paused.toString());
    assertTrue(paused.getPostcopyPausedReason().contains("can never arrive"), paused.getPostcopyPausedReason());
    MigratableGuest g = cluster.guestOn("host-b", d.getGuestId()).orElseThrow();
    assertEquals(RunState.RUNNING, g.state(), "the destination keeps the guest, its faults waiting");
    Thread.sleep(3000);
    MigrationInfo later = cluster.client.status(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(MigrationStatus.POSTCOPY_PAUSED, later.getStatus(), "no timeout ends it: an operator decides");
  }
}
