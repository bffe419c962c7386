package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.LivemigNode;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.disk.DiskFaults;
import org.livemig.engine.host.HostSettings;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * Guests with disks on a shared datastore (one directory both hosts see, as NFS would): memory
 * migrates, the disks stay, the requests in flight at the stun drain before the device state is
 * taken, and the disk then holds every acknowledged write and nothing a host wrote when it no
 * longer owned the guest. Disk faults are set on host-a before each guest is created (they apply
 * to the disks a host opens). Two coordinator nodes: the last test crashes one during a drain.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedStorageTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    String shared = dir.resolve("shared").toString();
    cluster = TestCluster.withCoordinators(dir, 2, Map.of(), Map.of(
        "host-a", Map.of("livemig.host.datastores.shared", shared),
        "host-b", Map.of("livemig.host.datastores.shared", shared)));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  private static GuestDescription withDisk(String id, long blocks, int queueDepth, long writesPerSecond) {
    return TestCluster.guest(id, 16, 500).toBuilder().addDisks(DiskDescription.newBuilder().setDiskId("root")
        .setDatastore("shared").setBlockCount(blocks).setQueueDepth(queueDepth).setWritesPerSecond(writesPerSecond)
        .setReadsPerMille(250)).build();
  }

  /** Creates the guest on host-a with these disk faults. */
  private static MigratableGuest createOnA(GuestDescription d, DiskFaults faults) throws Exception {
    CrashScenario.setFaults(cluster.hosts.get("host-a"), HostSettings.Faults.disk(faults));
    cluster.createGuest("host-a", d);
    CrashScenario.setFaults(cluster.hosts.get("host-a"), HostSettings.Faults.none());
    return cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
  }

  /**
   * A running guest on host-a whose first disk write hangs; many blocks, so that other writes
   * rarely wait behind it (one request per block at a time).
   */
  private static GuestDescription withHungWriteOnA(String id) throws Exception {
    GuestDescription d = withDisk(id, 65536, 16, 500);
    awaitWrites(createOnA(d, new DiskFaults(Duration.ZERO, Duration.ZERO, null, 0, null)), 50);
    return d;
  }

  private static String start(GuestDescription d, MigrationParameters p) throws Exception {
    return cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
  }

  @Test
  @Order(1)
  void aGuestWithRequestsInFlightMigratesOnSharedStorageAndItsDiskMatchesTheOracle() throws Exception {
    GuestDescription d = withDisk("vm-disk", 4096, 32, 2000);
    MigratableGuest source = createOnA(d, DiskFaults.none().withWriteDelay(Duration.ofMillis(10)));
    awaitWrites(source, 200); // 10 ms writes at queue depth 32: the queue is busy when the stun comes
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.getDefaultInstance()), Duration.ofSeconds(60));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getBlackout().getDiskRequestsInFlightAtStun() > 0, "requests were in flight at the stun: " + done);
    assertTrue(done.getBlackout().getDrainUs() > 0, "and the switchover waited for them: " + done.getBlackout());
    assertTrue(done.getBlackout().getStunUs() > 0 && done.getBlackout().getUnleashUs() > 0, done.getBlackout().toString());
    assertTrue(done.getSourceTeardownUs() > 0, "the source's teardown is measured, after the switchover");
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    assertDiskWritesOnAsTheNextOwner(dest);
  }

  @Test
  @Order(2)
  void aHungRequestFailsTheMigrationBeforeTheSwitchoverAndTheGuestRunsOnTheSource() throws Exception {
    GuestDescription d = withHungWriteOnA("vm-hung");
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.newBuilder().setDrainTimeoutMs(1000).build()),
        Duration.ofSeconds(60));

    assertEquals(MigrationStatus.FAILED, done.getStatus());
    assertTrue(done.getError().contains("drain did not finish within 1000 ms"), done.getError());
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "the destination copy is discarded");
    assertSourceRunsWithItsDiskIntact(d);
  }

  @Test
  @Order(3)
  void aCancelDuringTheDrainResumesTheGuestAtOnce() throws Exception {
    GuestDescription d = withHungWriteOnA("vm-cancel");
    MigratableGuest source = cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
    String id = start(d, MigrationParameters.newBuilder().setDrainTimeoutMs(60_000).setStallTimeoutMs(120_000).build());
    awaitPaused(source); // stunned, draining: the hung request holds the drain
    cluster.client.cancel(id, "operator cancel during the drain").toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(30)); // well before the 60 s drain timeout

    assertEquals(MigrationStatus.CANCELLED, done.getStatus(), done.getError());
    assertSourceRunsWithItsDiskIntact(d);
  }

  @Test
  @Order(4)
  void writeErrorsDuringPrecopyTravelWithTheGuest() throws Exception {
    GuestDescription d = withDisk("vm-errors", 4096, 8, 1000);
    MigratableGuest source = createOnA(d, new DiskFaults(Duration.ZERO, null, Duration.ofMillis(300), 20, null));
    awaitWrites(source, 50);
    // Capped: precopy lasts seconds, during which the 20 failing writes come.
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(8_000_000).build()), Duration.ofSeconds(60));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    assertEquals(20, dest.disks().get(0).getWriteErrors(), "the errors the guest saw arrived with its device state");
    assertDiskWritesOnAsTheNextOwner(dest);
  }

  @Test
  @Order(5)
  void aDiskThatFillsUpDuringPrecopyStaysFullOnTheDestination() throws Exception {
    GuestDescription d = withDisk("vm-full", 4096, 8, 1000);
    MigratableGuest source = createOnA(d, new DiskFaults(Duration.ZERO, null, null, 0, Duration.ofMillis(500)));
    awaitWrites(source, 50);
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(8_000_000).build()), Duration.ofSeconds(60));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(dest.disks().get(0).getFull(), "no space left: the guest learnt it on the source and still knows");
    long writes = dest.disks().get(0).getWrites();
    long steps = dest.steps();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (dest.steps() < steps + 500 && System.nanoTime() < deadline) Thread.sleep(10); // its CPU runs on
    assertEquals(writes, dest.disks().get(0).getWrites(), "a full disk takes no more writes on the destination");
    DiskVerification v = verifyDisk(dest);
    assertEquals(0, v.getMismatches(), v.toString());
    assertEquals(0, v.getOwnershipViolations(), v.toString());
  }

  @Test
  @Order(6)
  void postcopyWithADiskOnSharedStorage() throws Exception {
    GuestDescription d = withDisk("vm-postcopy", 4096, 16, 1000);
    MigratableGuest source = createOnA(d, DiskFaults.none().withWriteDelay(Duration.ofMillis(5)));
    awaitWrites(source, 100);
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.newBuilder().setPostcopyAfterRounds(1).build()),
        Duration.ofSeconds(60));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getPostcopy(), "switched to postcopy");
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    assertDiskWritesOnAsTheNextOwner(dest);
  }

  @Test
  @Order(7)
  void aDrainTimeoutNotBelowTheStallTimeoutIsRefusedAtStart() throws Exception {
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
        () -> cluster.client.start("vm-disk", "host-b", "host-a", MigrationParameters.newBuilder()
            .setDrainTimeoutMs(5000).setStallTimeoutMs(5000).build()).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("drain_timeout_ms (5000 ms) must be below the stall timeout"),
        e.getCause().getMessage());
  }

  @Test
  @Order(8)
  void theCoordinatorsNodeCrashesDuringTheDrainAndTheMigrationCompletes() throws Exception {
    // 1.5 s writes: a drain at the stun takes that long, long enough to crash the coordinator's node in it.
    GuestDescription d = withDisk("vm-crash", 4096, 8, 100);
    MigratableGuest source = createOnA(d, DiskFaults.none().withWriteDelay(Duration.ofMillis(1500)));
    awaitWrites(source, 8);
    // The drain may take seconds here, the takeover more: neither the drain timeout nor the silent
    // channels' stall timeout may end it first.
    String id = start(d, MigrationParameters.newBuilder().setDowntimeLimitMs(5000).setDrainTimeoutMs(20_000)
        .setStallTimeoutMs(30_000).build());
    awaitPaused(source);
    LivemigNode running = cluster.coordinatorOf(id).orElseThrow();
    cluster.crash(running);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(90));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertNotSame(running, cluster.coordinatorOf(id).orElseThrow(), "the survivor finished it");
    assertTrue(done.getBlackout().getDrainUs() > 0, done.getBlackout().toString());
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    DiskVerification v = verifyDisk(dest);
    assertEquals(0, v.getMismatches(), "no write lost or late across the takeover: " + v);
    assertEquals(0, v.getOwnershipViolations(), v.toString());
  }

  /** The destination writes the shared file as the next owner; then both hosts' writes are checked. */
  private static void assertDiskWritesOnAsTheNextOwner(MigratableGuest dest) throws Exception {
    long handedOver = dest.disks().get(0).getWrites();
    awaitWrites(dest, handedOver + 50);
    DiskVerification v = verifyDisk(dest);
    assertEquals(0, v.getMismatches(), "every acknowledged write is on the shared disk, none landed late: " + v);
    assertEquals(0, v.getOwnershipViolations(), "no block written by host-a after it handed the guest on: " + v);
    assertTrue(v.getWrites() > handedOver, "writes of both hosts checked: " + v);
    assertEquals(0, dest.disks().get(0).getReadMismatches(), "every read saw a whole block of this disk");
  }

  private static void assertSourceRunsWithItsDiskIntact(GuestDescription d) throws Exception {
    MigratableGuest stillHere = cluster.assertExactlyOneRunningOn("host-a", d);
    assertEquals(RunState.RUNNING, stillHere.state());
    awaitWrites(stillHere, stillHere.disks().get(0).getWrites() + 50); // its disk workload goes on
    DiskVerification v = verifyDisk(stillHere);
    assertEquals(0, v.getMismatches(), "no acknowledged write lost (the hung one never was): " + v);
    assertTrue(stillHere.disks().get(0).getInFlight() >= 1, "the hung request is still outstanding");
  }

  private static void awaitPaused(MigratableGuest g) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (g.state() != RunState.PAUSED) {
      if (System.nanoTime() > deadline) throw new AssertionError("the source never stunned the guest");
      Thread.sleep(2);
    }
  }

  private static void awaitWrites(MigratableGuest g, long writes) throws InterruptedException {
    TestCluster.awaitDiskWrites(g, writes);
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
