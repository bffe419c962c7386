package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.guest.disk.DiskFile;
import org.livemig.messages.StreamKind;

/** The DISK_BLOCKS stream: frames of many blocks (runs and gaps) land whole, in order, on the destination's file. */
class BlockStreamTest {
  private static final int BLOCK = 4096;
  private static final long BLOCKS = 64;

  @TempDir Path dir;
  private DataPlaneServer server;

  @AfterEach
  void stop() {
    if (server != null) server.close();
  }

  @Test
  void framesOfSeveralBlocksArriveIntactAndInOrder() throws Exception {
    DataPlaneSettings settings = DataPlaneSettings.defaults();
    DiskFile target = DiskFile.create(dir.resolve("root.img"), "g", "root", "id-b", BLOCK, BLOCKS);
    BlockReceiver receiver = receiving("m-1", settings, target);

    Map<Long, Integer> expected = new HashMap<>(); // block -> version of its last frame
    try (BlockStream s = BlockStream.connect("127.0.0.1", server.port(), "m-1", "t", settings, null)) {
      // Runs (3-5, 9-10, 62-63) and lone blocks; the payload starts past position 0 of its buffer.
      send(s, 1, new long[] {3, 4, 5, 9, 10, 40, 62, 63}, expected);
      // Again some of the same blocks, newer: the later frame wins.
      send(s, 2, new long[] {4, 40, 41, 63}, expected);
      send(s, 3, new long[] {0}, expected);
      s.sync(0, true);
    }
    assertTrue(receiver.whole(), "the disk arrived whole: " + receiver.failure());
    assertNull(receiver.failure());
    assertEquals(13L * BLOCK, receiver.bytesWritten());
    ByteBuffer actual = ByteBuffer.allocateDirect(BLOCK);
    for (long b = 0; b < BLOCKS; b++) {
      target.read(b, actual);
      Integer version = expected.get(b);
      assertEquals(version == null ? ByteBuffer.allocate(BLOCK) : content(b, version), actual,
          "block " + b + (version == null ? " never sent: zeros" : " holds its last frame's content (version " + version + ")"));
    }
    target.close();
  }

  /**
   * Mirrored writes from 16 threads at once, each waiting for its own ack (made durable side by
   * side on the destination, acknowledged in any order), between bulk frames; a barrier after them
   * finds every one written.
   */
  @Test
  void mirroredWritesFromManyThreadsAreEachAcknowledgedAndLand() throws Exception {
    DataPlaneSettings settings = DataPlaneSettings.defaults();
    DiskFile target = DiskFile.create(dir.resolve("root.img"), "g", "root", "id-b", BLOCK, BLOCKS);
    BlockReceiver receiver = receiving("m-2", settings, target);
    try (BlockStream s = BlockStream.connect("127.0.0.1", server.port(), "m-2", "t", settings, null)) {
      send(s, 1, new long[] {0, 1, 2, 3}, new HashMap<>()); // the copy's older data, overwritten below
      List<Thread> writers = new java.util.ArrayList<>();
      java.util.concurrent.ConcurrentLinkedQueue<Throwable> errors = new java.util.concurrent.ConcurrentLinkedQueue<>();
      for (int t = 0; t < 16; t++) {
        long first = t * 4L;
        Thread w = new Thread(() -> {
          try {
            for (long b = first; b < first + 4; b++) s.awaitAck(s.send(0, new long[] {b}, 1, content(b, 2), true, false));
          } catch (Throwable e) {
            errors.add(e);
          }
        });
        w.start();
        writers.add(w);
      }
      for (Thread w : writers) w.join();
      assertEquals(List.of(), List.copyOf(errors));
      s.sync(0, true);
    }
    assertTrue(receiver.whole(), "the disk arrived whole: " + receiver.failure());
    ByteBuffer actual = ByteBuffer.allocateDirect(BLOCK);
    for (long b = 0; b < BLOCKS; b++) {
      target.read(b, actual);
      assertEquals(content(b, 2), actual, "block " + b + " holds its mirrored write");
    }
    target.close();
    assertTrue(awaitNoSyncThreads("m-2"), "the destination's write threads end with the stream");
  }

  /** A data port expecting the migration's disk stream into target. */
  private BlockReceiver receiving(String migration, DataPlaneSettings settings, DiskFile target) throws Exception {
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
    server.expect(migration, "t", 1, new RecordingListener(), new GuestMemory(Guests.PAGE, 16), new DirtyBitmap(16));
    BlockReceiver receiver = new BlockReceiver(migration, List.of(target));
    server.expectStream(migration, StreamKind.DISK_BLOCKS, receiver);
    return receiver;
  }

  private static boolean awaitNoSyncThreads(String migration) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith(
          "dataplane-blocks-sync-" + migration))) {
        return true;
      }
      Thread.sleep(20);
    }
    return false;
  }

  /** One frame with blocks, each block's content from (block, version), after 100 bytes the frame does not send. */
  private static void send(BlockStream s, int version, long[] blocks, Map<Long, Integer> expected) throws Exception {
    ByteBuffer payload = ByteBuffer.allocateDirect(100 + blocks.length * BLOCK);
    payload.position(100);
    for (long b : blocks) {
      payload.put(content(b, version));
      expected.put(b, version);
    }
    payload.flip().position(100);
    s.send(0, blocks, blocks.length, payload, false, false);
    assertEquals(100, payload.position(), "the payload is not consumed");
  }

  private static ByteBuffer content(long block, int version) {
    ByteBuffer b = ByteBuffer.allocate(BLOCK);
    for (int i = 0; i < BLOCK; i += 8) b.putLong(i, block * 1_000_003L + version * 7919L + i);
    return b;
  }
}
