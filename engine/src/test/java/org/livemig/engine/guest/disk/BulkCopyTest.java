package org.livemig.engine.guest.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;

/**
 * The bulk copy's batches against a guest writing under an installed (write-blocking) mirror: a
 * batch's blocks stay held until the batch is on the target, so no guest write of one of them
 * (mirrored) reaches the target before the batch's older copy of it, and the target ends equal
 * to the source.
 */
class BulkCopyTest {
  private static final int BLOCKS = 256;
  private static final int BATCH = 64;

  @TempDir Path dir;

  /** Holds the blocks in memory; the first batch waits for a mirrored write of one of its blocks (which must not come). */
  private static final class Target implements MirrorTarget {
    final Map<Long, ByteBuffer> blocks = new ConcurrentHashMap<>();
    final List<Integer> batchSizes = new CopyOnWriteArrayList<>();
    final List<Long> overtaking = new CopyOnWriteArrayList<>(); // mirrored writes of a block of the batch being written
    final CountDownLatch overtaken = new CountDownLatch(1);
    private volatile Set<Long> inBatch = Set.of();

    @Override public int blockSize() { return 4096; }

    @Override public long blockCount() { return BLOCKS; }

    @Override
    public void writeBlocks(long[] batch, int count, ByteBuffer data) throws java.io.IOException {
      Set<Long> ids = ConcurrentHashMap.newKeySet();
      for (int i = 0; i < count; i++) ids.add(batch[i]);
      inBatch = ids;
      try {
        // Time for a guest write of a block of this batch to overtake it, were the batch's blocks not held.
        if (batchSizes.isEmpty()) overtaken.await(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      for (int i = 0; i < count; i++) {
        blocks.put(batch[i], copyOf(data.duplicate().position(data.position() + i * 4096).limit(data.position() + (i + 1) * 4096)));
      }
      batchSizes.add(count);
      inBatch = Set.of();
    }

    @Override
    public void writeDurably(long block, ByteBuffer data) {
      if (inBatch.contains(block)) {
        overtaking.add(block);
        overtaken.countDown();
      }
      blocks.put(block, copyOf(data.duplicate().clear()));
    }

    @Override public void flush() {}

    @Override public String describe() { return "memory"; }

    private static ByteBuffer copyOf(ByteBuffer b) {
      ByteBuffer c = ByteBuffer.allocate(b.remaining());
      return c.put(b).flip();
    }
  }

  @Test
  void aMirroredGuestWriteNeverGoesBeforeTheBatchedOlderCopyOfItsBlock() throws Exception {
    GuestDescription d = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(16).setSeed(11)
        .setInitialFill(InitialFill.FILL_PATTERN)
        .addDisks(DiskDescription.newBuilder().setDiskId("root").setDatastore("local").setBlockCount(BLOCKS)
            .setQueueDepth(8).setWritesPerSecond(2000))
        .build();
    GuestDisks disks = GuestDisks.create(d, "host-a", new Datastores(Map.of("local", dir.resolve("local"))),
        DiskFaults.none()).disks();
    try {
      VirtualDisk disk = disks.disk("root");
      disks.start();
      await(() -> disk.summary().getWrites() >= 150, "150 guest writes");
      Target target = new Target();
      DiskMirror mirror = new DiskMirror(target, DiskMirror.Mode.WRITE_BLOCKING, MirrorFaults.none());
      disk.attach(mirror);
      mirror.install();

      BulkCopy.Pass pass = new BulkCopy(disk, mirror, BATCH).pass(() -> false, 0);

      assertEquals(BLOCKS, pass.blocks(), "one pass takes every block once");
      assertTrue(target.batchSizes.size() >= 2 && target.batchSizes.stream().allMatch(n -> n <= BATCH),
          "several blocks a batch, at most " + BATCH + ": " + target.batchSizes);
      assertTrue(target.batchSizes.stream().anyMatch(n -> n > 1), "batches of several blocks: " + target.batchSizes);
      assertEquals(List.of(), target.overtaking, "mirrored writes that reached the target before the batch holding their block");
      long mirrored = mirror.mirroredWrites();
      await(() -> mirror.mirroredWrites() > mirrored + 50, "the guest writing on, mirrored, after the copy");
      disks.stopIssuing();
      disks.drain().get(10, TimeUnit.SECONDS);

      ByteBuffer source = ByteBuffer.allocateDirect(4096);
      ByteBuffer zeros = ByteBuffer.allocate(4096);
      for (long b = 0; b < BLOCKS; b++) {
        disk.file().read(b, source);
        assertEquals(source, target.blocks.getOrDefault(b, zeros), "block " + b + " on the target equals the source's");
      }
      assertEquals(0, mirror.dirtyBlocks());
    } finally {
      disks.close();
    }
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(5);
    }
  }
}
