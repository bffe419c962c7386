package org.livemig.engine.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;

class SyntheticGuestTest {
  private static final int PAGE = 4096;

  /** 16 MiB guest, 4 KiB pages, a hot set of 256 pages taking 80% of the writes. */
  static GuestDescription desc(String id, long pagesPerSecond) {
    return GuestDescription.newBuilder()
        .setGuestId(id).setPageSize(PAGE).setPageCount(4096).setSeed(42)
        .setDirtyPagesPerSecond(pagesPerSecond).setHotPages(256).setHotPerMille(800)
        .setInitialFill(InitialFill.FILL_PATTERN).build();
  }

  static void pauseAndWait(MigratableGuest g) throws Exception {
    g.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertTrue(g.state() == RunState.PAUSED || g.state() == RunState.DESTROYED);
  }

  static long memoryChecksum(GuestMemory mem) {
    CRC32 crc = new CRC32();
    byte[] page = new byte[mem.pageSize()];
    for (long p = 0; p < mem.pageCount(); p++) {
      mem.readPage(p, page);
      crc.update(page);
    }
    return crc.getValue();
  }

  @Test
  void runningGuestFollowsTheOracleAndMarksWrittenPagesDirty() throws Exception {
    GuestDescription d = desc("g1", 20_000);
    SyntheticGuest g = SyntheticGuest.create(d, "owner");
    GuestOracle oracle = new GuestOracle(d);
    try {
      assertEquals(RunState.CREATED, g.state());
      assertTrue(oracle.verify(g.memory(), 0).matches(), "initial fill must match the oracle at step 0");
      assertEquals(0, g.dirtyBitmap().count());

      g.run("owner");
      assertEquals(RunState.RUNNING, g.state());
      Thread.sleep(300);
      pauseAndWait(g);
      long steps = g.steps();
      assertTrue(steps > 100, "guest made too little progress: " + steps);

      GuestOracle.Verification v = oracle.verify(g.memory(), steps);
      assertEquals(4096, v.pagesChecked());
      assertTrue(v.matches(), () -> "mismatches: " + v);
      // The oracle must notice a history that is one step short (the last step's page differs).
      assertFalse(oracle.verify(g.memory(), steps - 1).matches());

      BitSet written = new BitSet();
      for (long k = 0; k < steps; k++) written.set((int) oracle.pageAt(k));
      BitSet hot = new BitSet();
      hot.set(0, 256);
      BitSet writtenHot = (BitSet) written.clone();
      writtenHot.and(hot);
      assertTrue(writtenHot.cardinality() > 200, "hot set should dominate the writes");

      long[] harvested = g.dirtyBitmap().syncAndClear();
      BitSet dirty = new BitSet();
      DirtyBitmap.forEachSet(harvested, p -> dirty.set((int) p));
      assertEquals(written, dirty, "dirty bitmap must hold exactly the written pages");
      assertEquals(0, g.dirtyBitmap().count(), "syncAndClear must clear the bitmap");

      // Expected content of a single page agrees with memory.
      int hotPage = written.nextSetBit(0);
      byte[] expected = new byte[PAGE];
      byte[] actual = new byte[PAGE];
      oracle.expectedPage(hotPage, steps, expected);
      g.memory().readPage(hotPage, actual);
      assertArrayEquals(expected, actual);

      // A corrupted page is reported.
      g.memory().putLong(hotPage, 8, ~g.memory().getLong(hotPage, 8));
      GuestOracle.Verification bad = oracle.verify(g.memory(), steps);
      assertEquals(1, bad.mismatches());
      assertEquals(List.of((long) hotPage), bad.firstMismatches());
    } finally {
      g.destroy();
    }
  }

  @Test
  void pauseReallyStopsWrites() throws Exception {
    GuestDescription d = desc("g2", 200_000);
    SyntheticGuest g = SyntheticGuest.create(d, "owner");
    try {
      g.run("owner");
      Thread.sleep(100);
      pauseAndWait(g);
      long steps = g.steps();
      long dirty = g.dirtyBitmap().count();
      long crc = memoryChecksum(g.memory());
      assertTrue(steps > 1000, "high-rate guest made too little progress: " + steps);
      Thread.sleep(100);
      assertEquals(steps, g.steps(), "steps advanced after pause completed");
      assertEquals(dirty, g.dirtyBitmap().count(), "pages dirtied after pause completed");
      assertEquals(crc, memoryChecksum(g.memory()), "memory changed after pause completed");
      assertTrue(new GuestOracle(d).verify(g.memory(), steps).matches(), "pause left a half-written step");
      // Pausing a guest that is not running completes at once.
      assertTrue(g.pause().toCompletableFuture().isDone());

      // Destroying a running guest stops its writes by the time destroy() returns.
      g.run("owner");
      Thread.sleep(20);
      g.destroy();
      long finalSteps = g.steps();
      long finalCrc = memoryChecksum(g.memory());
      assertTrue(finalSteps > steps, "guest did not resume");
      Thread.sleep(50);
      assertEquals(finalSteps, g.steps(), "destroyed guest kept stepping");
      assertEquals(finalCrc, memoryChecksum(g.memory()), "destroyed guest kept writing");
      assertTrue(new GuestOracle(d).verify(g.memory(), finalSteps).matches());
    } finally {
      g.destroy();
    }
  }

  @Test
  void rapidRunPauseCyclesKeepHistoryConsistent() throws Exception {
    GuestDescription d = desc("g3", 200_000);
    SyntheticGuest g = SyntheticGuest.create(d, "owner");
    try {
      for (int i = 0; i < 200; i++) {
        g.run("owner");
        g.pause(); // deliberately not awaited: run() may overtake the workload's acknowledgement
      }
      g.run("owner");
      Thread.sleep(20);
      pauseAndWait(g);
      assertTrue(g.steps() > 0);
      assertTrue(new GuestOracle(d).verify(g.memory(), g.steps()).matches());
    } finally {
      g.destroy();
    }
  }

  @Test
  void onlyTheOwnerTokenRunsTheGuest() throws Exception {
    SyntheticGuest g = SyntheticGuest.create(desc("g4", 200_000), "owner");
    assertEquals("owner", g.ownerToken());
    IllegalStateException wrong = assertThrows(IllegalStateException.class, () -> g.run("intruder"));
    assertTrue(wrong.getMessage().contains("g4"), wrong.getMessage());
    assertThrows(IllegalStateException.class, () -> g.run(null));
    Thread.sleep(50);
    assertEquals(RunState.CREATED, g.state());
    assertEquals(0, g.steps());
    assertEquals(0, g.dirtyBitmap().count());

    g.run("owner");
    g.run("owner"); // no-op while running
    assertThrows(IllegalStateException.class, () -> g.run("intruder"), "wrong token must fail even while running");
    assertThrows(IllegalStateException.class, () -> g.assignOwner("other"));
    assertThrows(IllegalStateException.class, g::deviceState);
    pauseAndWait(g);
    g.assignOwner("other");
    assertThrows(IllegalStateException.class, () -> g.run("owner"), "old owner must lose the guest");

    g.destroy();
    g.destroy(); // idempotent
    assertEquals(RunState.DESTROYED, g.state());
    long steps = g.steps();
    assertThrows(IllegalStateException.class, () -> g.run("other"));
    assertThrows(IllegalStateException.class, () -> g.assignOwner("x"));
    Thread.sleep(20);
    assertEquals(steps, g.steps(), "destroyed guest kept writing");
    assertTrue(g.pause().toCompletableFuture().isDone());
  }

  @Test
  void destinationContinuesTheSameHistoryAfterDeviceStateRoundTrip() throws Exception {
    GuestDescription d = desc("g5", 20_000);
    GuestOracle oracle = new GuestOracle(d);
    SyntheticGuest a = SyntheticGuest.create(d, "src");
    SyntheticGuest b = SyntheticGuest.empty(d);
    try {
      assertNull(b.ownerToken());
      assertEquals(RunState.CREATED, b.state());
      assertTrue(b.memory().isZeroPage(0));
      a.run("src");
      Thread.sleep(150);
      pauseAndWait(a);

      byte[] page = new byte[PAGE];
      for (long p = 0; p < d.getPageCount(); p++) {
        a.memory().readPage(p, page);
        b.memory().writePage(p, page);
      }
      byte[] state = a.deviceState();
      b.loadDeviceState(state);
      assertEquals(a.steps(), b.steps());
      assertArrayEquals(state, b.deviceState(), "device state must round-trip exactly");
      a.destroy();

      b.assignOwner("t");
      b.run("t");
      Thread.sleep(150);
      pauseAndWait(b);
      assertTrue(b.steps() > a.steps(), "destination did not continue: " + b.steps() + " <= " + a.steps());
      GuestOracle.Verification v = oracle.verify(b.memory(), b.steps());
      assertTrue(v.matches(), () -> "destination diverged from the source's history: " + v);
    } finally {
      a.destroy();
      b.destroy();
    }
  }

  @Test
  void malformedDeviceStateIsRefused() throws Exception {
    GuestDescription d = desc("g6", 20_000);
    SyntheticGuest a = SyntheticGuest.create(d, "src");
    a.run("src");
    Thread.sleep(30);
    pauseAndWait(a);
    byte[] good = a.deviceState();
    a.destroy();

    SyntheticGuest b = SyntheticGuest.empty(d);
    assertThrows(IllegalArgumentException.class, () -> b.loadDeviceState(null));
    assertThrows(IllegalArgumentException.class, () -> b.loadDeviceState(new byte[0]));
    assertThrows(IllegalArgumentException.class, () -> b.loadDeviceState(java.util.Arrays.copyOf(good, good.length - 1)));
    for (int i : new int[] {0, 6, 30, 100, good.length - 1}) {
      byte[] bad = good.clone();
      bad[i] ^= 0x10;
      assertThrows(IllegalArgumentException.class, () -> b.loadDeviceState(bad), "flipped byte " + i + " accepted");
    }
    SyntheticGuest other = SyntheticGuest.empty(d.toBuilder().setGuestId("someone-else").build());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> other.loadDeviceState(good));
    assertTrue(e.getMessage().contains("someone-else"), e.getMessage());
    assertEquals(0, b.steps(), "a refused state must not be half-loaded");

    b.loadDeviceState(good); // the real one still loads
    assertEquals(a.steps(), b.steps());
    b.assignOwner("t");
    b.run("t");
    assertThrows(IllegalStateException.class, () -> b.loadDeviceState(good));
    b.destroy();
  }

  @Test
  void throttleSlowsTheGuest() throws Exception {
    SyntheticGuest g = SyntheticGuest.create(desc("g7", 20_000), "owner");
    try {
      assertThrows(IllegalArgumentException.class, () -> g.setThrottlePercent(100));
      assertThrows(IllegalArgumentException.class, () -> g.setThrottlePercent(-1));
      double full = measureRate(g, 0);
      double half = measureRate(g, 50);
      assertEquals(50, g.throttlePercent());
      assertTrue(full > 0);
      assertTrue(half / full < 0.8, "50% throttle barely slowed the guest: " + half + " vs " + full + " steps/s");
      assertTrue(half / full > 0.2, "50% throttle slowed the guest far too much: " + half + " vs " + full);
    } finally {
      g.destroy();
    }
  }

  private static double measureRate(SyntheticGuest g, int throttle) throws Exception {
    g.setThrottlePercent(throttle);
    long s0 = g.steps();
    long t0 = System.nanoTime();
    g.run("owner");
    Thread.sleep(300);
    pauseAndWait(g);
    return (g.steps() - s0) * 1e9 / (System.nanoTime() - t0);
  }

  @Test
  void idleGuestWritesNothing() throws Exception {
    SyntheticGuest g = SyntheticGuest.create(desc("g8", 0), "owner");
    g.run("owner");
    Thread.sleep(50);
    assertEquals(0, g.steps());
    assertEquals(0, g.dirtyBitmap().count());
    pauseAndWait(g);
    g.destroy();
  }

  @Test
  void invalidDescriptionsNameTheField() {
    GuestDescription ok = desc("g9", 1);
    assertField("page_size", ok.toBuilder().setPageSize(1000).build());
    assertField("page_size", ok.toBuilder().setPageSize(256).build());
    assertField("page_count", ok.toBuilder().setPageCount(0).build());
    assertField("hot_pages", ok.toBuilder().setHotPages(4097).build());
    assertField("hot_per_mille", ok.toBuilder().setHotPerMille(1001).build());
  }

  private static void assertField(String field, GuestDescription d) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SyntheticGuest.create(d, "o"));
    assertTrue(e.getMessage().contains(field), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> SyntheticGuest.empty(d));
  }

  @Test
  void oneGibZeroFilledGuestIsOffHeapAndVerifiable() throws Exception {
    GuestDescription d = GuestDescription.newBuilder()
        .setGuestId("big").setPageSize(PAGE).setPageCount((1L << 30) / PAGE).setSeed(7)
        .setDirtyPagesPerSecond(200_000).setInitialFill(InitialFill.FILL_ZERO).build();
    SyntheticGuest g = SyntheticGuest.create(d, "owner");
    try {
      assertEquals(1L << 30, g.memory().sizeBytes());
      assertTrue(g.memory().isZeroPage(0) && g.memory().isZeroPage(d.getPageCount() - 1));
      g.run("owner");
      Thread.sleep(50);
      pauseAndWait(g);
      assertTrue(g.steps() > 0);
      assertTrue(new GuestOracle(d).verify(g.memory(), g.steps()).matches());
    } finally {
      g.destroy();
    }
    assertEquals(RunState.DESTROYED, g.state());
  }
}
