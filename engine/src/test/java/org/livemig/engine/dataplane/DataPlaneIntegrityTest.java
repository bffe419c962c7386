package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.Pages;

/**
 * Bytes flipped in flight never reach guest memory as received pages: a torn frame fails the
 * channel, a torn payload is rejected and sent again in the next round, a torn final copy fails.
 */
class DataPlaneIntegrityTest {
  private static final long PAGES = 4096; // 16 MiB
  private final DataPlaneSettings settings = DataPlaneSettings.defaults().withStallTimeout(Duration.ofSeconds(3));
  private DataPlaneServer server;

  @BeforeEach
  void start() {
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /**
   * Random flips anywhere in the stream (lengths, frames, payloads, checksums): each seed either
   * ends with every page intact after rounds of resends, or its channel fails; in both cases no
   * page counted as received differs from the source. Big batches with a flip per 2 MiB hit
   * payloads; one page per batch with a flip per 128 KiB hits frames too (the stream is the same
   * for a seed on every run, so which seeds fail is fixed).
   */
  @Test
  void randomFlipsInFlightNeverLeaveAReceivedPageWrong() throws Exception {
    int[] payloadHits = flipRandomly(settings, 2 << 20, 1, 8);
    int[] frameHits = flipRandomly(settings.withBatchPages(1), 128 << 10, 9, 24);
    assertTrue(payloadHits[0] >= 6, "most seeds hit payloads only and complete: " + payloadHits[0]);
    assertTrue(payloadHits[1] > 0, "torn payloads were sent again");
    assertTrue(frameHits[2] > 0, "some flips hit frames and failed the channel");
  }

  /** Returns {completed seeds, pages sent again, failed seeds}. */
  private int[] flipRandomly(DataPlaneSettings settings, long every, long fromSeed, long toSeed) throws Exception {
    int resentOverall = 0;
    int completed = 0;
    int failed = 0;
    for (long seed = fromSeed; seed <= toSeed; seed++) {
      String id = "m-" + seed;
      GuestMemory source = Guests.randomGuest(PAGES, 9, seed);
      GuestMemory dest = Guests.randomGuest(PAGES, 0, 1000 + seed); // garbage until pages arrive
      DirtyBitmap received = new DirtyBitmap(PAGES);
      RecordingListener listener = new RecordingListener();
      server.expect(id, "t", 1, listener, dest, received);
      try (LinkProxy proxy = LinkProxy.inFrontOf(server.port())) {
        proxy.corrupt(every, seed);
        String failure = null;
        try (PageSender s = PageSender.connect("127.0.0.1", proxy.port(), id, "t", 0, settings)) {
          long[] dirty = Guests.allPages(PAGES);
          for (int round = 1; dirty != null; round++) {
            assertTrue(round <= 40, "seed " + seed + ": still resending after 40 rounds");
            long sent = s.sendPages(source, dirty).pages();
            if (round > 1) resentOverall += sent;
            dirty = s.endRound(round, sent, PAGES);
          }
          proxy.heal(); // the final copy must get through: nothing can be resent after it
          s.sendEndOfStream(PAGES);
          listener.awaitEndOfStream();
          completed++;
        } catch (DataPlaneException e) {
          failure = e.getMessage();
        }
        if (failure != null) {
          String reason = listener.awaitFailure(10); // the destination saw the damage, not just the source
          System.out.printf("seed %d: channel failed: %s (destination: %s)%n", seed, failure, reason);
          failed++;
        } else {
          Guests.assertSameMemory(source, dest);
        }
      }
      assertReceivedPagesIntact(seed, source, dest, received);
      server.forget(id);
    }
    System.out.printf("flip per %d bytes, batches of %d page(s): %d of %d seeds completed, %d failed; %d page(s) sent "
        + "again after their checksum failed%n", every, settings.batchPages(), completed, toSeed - fromSeed + 1, failed,
        resentOverall);
    return new int[] {completed, resentOverall, failed};
  }

  @Test
  void aFlippedByteInAFrameFailsTheChannelBeforeItsPagesCount() throws Exception {
    GuestMemory dest = new GuestMemory(Guests.PAGE, 16);
    DirtyBitmap received = new DirtyBitmap(16);
    RecordingListener listener = new RecordingListener();
    server.expect("m-f", "t", 1, listener, dest, received);
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = Guests.rawHandshake(c, "m-f", "t", 0);
      ByteBuffer payload = ByteBuffer.allocate(Guests.PAGE);
      Arrays.fill(payload.array(), (byte) 0x77);
      ByteBuffer head = codec.encode(Frame.newBuilder().setPages(Pages.newBuilder().addIndices(5).setPayloadBytes(Guests.PAGE)).build());
      ByteBuffer trailer = codec.payloadTrailer(new ByteBuffer[] {payload}, 0, 1);
      int index = indexOfByte(head, (byte) 5);
      head.put(index, (byte) 4); // page 5 becomes page 4: without a checksum, page 4 would take page 5's bytes
      codec.writeFully(head, payload, trailer);
      String reason = listener.awaitFailure(5);
      assertTrue(reason.contains("failed its checksum"), reason);
    }
    assertEquals(0, received.count(), "no page counts as received");
    byte[] page4 = new byte[Guests.PAGE];
    dest.readPage(4, page4);
    assertFalse(page4[0] == 0x77, "the torn frame wrote nothing");
  }

  @Test
  void aTornPayloadIsRejectedAndAskedForAgainBeforeTheRoundsEcho() throws Exception {
    GuestMemory dest = new GuestMemory(Guests.PAGE, 16);
    DirtyBitmap received = new DirtyBitmap(16);
    RecordingListener listener = new RecordingListener();
    server.expect("m-p", "t", 1, listener, dest, received);
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = Guests.rawHandshake(c, "m-p", "t", 0);
      ByteBuffer payload = ByteBuffer.allocate(2 * Guests.PAGE);
      Arrays.fill(payload.array(), (byte) 0x33);
      ByteBuffer head = codec.encode(Frame.newBuilder().setPages(Pages.newBuilder().addIndices(2).addIndices(3)
          .addZeroIndices(9).setPayloadBytes(2 * Guests.PAGE)).build());
      ByteBuffer trailer = codec.payloadTrailer(new ByteBuffer[] {payload}, 0, 1);
      payload.put(Guests.PAGE + 17, (byte) 0x34); // one byte of page 3
      codec.writeFully(head, payload, trailer);
      codec.writeMessage(Frame.newBuilder().setIterationEnd(org.livemig.messages.IterationEnd.newBuilder().setRound(1).setPages(3)).build());
      Frame rejected = codec.readFrame();
      assertTrue(rejected.hasPagesRejected(), rejected.toString());
      assertEquals(1, rejected.getPagesRejected().getBatches());
      long[] words = DirtyBitmap.fromBytes(rejected.getPagesRejected().getBitmap().toByteArray(), 16);
      assertEquals(0b1100L, words[0], "both pages of the torn batch are asked for again");
      assertEquals(1, codec.readFrame().getIterationEnd().getRound(), "then the echo");
      assertEquals(1, received.count(), "only the zero page (its index was in the intact frame) counts");
      assertTrue(received.isSet(9));
      byte[] page = new byte[Guests.PAGE];
      for (long p : new long[] {2, 3}) {
        dest.readPage(p, page);
        assertArrayEquals(new byte[Guests.PAGE], page, "a torn batch changes no page, not even one arriving for the first time: " + p);
      }

      // The final copy cannot be sent again: a torn batch in it fails the channel at EOS.
      payload.clear();
      head = codec.encode(Frame.newBuilder().setPages(Pages.newBuilder().addIndices(2).addIndices(3).setPayloadBytes(2 * Guests.PAGE)).build());
      trailer = codec.payloadTrailer(new ByteBuffer[] {payload}, 0, 1);
      trailer.put(0, (byte) (trailer.get(0) ^ 1));
      codec.writeFully(head, payload, trailer);
      codec.writeMessage(Frame.newBuilder().setEos(EndOfStream.newBuilder().setTotalPages(16)).build());
      String reason = listener.awaitFailure(5);
      assertEquals("1 page batch(es) of the final copy failed their checksum: the link corrupts data", reason);
    }
    assertTrue(listener.endOfStreams.isEmpty(), "no end of stream was reported");
    assertEquals(1, received.count());
  }

  private static void assertReceivedPagesIntact(long seed, GuestMemory source, GuestMemory dest, DirtyBitmap received) {
    byte[] want = new byte[Guests.PAGE];
    byte[] got = new byte[Guests.PAGE];
    for (long p = 0; p < PAGES; p++) {
      if (!received.isSet(p)) continue;
      source.readPage(p, want);
      dest.readPage(p, got);
      if (!Arrays.equals(want, got)) throw new AssertionError("seed " + seed + ": page " + p + " counts as received but differs");
    }
  }

  private static int indexOfByte(ByteBuffer b, byte value) {
    for (int i = b.position(); i < b.limit(); i++) if (b.get(i) == value) return i;
    throw new AssertionError("no byte " + value + " in the frame");
  }
}
