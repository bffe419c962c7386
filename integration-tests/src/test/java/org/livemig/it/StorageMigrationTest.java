package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
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
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.guest.disk.MirrorFaults.Phase;
import org.livemig.engine.host.HostSettings;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * Non-shared storage (copy_storage): each host's "local" datastore is its own directory. The
 * destination creates the disk's file in Prepare; the source copies it over the disk stream with
 * a mirror in the guest's write path (the guest writing at queue depth 16), READY before the
 * memory; the mirror goes at the switchover; Confirm deletes the source's file. Every failure
 * before the switchover leaves the guest on its source file, every acknowledged write there,
 * and the destination's file deleted. Two coordinator nodes: one is crashed mid-copy; host-b is
 * killed mid-copy in the last test.
 */
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class StorageMigrationTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = TestCluster.withCoordinators(dir, 2, Map.of(), Map.of(
        "host-a", Map.of("livemig.host.datastores.local", dir.resolve("a").toString(),
            "livemig.host.run-state-log", dir.resolve("a-run-states.log").toString()),
        "host-b", Map.of("livemig.host.datastores.local", dir.resolve("b").toString())));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  private static GuestDescription withDisk(String id) {
    return withDisk(id, 16, 500);
  }

  /** A guest of mib MiB dirtying dirtyPagesPerSecond, with a 16 MiB disk writing 1000 blocks a second. */
  private static GuestDescription withDisk(String id, long mib, long dirtyPagesPerSecond) {
    return TestCluster.guest(id, mib, dirtyPagesPerSecond).toBuilder().addDisks(DiskDescription.newBuilder().setDiskId("root")
        .setDatastore("local").setBlockCount(4096).setQueueDepth(16).setWritesPerSecond(1000).setReadsPerMille(250))
        .build();
  }

  private static Path file(String host, String guest) {
    return dir.resolve(host.equals("host-a") ? "a" : "b").resolve(guest).resolve("root.img");
  }

  /** A guest writing on host-a (created with these mirror faults in force there for its migration). */
  private static MigratableGuest runningOnA(GuestDescription d, MirrorFaults faults) throws Exception {
    CrashScenario.setFaults(cluster.hosts.get("host-a"), HostSettings.Faults.mirror(faults));
    cluster.createGuest("host-a", d);
    MigratableGuest g = cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
    awaitWrites(g, 100);
    return g;
  }

  private static MigrationInfo migrate(GuestDescription d, MigrationParameters p) throws Exception {
    try {
      String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", p.toBuilder().setCopyStorage(true).build())
          .toCompletableFuture().get(10, TimeUnit.SECONDS).getMigrationId();
      return cluster.awaitEnd(id, Duration.ofSeconds(60));
    } finally {
      CrashScenario.setFaults(cluster.hosts.get("host-a"), HostSettings.Faults.none());
    }
  }

  @Test
  void aWriteBlockingCopyMovesTheDiskWithTheRunningGuest() throws Exception {
    GuestDescription d = withDisk("copy-wb");
    runningOnA(d, MirrorFaults.none());
    MigrationInfo done = migrate(d, MigrationParameters.getDefaultInstance());

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertOnBAndTheSourceFileGone(d);
    DiskMoveStatus disk = done.getDisks(0);
    assertEquals("write-blocking", disk.getMode());
    assertTrue(disk.getPhasesList().containsAll(List.of("BULK_COPY", "INSTALL_MIRROR", "READY", "PIVOT",
        "AWAIT_COMMIT", "CLOSE_SOURCE")), "the disk's path: " + disk.getPhasesList());
    // As Confirm's answer has it, not the last progress report's.
    assertEquals("DONE", disk.getPhase());
    assertEquals("COMPLETED", disk.getOutcome());
    // The disk pivoted before the vCPUs stopped: the stun found nothing in flight to wait for.
    assertEquals(List.of("READY", "STUN", "PIVOT", "AWAIT_COMMIT", "UNSTUN", "CLOSE_SOURCE", "DONE"),
        disk.getPhasesList().subList(disk.getPhasesList().indexOf("READY"), disk.getPhasesCount()));
    assertEquals(0, done.getBlackout().getDiskRequestsInFlightAtStun(), done.getBlackout().toString());
    assertTrue(done.getBlackout().getDiskPivotUs() > 0, done.getBlackout().toString());
  }

  @Test
  void aBackgroundCopyConvergesWhenTheLinkOutrunsTheWrites() throws Exception {
    GuestDescription d = withDisk("copy-bg");
    runningOnA(d, MirrorFaults.none());
    MigrationInfo done = migrate(d, MigrationParameters.newBuilder().setStorageMode("background").build());

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertEquals("background", done.getDisks(0).getMode());
    assertEquals(0, done.getDisks(0).getMirroredWrites(), "a background mirror sends no guest write itself");
    assertOnBAndTheSourceFileGone(d);
  }

  @Test
  void theDestinationFullDuringTheCopyFailsTheMigrationBeforeTheMirror() throws Exception {
    GuestDescription d = withDisk("copy-full");
    runningOnA(d, new MirrorFaults(Phase.NONE, Phase.COPY, Phase.NONE));
    MigrationInfo done = migrate(d, MigrationParameters.getDefaultInstance());

    assertEquals(MigrationStatus.FAILED, done.getStatus());
    assertTrue(done.getError().contains("no space left"), done.getError());
    assertOnAWithEveryWrite(d);
  }

  @Test
  void aTargetWriteErrorAfterTheMirrorStunsForCleanupAndTheGuestStays() throws Exception {
    GuestDescription d = withDisk("copy-err");
    runningOnA(d, new MirrorFaults(Phase.MIRROR, Phase.NONE, Phase.NONE));
    MigrationInfo done = migrate(d, MigrationParameters.getDefaultInstance());

    assertEquals(MigrationStatus.FAILED, done.getStatus());
    assertTrue(done.getError().contains("I/O error"), done.getError());
    assertOnAWithEveryWrite(d);
  }

  /**
   * The pivot fails (the destination's copy cannot be made durable): the disk pivots before the
   * vCPUs stop, so the migration fails with the guest never paused, its disk unstunned and
   * writing on, every acknowledged write on its own file.
   */
  @Test
  void aFailedPivotFailsTheMigrationBeforeTheStunAndTheGuestNeverStops() throws Exception {
    GuestDescription d = withDisk("copy-pivot");
    runningOnA(d, new MirrorFaults(Phase.PIVOT, Phase.NONE, Phase.NONE));
    MigrationInfo done = migrate(d, MigrationParameters.getDefaultInstance());
    // Read before the checks below, which pause the guest to verify its disk.
    List<String> states = Files.readAllLines(dir.resolve("a-run-states.log")).stream()
        .filter(l -> l.contains(" " + d.getGuestId() + " ")).toList();

    assertEquals(MigrationStatus.FAILED, done.getStatus());
    assertTrue(done.getError().contains("at the pivot"), done.getError());
    List<String> path = done.getDisks(0).getPhasesList();
    assertEquals(List.of("READY", "STUN", "PIVOT", "REMOVE_MIRROR", "CLOSE_TARGET", "UNSTUN", "DONE"),
        path.subList(path.indexOf("READY"), path.size()));
    assertTrue(states.stream().anyMatch(l -> l.endsWith(" RUNNING")), "the log has the guest: " + states);
    assertTrue(states.stream().noneMatch(l -> l.endsWith(" PAUSED")), "never paused: " + states);
    assertOnAWithEveryWrite(d);
  }

  /**
   * Starts a migration capped at 2 MB/s, whose bulk copy of a disk of 400 written blocks or more
   * takes most of a second at least (never-written blocks are skipped, not paced), and returns its
   * id once the status shows the copy.
   */
  private static String startSlowCopy(GuestDescription d) throws Exception {
    awaitWrites(cluster.guestOn("host-a", d.getGuestId()).orElseThrow(), 400);
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", MigrationParameters.newBuilder()
        .setCopyStorage(true).setMaxBandwidthBytesPerSecond(2_000_000).build()).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cluster.client.status(id).toCompletableFuture().get(5, TimeUnit.SECONDS).getDisksList().stream()
        .noneMatch(s -> s.getPhase().equals("BULK_COPY") && s.getCopiedBytes() > 0)) {
      if (System.nanoTime() > deadline) throw new AssertionError("the bulk copy never showed in the status");
      Thread.sleep(50);
    }
    return id;
  }

  @Test
  @org.junit.jupiter.api.Order(1)
  void theCoordinatorsNodeCrashesMidCopyAndTheMigrationCompletes() throws Exception {
    GuestDescription d = withDisk("copy-crash", 4, 50); // a small memory, dirtied slower than the cap
    runningOnA(d, MirrorFaults.none());
    String id = startSlowCopy(d);
    var running = cluster.coordinatorOf(id).orElseThrow();
    cluster.crash(running);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(90));

    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    org.junit.jupiter.api.Assertions.assertNotSame(running, cluster.coordinatorOf(id).orElseThrow(), "a survivor finished it");
    assertOnBAndTheSourceFileGone(d);
  }

  @Test
  @org.junit.jupiter.api.Order(Integer.MAX_VALUE) // host-b is gone after it
  void theDestinationHostDiesMidCopyAndTheGuestStaysOnItsSource() throws Exception {
    GuestDescription d = withDisk("copy-host-lost", 4, 50); // a small memory, dirtied slower than the cap
    runningOnA(d, MirrorFaults.none());
    String id = startSlowCopy(d);
    cluster.kill("host-b");
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(90));

    assertEquals(MigrationStatus.FAILED, done.getStatus(), done.getError());
    MigratableGuest source = cluster.assertExactlyOneRunningOn("host-a", d);
    awaitWrites(source, source.disks().get(0).getWrites() + 50);
    DiskVerification v = verifyDisk(source);
    assertEquals(0, v.getMismatches(), "no acknowledged write lost: " + v);
    // host-b's half-made file stays until host-b starts again (StorageProcessFailureTest).
  }

  /** Starts a migration capped at 4 MB/s and returns its id once memory goes with the disk READY. */
  private static String startUntilTheMemoryCopies(GuestDescription d) throws Exception {
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", MigrationParameters.newBuilder()
        .setCopyStorage(true).setMaxBandwidthBytesPerSecond(4_000_000).build()).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      MigrationInfo i = cluster.client.status(id).toCompletableFuture().get(5, TimeUnit.SECONDS);
      if (i.getTransferredBytes() > 0 && i.getDisksList().stream().anyMatch(x -> x.getPhase().equals("READY"))) break;
      if (System.nanoTime() > deadline) throw new AssertionError("never copied memory with the disk READY: " + i);
      Thread.sleep(50);
    }
    return id;
  }

  @Test
  void aCancelWhileTheMemoryCopiesUnstunsTheDiskAndTheGuestCanMigrateAgain() throws Exception {
    GuestDescription d = withDisk("copy-ready", 32, 50);
    runningOnA(d, MirrorFaults.none());
    // The disk is READY within seconds (write-blocking mirror installed); 32 MiB of memory then take 8 s.
    String id = startUntilTheMemoryCopies(d);
    cluster.client.cancel(id, "cancelled while the memory copies").toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.CANCELLED, done.getStatus(), done.getError());
    assertOnAWithEveryWrite(d); // writing again: not left stunned by the mirror's cleanup

    // Nothing of the first attempt stays in the disk's write path: a second one goes through.
    MigrationInfo again = migrate(d, MigrationParameters.getDefaultInstance());
    assertEquals(MigrationStatus.COMPLETED, again.getStatus(), again.getError());
    assertOnBAndTheSourceFileGone(d);
  }

  @Test
  void aCancelDuringTheBulkCopyRollsBack() throws Exception {
    GuestDescription d = withDisk("copy-cancel", 4, 50); // a small memory, dirtied slower than the cap
    runningOnA(d, MirrorFaults.none());
    String id = startSlowCopy(d);
    cluster.client.cancel(id, "cancelled by the test").toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));

    assertEquals(MigrationStatus.CANCELLED, done.getStatus(), done.getError());
    assertOnAWithEveryWrite(d);
  }

  /**
   * Powered off while the memory copies, its disk READY with the write-blocking mirror in its
   * write path: only the coordinator decides that nobody resumes the guest; the migration ends
   * CANCELLED (POWERED_OFF), the mirror removed, the destination's file deleted, the guest off.
   */
  @Test
  void aPowerOffDuringTheMigrationCancelsItWithTheGuestOff() throws Exception {
    GuestDescription d = withDisk("copy-off", 16, 50);
    MigratableGuest source = runningOnA(d, MirrorFaults.none());
    String id = startUntilTheMemoryCopies(d);
    var answer = cluster.client.powerOff(d.getGuestId(), "powered off by the test").toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
    assertEquals(id, answer.getMigrationId(), "the migration powers it off: " + answer);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));

    assertEquals(MigrationStatus.CANCELLED, done.getStatus(), done.getError());
    assertEquals(org.livemig.messages.ErrorKind.ERROR_POWERED_OFF, done.getErrorKind(), done.getError());
    assertEquals(RunState.DESTROYED, source.state(), "nobody resumed it");
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "nothing of it on host-b");
    // The rollback's Discard and Confirm leave together: the destination's Discard may end the
    // source's perform, and so clean the move up, before Confirm's power off reaches it. Either
    // way the mirror goes and the target closes; the guest is off by Confirm (asserted above).
    List<String> path = done.getDisks(0).getPhasesList();
    List<String> tail = path.subList(Math.max(0, path.indexOf("READY")), path.size());
    assertTrue(tail.equals(List.of("READY", "POWER_OFF", "REMOVE_MIRROR", "CLOSE_TARGET", "DONE"))
        || tail.equals(List.of("READY", "STUN_FOR_CLEANUP", "POWER_OFF", "REMOVE_MIRROR", "CLOSE_TARGET", "DONE"))
        || tail.equals(List.of("READY", "STUN_FOR_CLEANUP", "REMOVE_MIRROR", "CLOSE_TARGET", "UNSTUN", "DONE")),
        "the disk's path: " + path);
    assertTrue(Files.exists(file("host-a", d.getGuestId())), "its own file stays");
    DiskVerification v = source.verifyDisks().get(0); // closed with the guest: read again from its file
    assertEquals(0, v.getMismatches(), "no acknowledged write lost: " + v);
    assertTrue(v.getWrites() > 0, v.toString());
    awaitGone(file("host-b", d.getGuestId()), "the destination's file, deleted in its cleanup");
    awaitNothingOpen(d, List.of());
    // Not migrating any more: the host answers a second power off itself, the guest off already.
    assertEquals("DESTROYED", cluster.client.powerOff(d.getGuestId(), "again").toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getGuestState());
  }

  /** The guest runs on host-b only, on host-b's own file; host-a's file is deleted; the disk is the oracle's. */
  private static void assertOnBAndTheSourceFileGone(GuestDescription d) throws Exception {
    MigratableGuest dest = cluster.assertExactlyOneRunningOn("host-b", d);
    awaitGone(file("host-a", d.getGuestId()), "the source's file, deleted after Confirm");
    assertTrue(Files.exists(file("host-b", d.getGuestId())), "the destination runs on its own file");
    assertEquals(file("host-b", d.getGuestId()), dest.disk("root").file().path());
    long handedOver = dest.disks().get(0).getWrites();
    awaitWrites(dest, handedOver + 50);
    DiskVerification v = verifyDisk(dest);
    assertEquals(0, v.getMismatches(), "every acknowledged write of host-a is in host-b's copy: " + v);
    assertEquals(0, v.getOwnershipViolations(), v.toString());
    assertTrue(v.getWrites() > handedOver, "writes of both hosts checked: " + v);
    assertNothingLeftOpen(d, "host-b");
  }

  /** The guest runs on host-a only, on its own file, every acknowledged write there; host-b kept nothing. */
  private static void assertOnAWithEveryWrite(GuestDescription d) throws Exception {
    MigratableGuest source = cluster.assertExactlyOneRunningOn("host-a", d);
    assertEquals(RunState.RUNNING, source.state());
    awaitGone(file("host-b", d.getGuestId()), "the destination's file, deleted in its cleanup");
    awaitWrites(source, source.disks().get(0).getWrites() + 50);
    DiskVerification v = verifyDisk(source);
    assertEquals(0, v.getMismatches(), "no acknowledged write lost: " + v);
    assertEquals(0, v.getOwnershipViolations(), v.toString());
    assertNothingLeftOpen(d, "host-a");
  }

  /**
   * Of this guest's files, only the one it runs on is open in this JVM (both hosts live here), and
   * no thread of its disk moves or disk stream is left.
   */
  private static void assertNothingLeftOpen(GuestDescription d, String runsOn) throws Exception {
    awaitNothingOpen(d, List.of(file(runsOn, d.getGuestId())));
  }

  /** Of this guest's files only these are open, and no thread of its disk moves or disk stream is left. */
  private static void awaitNothingOpen(GuestDescription d, List<Path> mine) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      List<Path> open = openFilesOf(d.getGuestId());
      boolean threads = Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("move-"
          + d.getGuestId() + "-"));
      if (open.equals(mine) && !threads) return;
      if (System.nanoTime() > deadline) {
        throw new AssertionError("left open: files " + open + " (expected only " + mine + "), move threads " + threads);
      }
      Thread.sleep(20);
    }
  }

  private static List<Path> openFilesOf(String guest) throws java.io.IOException {
    try (var fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.map(fd -> {
        try {
          return Files.readSymbolicLink(fd);
        } catch (java.io.IOException e) {
          return null; // closed since the listing
        }
      }).filter(p -> p != null && p.startsWith(dir) && p.getParent().getFileName().toString().equals(guest))
          .distinct().toList(); // a disk may hold two descriptors: one O_DSYNC for durable writes
    }
  }

  /** Files go after the migration's answer (unlinking a large file can take seconds). */
  private static void awaitGone(Path f, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Files.exists(f)) {
      if (System.nanoTime() > deadline) throw new AssertionError(what + " is still there: " + f);
      Thread.sleep(20);
    }
  }

  private static void awaitWrites(MigratableGuest g, long writes) throws InterruptedException {
    TestCluster.awaitDiskWrites(g, writes);
  }

  /** Pauses the guest, drains its requests, checks the disk, runs it again. */
  private static DiskVerification verifyDisk(MigratableGuest g) throws Exception {
    g.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
    try {
      g.drain().toCompletableFuture().get(10, TimeUnit.SECONDS);
      return g.verifyDisks().get(0);
    } finally {
      g.run(g.ownerToken());
    }
  }
}
