package org.livemig.engine.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.RunStateListener;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.guest.disk.Datastores;
import org.livemig.engine.guest.disk.DiskFaults;
import org.livemig.engine.guest.disk.DiskMirror.Mode;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.guest.disk.MirrorFaults.Phase;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;

/**
 * Moving a running guest's disk between two datastores of one host (real files, the guest
 * writing at queue depth 16): each path of the state machine, the disk against its oracle
 * afterwards, the guest running on exactly one of the files, no file handle or thread left.
 */
class DiskMoveTest {
  static final ActorTestKit kit = ActorTestKit.create();
  static final MoveSettings SETTINGS = new MoveSettings(64 * 1024, 30, Duration.ofSeconds(5), 10);

  @TempDir Path dir;
  private SyntheticGuest guest;

  @AfterAll
  static void stopKit() {
    kit.shutdownTestKit();
  }

  @AfterEach
  void destroyGuest() {
    if (guest != null) guest.destroy();
  }

  private Datastores datastores() {
    return new Datastores(Map.of("fast", dir.resolve("fast"), "slow", dir.resolve("slow")));
  }

  private SyntheticGuest runningGuest(String id, long blocks, long writesPerSecond) {
    return runningGuest(id, blocks, writesPerSecond, DiskFaults.none());
  }

  private SyntheticGuest runningGuest(String id, long blocks, long writesPerSecond, DiskFaults faults) {
    GuestDescription d = GuestDescription.newBuilder().setGuestId(id).setPageSize(4096).setPageCount(64).setSeed(11)
        .setDirtyPagesPerSecond(200).setHotPages(16).setHotPerMille(800).setInitialFill(InitialFill.FILL_PATTERN)
        .addDisks(DiskDescription.newBuilder().setDiskId("root").setDatastore("fast").setBlockCount(blocks)
            .setQueueDepth(16).setWritesPerSecond(writesPerSecond).setReadsPerMille(300))
        .build();
    GuestDisks.Created c = GuestDisks.create(d, "host-a", datastores(), faults);
    guest = SyntheticGuest.create(c.description(), "t", RunStateListener.NONE, c.disks());
    guest.run("t");
    return guest;
  }

  private Path file(String datastore) {
    DiskDescription d = guest.description().getDisks(0).toBuilder().setDatastore(datastore).build();
    return datastores().file("host-a", guest.description().getGuestId(), d);
  }

  private record Move(ActorRef<StorageMoveActor.Command> actor, TestProbe<StorageMoveActor.Report> ended) {
    DiskMoveStatus status() {
      TestProbe<DiskMoveStatus> p = kit.createTestProbe();
      actor.tell(new StorageMoveActor.GetStatus(p.getRef()));
      return p.receiveMessage(Duration.ofSeconds(5));
    }

    DiskMoveStatus awaitEnd() {
      return ended.fishForMessage(Duration.ofSeconds(60), r -> r.ended()
          ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete() : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore())
          .get(0).status();
    }
  }

  private Move move(Mode mode, long bytesPerSecond, boolean autoPivot, MirrorFaults faults, MoveSettings settings) {
    TestProbe<StorageMoveActor.Report> ended = kit.createTestProbe();
    var target = new MoveTarget.Local(guest.description().getGuestId(), "slow", file("slow"), "new-identity");
    var request = new StorageMoveActor.Request(guest, guest.disk("root"), target, mode, bytesPerSecond, autoPivot);
    return new Move(kit.spawn(StorageMoveActor.create(request, settings, faults, ended.getRef())), ended);
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(5);
    }
  }

  private long writes() {
    return guest.disks().get(0).getWrites();
  }

  /** Files under the datastores this process holds open. */
  private List<Path> openFiles() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.map(fd -> {
        try {
          return Files.readSymbolicLink(fd);
        } catch (IOException e) {
          return null; // closed since the listing
        }
      }).filter(p -> p != null && p.startsWith(dir)).distinct().toList(); // a disk may hold two: one O_DSYNC
    }
  }

  private void assertNoMoveThreadLeft() throws InterruptedException {
    await(() -> Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("move-")),
        "the move's thread to end");
  }

  /** The guest keeps running on its disk after the move and the disk holds exactly what the oracle says. */
  private void assertRunsAndVerifies() throws Exception {
    long before = writes();
    await(() -> writes() > before + 100, "the guest writing after the move");
    guest.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    guest.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    List<DiskVerification> v = guest.verifyDisks();
    assertEquals(0, v.get(0).getMismatches(), "disk against its oracle: " + v);
    assertEquals(0, v.get(0).getOwnershipViolations(), "disk against its oracle: " + v);
    assertTrue(v.get(0).getWrites() > 100, "the check covers the guest's writes: " + v);
  }

  private void assertPath(DiskMoveStatus s, String phases) {
    assertEquals(List.of(phases.split(" ")), s.getPhasesList(), "path: " + s);
  }

  @Test
  void writeBlockingMoveWithTheGuestWriting() throws Exception {
    runningGuest("wb", 2048, 2000);
    await(() -> writes() > 200, "writes before the move");
    Move m = move(Mode.WRITE_BLOCKING, 0, false, MirrorFaults.none(), SETTINGS);
    await(() -> m.status().getReady(), "READY");
    long inSync = writes();
    // Held in READY while the guest writes on: every one of these goes to both sides, or the
    // target misses it and the oracle finds the block stale after the pivot.
    await(() -> writes() > inSync + 500, "500 writes while READY");
    m.actor().tell(new StorageMoveActor.Pivot());
    DiskMoveStatus s = m.awaitEnd();
    assertEquals("COMPLETED", s.getOutcome(), s.toString());
    assertTrue(s.getMirroredWrites() >= 500, s.toString());
    assertPath(s, "CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT UNSTUN CLOSE_SOURCE DONE");
    assertEquals("target", s.getDiskFile());
    assertEquals("slow", guest.description().getDisks(0).getDatastore(), "the guest's description names the new datastore");
    assertFalse(Files.exists(file("fast")), "the source file is deleted after the pivot");
    assertEquals(List.of(file("slow")), openFiles(), "only the target is open");
    assertTrue(s.getCopiedBytes() >= s.getTotalBytes(), s.toString());
    assertNoMoveThreadLeft();
    assertRunsAndVerifies();
  }

  @Test
  void backgroundMoveConvergesWhenTheCopyOutrunsTheWrites() throws Exception {
    runningGuest("bg", 2048, 500);
    DiskMoveStatus s = move(Mode.BACKGROUND, 0, true, MirrorFaults.none(), SETTINGS).awaitEnd();
    assertEquals("COMPLETED", s.getOutcome(), s.toString());
    assertPath(s, "CREATE_TARGET BULK_COPY SYNC READY STUN PIVOT UNSTUN CLOSE_SOURCE DONE");
    assertEquals(0, s.getMirroredWrites(), "a background mirror writes nothing of the guest's to the target");
    assertRunsAndVerifies();
  }

  @Test
  void targetFullDuringTheCopyCleansUpAndTheGuestNeverNoticed() throws Exception {
    runningGuest("full", 2048, 1000);
    DiskMoveStatus s = move(Mode.WRITE_BLOCKING, 0, true, new MirrorFaults(Phase.NONE, Phase.COPY, Phase.NONE), SETTINGS)
        .awaitEnd();
    assertEquals("FAILED", s.getOutcome());
    assertTrue(s.getReason().contains("no space left"), s.getReason());
    assertPath(s, "CREATE_TARGET BULK_COPY REMOVE_MIRROR CLOSE_TARGET DONE");
    assertFalse(Files.exists(file("slow")), "the target file is deleted");
    assertEquals(List.of(file("fast")), openFiles(), "only the source is open");
    assertEquals(RunState.RUNNING, guest.state());
    assertEquals("fast", guest.description().getDisks(0).getDatastore());
    assertNoMoveThreadLeft();
    assertRunsAndVerifies();
  }

  @Test
  void targetWriteErrorAfterTheMirrorStunsForCleanupAndLosesNoWrite() throws Exception {
    runningGuest("mirror-err", 2048, 2000);
    DiskMoveStatus s = move(Mode.WRITE_BLOCKING, 0, false, new MirrorFaults(Phase.MIRROR, Phase.NONE, Phase.NONE),
        SETTINGS).awaitEnd();
    assertEquals("FAILED", s.getOutcome());
    assertTrue(s.getReason().contains("I/O error"), s.getReason());
    assertTrue(s.getPhasesList().containsAll(List.of("STUN_FOR_CLEANUP", "REMOVE_MIRROR", "CLOSE_TARGET", "UNSTUN")),
        "stunned for cleanup, unstunned after: " + s.getPhasesList());
    assertFalse(s.getPhasesList().contains("PIVOT"));
    assertFalse(Files.exists(file("slow")));
    assertEquals(List.of(file("fast")), openFiles());
    assertNoMoveThreadLeft();
    assertRunsAndVerifies();
  }

  @Test
  void sourceReadErrorFailsTheMove() throws Exception {
    runningGuest("read-err", 2048, 1000);
    DiskMoveStatus s = move(Mode.WRITE_BLOCKING, 0, true, new MirrorFaults(Phase.NONE, Phase.NONE, Phase.COPY), SETTINGS)
        .awaitEnd();
    assertEquals("FAILED", s.getOutcome());
    assertTrue(s.getReason().contains("reading the source"), s.getReason());
    assertPath(s, "CREATE_TARGET BULK_COPY REMOVE_MIRROR CLOSE_TARGET DONE");
    assertRunsAndVerifies();
  }

  @Test
  void cancelInBulkCopyAndInReady() throws Exception {
    runningGuest("cancel", 2048, 1000);
    await(() -> writes() > 300, "300 written blocks: a second of copying at 256 KiB/s (never-written ones are skipped)");
    Move slow = move(Mode.WRITE_BLOCKING, 256 * 1024, true, MirrorFaults.none(), SETTINGS);
    await(() -> slow.status().getPhase().equals("BULK_COPY") && slow.status().getCopiedBytes() > 0, "the bulk copy");
    slow.actor().tell(new StorageMoveActor.Cancel("cancelled by the test"));
    DiskMoveStatus s = slow.awaitEnd();
    assertEquals("CANCELLED", s.getOutcome());
    assertPath(s, "CREATE_TARGET BULK_COPY REMOVE_MIRROR CLOSE_TARGET DONE");
    assertTrue(s.getCopiedBytes() < s.getTotalBytes(), "stopped before the end: " + s);

    Move waiting = move(Mode.WRITE_BLOCKING, 0, false, MirrorFaults.none(), SETTINGS);
    await(() -> waiting.status().getReady(), "READY");
    assertTrue(waiting.status().getMirroredWrites() > 0 || writes() == 0, "writes mirrored while READY");
    waiting.actor().tell(new StorageMoveActor.Cancel("cancelled in READY"));
    s = waiting.awaitEnd();
    assertEquals("CANCELLED", s.getOutcome());
    assertPath(s, "CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN_FOR_CLEANUP REMOVE_MIRROR CLOSE_TARGET UNSTUN DONE");
    assertEquals(List.of(file("fast")), openFiles());
    assertNoMoveThreadLeft();
    assertRunsAndVerifies();
  }

  @Test
  void powerOffDuringTheCopyLeavesTheGuestOffOnItsSource() throws Exception {
    runningGuest("off", 2048, 1000);
    await(() -> writes() > 300, "300 written blocks: a second of copying at 256 KiB/s");
    Move m = move(Mode.WRITE_BLOCKING, 256 * 1024, true, MirrorFaults.none(), SETTINGS);
    await(() -> m.status().getCopiedBytes() > 0, "the bulk copy");
    m.actor().tell(new StorageMoveActor.PowerOff());
    DiskMoveStatus s = m.awaitEnd();
    assertEquals("CANCELLED", s.getOutcome());
    assertTrue(s.getGuestOff());
    assertPath(s, "CREATE_TARGET BULK_COPY POWER_OFF REMOVE_MIRROR CLOSE_TARGET DONE");
    assertEquals(RunState.DESTROYED, guest.state(), "nothing resumes");
    assertTrue(Files.exists(file("fast")), "the powered-off guest's disk stays");
    assertFalse(Files.exists(file("slow")));
    assertEquals(List.of(), openFiles(), "every file closed");
    var v = guest.verifyDisks().get(0); // read from the file opened again
    assertEquals(0, v.getMismatches(), "no acknowledged write lost: " + v);
    assertEquals(List.of(), openFiles(), "the check closed what it opened");
    assertNoMoveThreadLeft();
  }

  @Test
  void powerOffWhileTheCopyWaitsBehindAHungWriteStillEnds() throws Exception {
    // The first write hangs and holds its block until the disk closes; the copy reaches that block and waits.
    runningGuest("hung", 2048, 1000, new DiskFaults(Duration.ZERO, Duration.ZERO, null, 0, null));
    Move m = move(Mode.WRITE_BLOCKING, 0, true, MirrorFaults.none(), SETTINGS);
    await(() -> m.status().getCopiedBytes() > 0, "the bulk copy");
    m.actor().tell(new StorageMoveActor.PowerOff());
    DiskMoveStatus s = m.awaitEnd();
    assertEquals("CANCELLED", s.getOutcome(), s.toString());
    assertPath(s, "CREATE_TARGET BULK_COPY POWER_OFF REMOVE_MIRROR CLOSE_TARGET DONE");
    assertEquals(RunState.DESTROYED, guest.state());
    assertEquals(List.of(), openFiles());
    assertNoMoveThreadLeft();
  }

  @Test
  void writesFasterThanTheCopyConvergeWriteBlockingButNotBackground() throws Exception {
    runningGuest("fast-writer", 256, 3000); // 1 MiB rewritten over and over, copied at 1 MB/s
    MoveSettings strict = new MoveSettings(16 * 4096, 2, Duration.ofSeconds(5), 10);
    DiskMoveStatus bg = move(Mode.BACKGROUND, 1024 * 1024, true, MirrorFaults.none(), strict).awaitEnd();
    assertEquals("FAILED", bg.getOutcome(), bg.toString());
    assertTrue(bg.getReason().contains("does not converge"), bg.getReason());
    assertPath(bg, "CREATE_TARGET BULK_COPY SYNC REMOVE_MIRROR CLOSE_TARGET DONE");

    DiskMoveStatus wb = move(Mode.WRITE_BLOCKING, 1024 * 1024, true, MirrorFaults.none(), strict).awaitEnd();
    assertEquals("COMPLETED", wb.getOutcome(), wb.toString());
    assertTrue(wb.getMirroredWrites() > 0, wb.toString());
    assertRunsAndVerifies();
  }
}
