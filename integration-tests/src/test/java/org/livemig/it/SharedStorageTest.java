package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * Guests with disks on a shared datastore (one directory all three hosts see, as NFS would):
 * memory migrates, the disks stay, the requests in flight at the stun drain before the device
 * state is taken, and the destination's disk then holds every acknowledged write and nothing a
 * host wrote when it no longer owned the guest.
 */
class SharedStorageTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    String shared = dir.resolve("shared").toString();
    cluster = new TestCluster(dir, Map.of(
        "host-a", Map.of("livemig.host.datastores.shared", shared, "livemig.host.faults.disk.write-delay", "10ms"),
        "host-b", Map.of("livemig.host.datastores.shared", shared),
        // host-c's first disk write never completes.
        "host-c", Map.of("livemig.host.datastores.shared", shared, "livemig.host.faults.disk.hang-write-after", "0s")));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  private static GuestDescription withDisk(String id, long blocks) {
    return TestCluster.guest(id, 32, 2000).toBuilder().addDisks(DiskDescription.newBuilder().setDiskId("root")
        .setDatastore("shared").setBlockCount(blocks).setQueueDepth(32).setWritesPerSecond(2000).setReadsPerMille(250))
        .build();
  }

  @Test
  void aGuestWithRequestsInFlightMigratesOnSharedStorageAndItsDiskMatchesTheOracle() throws Exception {
    GuestDescription d = withDisk("vm-disk", 4096);
    cluster.createGuest("host-a", d);
    MigratableGuest source = cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
    awaitWrites(source, 200); // 10 ms writes at queue depth 32: the queue is busy when the stun comes
    MigrationInfo started = cluster.client.start(d.getGuestId(), "host-a", "host-b",
        MigrationParameters.getDefaultInstance()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(started.getMigrationId(), Duration.ofSeconds(60));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getBlackout().getDiskRequestsInFlightAtStun() > 0, "requests were in flight at the stun: " + done);
    assertTrue(done.getBlackout().getDrainUs() > 0, "and the switchover waited for them: " + done.getBlackout());
    assertTrue(done.getBlackout().getStunUs() > 0 && done.getBlackout().getUnleashUs() > 0, done.getBlackout().toString());
    assertTrue(done.getSourceTeardownUs() > 0, "the source's teardown is measured, after the switchover");
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    long handedOver = dest.disks().get(0).getWrites();
    awaitWrites(dest, handedOver + 200); // the destination writes the same file as the next owner
    DiskVerification v = verifyDisk(dest);
    assertEquals(0, v.getMismatches(), "every acknowledged write is on the shared disk, none landed late: " + v);
    assertEquals(0, v.getOwnershipViolations(), "no block written by host-a after it handed the guest on: " + v);
    assertTrue(v.getWrites() > handedOver, "writes of both hosts checked: " + v);
    assertEquals(0, dest.disks().get(0).getReadMismatches(), "every read saw a whole block of this disk");
  }

  @Test
  void aHungRequestFailsTheMigrationBeforeTheSwitchoverAndTheGuestRunsOnTheSource() throws Exception {
    GuestDescription d = withDisk("vm-hung", 65536); // many blocks: other writes rarely wait behind the hung one
    cluster.createGuest("host-c", d);
    MigratableGuest source = cluster.guestOn("host-c", d.getGuestId()).orElseThrow();
    awaitWrites(source, 100);
    MigrationInfo started = cluster.client.start(d.getGuestId(), "host-c", "host-b",
        MigrationParameters.newBuilder().setDrainTimeoutMs(1000).build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(started.getMigrationId(), Duration.ofSeconds(60));

    assertEquals(MigrationStatus.FAILED, done.getStatus());
    assertTrue(done.getError().contains("drain did not finish within 1000 ms"), done.getError());
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "the destination copy is discarded");
    MigratableGuest stillHere = cluster.assertExactlyOneRunningOn("host-c", d);
    assertEquals(RunState.RUNNING, stillHere.state());
    long before = stillHere.disks().get(0).getWrites();
    awaitWrites(stillHere, before + 100); // its disk workload goes on
    DiskVerification v = verifyDisk(stillHere);
    assertEquals(0, v.getMismatches(), "no acknowledged write lost (the hung one never was): " + v);
    assertEquals(1, stillHere.disks().get(0).getInFlight() >= 1 ? 1 : 0, "the hung request is still outstanding");
  }

  private static void awaitWrites(MigratableGuest g, long writes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (g.disks().get(0).getWrites() < writes) {
      if (System.nanoTime() > deadline) throw new AssertionError("guest wrote only " + g.disks() + ", expected " + writes);
      Thread.sleep(10);
    }
  }

  /** Pauses the guest, waits for its requests in flight (but a hung one), checks the disk, runs it again. */
  private static DiskVerification verifyDisk(MigratableGuest g) throws Exception {
    g.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
    try {
      g.drain().toCompletableFuture().completeOnTimeout(null, 2, TimeUnit.SECONDS).get();
      List<DiskVerification> v = g.verifyDisks();
      assertEquals(1, v.size());
      return v.get(0);
    } finally {
      g.run(g.ownerToken());
    }
  }
}
