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
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
    server.expect("m-1", "t", 1, new RecordingListener(), new GuestMemory(Guests.PAGE, 16), new DirtyBitmap(16));
    DiskFile target = DiskFile.create(dir.resolve("root.img"), "g", "root", "id-b", BLOCK, BLOCKS);
    BlockReceiver receiver = new BlockReceiver("m-1", List.of(target));
    server.expectStream("m-1", StreamKind.DISK_BLOCKS, receiver);

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
