package org.livemig.engine.guest.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.guest.RunStateListener;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;

/** Guests with disks on one machine: the workload, the drain, device state hand-over on shared storage, faults, the oracle. */
class GuestDisksTest {
  @TempDir Path dir;

  private GuestDescription guest(String id, int queueDepth, long writesPerSecond) {
    return guest(id, queueDepth, writesPerSecond, 512);
  }

  private GuestDescription guest(String id, int queueDepth, long writesPerSecond, long blocks) {
    return GuestDescription.newBuilder().setGuestId(id).setPageSize(4096).setPageCount(256).setSeed(7)
        .setDirtyPagesPerSecond(1000).setHotPages(64).setHotPerMille(800).setInitialFill(InitialFill.FILL_PATTERN)
        .addDisks(DiskDescription.newBuilder().setDiskId("root").setDatastore("shared").setBlockCount(blocks)
            .setQueueDepth(queueDepth).setWritesPerSecond(writesPerSecond).setReadsPerMille(500))
        .build();
  }

  private Datastores shared() {
    return new Datastores(Map.of("shared", dir.resolve("shared")));
  }

  private SyntheticGuest createOn(String host, GuestDescription d, DiskFaults faults) {
    GuestDisks.Created c = GuestDisks.create(d, host, shared(), faults);
    return SyntheticGuest.create(c.description(), "t", RunStateListener.NONE, c.disks());
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(5);
    }
  }

  private static long writes(SyntheticGuest g) {
    return g.disks().get(0).getWrites();
  }

  @Test
  void aDrainedDiskMatchesItsOracleAndMovesToASecondHostOnSharedStorage() throws Exception {
    SyntheticGuest a = createOn("host-a", guest("g1", 16, 2000), DiskFaults.none().withWriteDelay(Duration.ofMillis(5)));
    a.run("t");
    await(() -> writes(a) > 300, "300 writes on host-a");
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertTrue(a.diskRequestsInFlight() > 0, "5 ms writes at queue depth 16: requests still in flight at the pause");
    assertThrows(IllegalStateException.class, a::deviceState, "no device state while requests are in flight");
    a.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertEquals(0, a.diskRequestsInFlight());
    byte[] state = a.deviceState();
    assertClean(a.verifyDisks());

    // host-b opens the same file (shared datastore), continues from the device state, writes as the next owner.
    SyntheticGuest b = SyntheticGuest.empty(a.description(), RunStateListener.NONE,
        GuestDisks.open(a.description(), "host-b", shared(), DiskFaults.none()));
    b.loadDeviceState(state);
    a.destroy();
    b.assignOwner("t");
    b.run("t");
    long handedOver = writes(b);
    await(() -> writes(b) > handedOver + 300, "300 more writes on host-b");
    b.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    b.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    List<DiskVerification> v = b.verifyDisks();
    assertClean(v);
    assertTrue(v.get(0).getWrites() > handedOver, "writes of both hosts checked: " + v);
    assertEquals(0, b.disks().get(0).getReadMismatches(), "every read saw a whole block this disk wrote");
    assertTrue(b.disks().get(0).getReads() > 0);
    b.destroy();
  }

  @Test
  void aLateWriteOfTheOldOwnerAndAWriteUnderAnotherHostsNameAreCaught() throws Exception {
    SyntheticGuest a = createOn("host-a", guest("g2", 4, 3000), DiskFaults.none());
    a.run("t");
    await(() -> writes(a) > 2000, "2000 writes");
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    a.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertClean(a.verifyDisks());
    BlockContent content = new BlockContent(7, 0, a.description().getDisks(0));
    Path file = shared().file("host-a", "g2", a.description().getDisks(0));
    long k = writes(a) - 1; // the newest write: find an older write of the same block
    long block = content.blockAt(k);
    long older = k - 1;
    while (content.blockAt(older) != block) older--;
    int hostA = BlockContent.hostHash("host-a");
    a.destroy();
    try (DiskFile f = DiskFile.open(file, "g2", "root", a.description().getDisks(0).getIdentity(), 4096, 512)) {
      ByteBuffer b = ByteBuffer.allocate(4096);
      content.fill(b, older, 0, hostA); // an older write landing late, over the newer one
      f.writeDurably(block, b);
    }
    try (DiskFile f = DiskFile.open(file, "g2", "root", a.description().getDisks(0).getIdentity(), 4096, 512)) {
      DiskState s = new DiskState(k + 1, 0, 0, 0, false, List.of(new DiskState.Owner(0, hostA, 0)), List.of());
      DiskVerification late = DiskOracle.verify("root", content, f, s);
      assertEquals(1, late.getMismatches(), "the late write shows: " + late);
      assertEquals(List.of(block), late.getFirstMismatchesList());
      ByteBuffer b = ByteBuffer.allocate(4096);
      content.fill(b, k, 0, BlockContent.hostHash("host-b")); // the right write under the wrong host
      f.writeDurably(block, b);
      DiskVerification wrongHost = DiskOracle.verify("root", content, f, s);
      assertEquals(0, wrongHost.getMismatches());
      assertEquals(1, wrongHost.getOwnershipViolations(), "a write by a host that did not own the guest: " + wrongHost);
    }
  }

  @Test
  void aHungWriteKeepsTheDrainFromCompletingAndCountsAsNotLanded() throws Exception {
    DiskFaults hang = new DiskFaults(Duration.ZERO, Duration.ZERO, null, 0, null); // the first write hangs
    // Many blocks: a write to the hung block would wait behind it (one request per block at a time).
    SyntheticGuest a = createOn("host-a", guest("g3", 8, 1000, 65536), hang);
    a.run("t");
    await(() -> writes(a) > 20, "writes after the hung one");
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    await(() -> a.diskRequestsInFlight() == 1, "the writes in flight but the hung one to complete");
    assertThrows(TimeoutException.class, () -> a.drain().toCompletableFuture().get(300, TimeUnit.MILLISECONDS));
    assertEquals(1, a.diskRequestsInFlight(), "only the hung write is left in flight");
    assertClean(a.verifyDisks()); // the hung write never landed and was never acknowledged
    a.run("t"); // the guest goes on with its request still outstanding, as a real one would
    a.destroy(); // closing the disk aborts the hung request
    assertEquals(0, a.diskRequestsInFlight());
  }

  @Test
  void writeErrorsAreSeenByTheGuestAndAFullDiskStopsItsWrites() throws Exception {
    DiskFaults faults = new DiskFaults(Duration.ZERO, null, Duration.ofMillis(20), 5, Duration.ofMillis(400));
    SyntheticGuest a = createOn("host-a", guest("g4", 8, 2000), faults);
    a.run("t");
    await(() -> a.disks().get(0).getFull() && a.diskRequestsInFlight() == 0, "the disk to fill up");
    long atFull = writes(a);
    long steps = a.steps();
    await(() -> a.steps() > steps + 200, "the guest to run on"); // its CPU runs; its disk is read-only
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    a.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertEquals(6, a.disks().get(0).getWriteErrors(), "5 I/O errors and one 'no space left'");
    assertEquals(atFull, writes(a), "no write after the disk filled up");
    assertClean(a.verifyDisks()); // failed writes left their blocks as they were
    byte[] state = a.deviceState(); // failed writes and the full flag travel with the device state
    SyntheticGuest b = SyntheticGuest.empty(a.description(), RunStateListener.NONE,
        GuestDisks.open(a.description(), "host-b", shared(), DiskFaults.none()));
    b.loadDeviceState(state);
    assertTrue(b.disks().get(0).getFull());
    assertEquals(6, b.disks().get(0).getWriteErrors());
    assertClean(b.verifyDisks());
    a.destroy();
    b.destroy();
  }

  @Test
  void badDisksAreRefusedWithTheReason() {
    GuestDescription d = guest("g5", 4, 10);
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> GuestDisks.create(d, "host-a", new Datastores(Map.of("local", dir)), DiskFaults.none()));
    assertTrue(unknown.getMessage().contains("no datastore 'shared'"), unknown.getMessage());
    GuestDisks.create(d, "host-a", shared(), DiskFaults.none()).disks().close();
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
        () -> GuestDisks.create(d, "host-a", shared(), DiskFaults.none()));
    assertTrue(twice.getMessage().contains("already exists"), twice.getMessage());
    GuestDescription other = d.toBuilder().setDisks(0, d.getDisks(0).toBuilder().setIdentity("not-this-one")).build();
    IllegalArgumentException notShared = assertThrows(IllegalArgumentException.class,
        () -> GuestDisks.open(other, "host-b", shared(), DiskFaults.none()));
    assertTrue(notShared.getMessage().contains("is not disk root"), notShared.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> GuestDisks.open(
        guest("g6", 4, 10).toBuilder().setDisks(0, d.getDisks(0).toBuilder().setIdentity("x")).build(), "host-b",
        shared(), DiskFaults.none()));
    assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    assertThrows(IllegalArgumentException.class, () -> GuestDisks.validate(d.toBuilder()
        .setDisks(0, d.getDisks(0).toBuilder().setBlockSize(1000)).build()));
    assertThrows(IllegalArgumentException.class, () -> GuestDisks.validate(d.toBuilder().addDisks(d.getDisks(0)).build()));
    assertFalse(GuestDisks.none().drain().isCompletedExceptionally());
  }

  @Test
  void aHostileDeviceStateIsRefusedWithAClearErrorAndChangesNothing() throws Exception {
    SyntheticGuest a = createOn("host-a", guest("g7", 4, 2000), DiskFaults.none());
    a.run("t");
    await(() -> writes(a) > 50, "some writes");
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    a.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    byte[] good = a.deviceState();
    SyntheticGuest b = SyntheticGuest.empty(a.description(), RunStateListener.NONE,
        GuestDisks.open(a.description(), "host-b", shared(), DiskFaults.none()));
    var before = b.disks();
    SyntheticGuest c = SyntheticGuest.empty(a.description(), RunStateListener.NONE,
        GuestDisks.open(a.description(), "host-b", shared(), DiskFaults.none()));
    java.util.Random r = new java.util.Random(42);
    int refused = 0;
    int diskSection = 242; // the disks follow the fixed part of the device state (DeviceState.LENGTH - 4 bytes)
    for (int i = 0; i < 20_000; i++) {
      byte[] bad = java.util.Arrays.copyOf(good, good.length + (r.nextInt(10) == 0 ? r.nextInt(17) - 8 : 0));
      if (bad.length < 8) continue;
      for (int f = 1 + r.nextInt(3); f > 0; f--) {
        int at = diskSection + r.nextInt(Math.max(1, bad.length - 4 - diskSection));
        bad[at] = (byte) r.nextInt(256);
      }
      // A valid checksum over the mutation: the disk section's own checks must hold the line.
      java.util.zip.CRC32 crc = new java.util.zip.CRC32();
      crc.update(bad, 0, bad.length - 4);
      ByteBuffer.wrap(bad).putInt(bad.length - 4, (int) crc.getValue());
      try {
        c.loadDeviceState(bad); // accepted ones just set other counters: c never runs
      } catch (IllegalArgumentException e) {
        refused++;
        assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
      }
    }
    c.destroy();
    assertTrue(refused > 3000, "most mutations are refused: " + refused);
    assertThrows(IllegalArgumentException.class, () -> b.loadDeviceState(java.util.Arrays.copyOf(good, good.length - 4)));
    assertEquals(before, b.disks(), "a refused device state changed nothing");
    b.loadDeviceState(good);
    assertEquals(writes(a), writes(b));
    a.destroy();
    b.destroy();
  }

  @Test
  void aFailedWriteMayHaveLandedAndAnInconsistentOwnershipHistoryIsRefused() throws Exception {
    GuestDescription d = guest("g8", 4, 10);
    GuestDisks.Created c = GuestDisks.create(d, "host-a", shared(), DiskFaults.none());
    c.disks().close();
    BlockContent content = new BlockContent(7, 0, c.description().getDisks(0));
    int hostA = BlockContent.hostHash("host-a");
    List<DiskState.Owner> owners = List.of(new DiskState.Owner(0, hostA, 0));
    long k = 5;
    long block = content.blockAt(k);
    try (DiskFile f = DiskFile.open(shared().file("host-a", "g8", c.description().getDisks(0)), "g8", "root",
        c.description().getDisks(0).getIdentity(), 4096, 512)) {
      ByteBuffer b = ByteBuffer.allocate(4096);
      for (long i = 0; i <= k; i++) {
        content.fill(b, i, 0, hostA);
        f.writeDurably(content.blockAt(i), b);
      }
      // Write k failed as the guest saw it, yet reached the block (an error after the data was written): allowed.
      DiskVerification maybe = DiskOracle.verify("root", content, f, new DiskState(k + 1, 0, 0, 1, false, owners, List.of(k)));
      assertEquals(0, maybe.getMismatches(), maybe.toString());
      // Not failed: the same block must hold exactly it; an unrelated write number there never passes.
      content.fill(b, k + 1000, 0, hostA);
      f.writeDurably(block, b);
      DiskVerification wrong = DiskOracle.verify("root", content, f, new DiskState(k + 1, 0, 0, 1, false, owners, List.of(k)));
      assertEquals(1, wrong.getMismatches(), wrong.toString());
    }
    // Generations must go up, write numbers must not go back, failed writes in order: else refused.
    for (List<DiskState.Owner> bad : List.of(
        List.of(new DiskState.Owner(1, hostA, 0), new DiskState.Owner(1, hostA, 3)),
        List.of(new DiskState.Owner(0, hostA, 4), new DiskState.Owner(1, hostA, 3)),
        List.of(new DiskState.Owner(Integer.MAX_VALUE, hostA, 0)))) {
      DiskState s = new DiskState(10, 0, 0, 0, false, bad, List.of());
      ByteBuffer buf = ByteBuffer.allocate(s.encodedLength());
      s.encode(buf);
      assertThrows(IllegalArgumentException.class, () -> DiskState.decode(buf.flip(), "root"), bad.toString());
    }
    DiskState unordered = new DiskState(10, 0, 0, 2, false, owners, List.of(7L, 3L));
    ByteBuffer buf = ByteBuffer.allocate(unordered.encodedLength());
    unordered.encode(buf);
    assertThrows(IllegalArgumentException.class, () -> DiskState.decode(buf.flip(), "root"));
  }

  @Test
  void aSourceThatRunsAgainAfterHandingItsStateOutWritesAsANewGeneration() throws Exception {
    SyntheticGuest a = createOn("host-a", guest("g9", 4, 2000), DiskFaults.none());
    a.run("t");
    await(() -> writes(a) > 50, "writes");
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    a.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    a.deviceState(); // handed to a destination that will never run (the migration rolls back)
    a.run("t");
    long back = writes(a);
    await(() -> writes(a) > back + 50, "writes after the rollback");
    a.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    a.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertClean(a.verifyDisks());
    byte[] again = a.deviceState();
    // The disk part follows the device state's 242 fixed bytes: host-a wrote as generation 0, then as 1
    // after the rollback; a copy that loaded the first state would have written as 1 on host-b, the next as 2.
    DiskState sent = DiskState.decode(ByteBuffer.wrap(again, 242, again.length - 246), "root");
    assertEquals(List.of(0, 1), sent.owners().stream().map(DiskState.Owner::generation).toList());
    assertEquals(List.of(BlockContent.hostHash("host-a"), BlockContent.hostHash("host-a")),
        sent.owners().stream().map(DiskState.Owner::hostHash).toList());
    a.destroy();
  }

  private static void assertClean(List<DiskVerification> v) {
    assertEquals(1, v.size());
    assertEquals(0, v.get(0).getMismatches(), "disk matches its oracle: " + v);
    assertEquals(0, v.get(0).getOwnershipViolations(), "every block written by its owner then: " + v);
    assertTrue(v.get(0).getWrites() > 0, "writes were checked: " + v);
  }
}
