package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.BitSet;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.DeviceState;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.IterationEnd;
import org.livemig.messages.Pages;

/**
 * The precopy data channel as a hostile peer may fill it: arbitrary bytes after the handshake.
 * Whatever arrives, the decoder either yields frames or fails with a DataPlaneException, and the
 * receiver writes only pages that a Pages frame named (all others stay as they were: zero).
 * Seeds are real streams built with the sender's own encoder, so the fuzzer starts from valid frames.
 */
public class FrameDecoderFuzzTest {
  static final int PAGE = 512;
  static final long PAGES = 200; // not a multiple of 64: the last bitmap word is partial
  /** Small limits, so that a frame or payload at the limit costs the fuzzer little. */
  public static final DataPlaneSettings SETTINGS = new DataPlaneSettings(64 << 10, 64 << 10, 8, Duration.ofSeconds(5),
      Duration.ofSeconds(10), Duration.ofSeconds(5), TcpTransport.INSTANCE, 256);
  private static final byte[] ZERO_PAGE = new byte[PAGE];
  private static final ByteBuffer SCRATCH = ByteBuffer.allocate(SETTINGS.maxPayloadBytes()); // one fuzzing thread

  /** FrameCodec alone: frames until the input ends, each within the frame limit. */
  @MethodSource("streams")
  @FuzzTest(maxDuration = "10s")
  void frames(byte[] wire) {
    Wire.Link link = new Wire.Link(wire);
    FrameCodec codec = new FrameCodec(link, SETTINGS);
    try {
      while (true) {
        Frame f = codec.readFrame();
        assertTrue(f.getSerializedSize() <= SETTINGS.maxFrameBytes(), "frame over the limit decoded");
        assertEquals(wire.length - link.unread(), codec.bytesRead(), "bytes read miscounted");
      }
    } catch (DataPlaneException expected) {
      // End of stream is only reported once every byte was read; anything else names a bad frame.
      if (link.unread() > 0) assertTrue(!expected.getMessage().startsWith("connection closed"), expected.getMessage());
      assertClear(expected);
    }
  }

  /** The precopy receiver's frame loop into a small guest: pages, device state, iteration ends, discards. */
  @MethodSource("streams")
  @FuzzTest(maxDuration = "10s")
  void channelReceiver(byte[] wire) {
    GuestMemory memory = new GuestMemory(PAGE, PAGES);
    DirtyBitmap received = new DirtyBitmap(PAGES);
    RecordingListener listener = new RecordingListener();
    PrecopyReceiver precopy = new PrecopyReceiver("fuzz", 1, listener, memory, received, SETTINGS, Watchdog.shared());
    Wire.Link link = new Wire.Link(wire);
    ChannelReceiver receiver = new ChannelReceiver(precopy, 0, DataChannel.accepted(link, SETTINGS), SETTINGS,
        Watchdog.shared());
    try {
      receiver.receiveUntilEndOfStream();
      assertEquals(1, listener.endOfStreams.size(), "returned without end of stream");
    } catch (DataPlaneException expected) {
      assertClear(expected);
    }
    BitSet named = pagesNamed(wire);
    byte[] page = new byte[PAGE];
    for (long p = 0; p < PAGES; p++) {
      if (received.isSet(p)) assertTrue(named.get((int) p), "page " + p + " marked received but never sent");
      if (named.get((int) p)) continue;
      memory.readPage(p, page); // a bulk copy and compare: per-long checks would be instrumented, and slow
      assertTrue(Arrays.equals(page, ZERO_PAGE), "page " + p + " written but never sent");
    }
  }

  /** Pages named by the stream's Pages frames up to its first bad frame (decoded independently of the receiver). */
  static BitSet pagesNamed(byte[] wire) {
    BitSet named = new BitSet();
    FrameCodec codec = new FrameCodec(new Wire.Link(wire), SETTINGS);
    ByteBuffer payload = SCRATCH;
    GuestMemory shape = new GuestMemory(PAGE, 1); // only its page size is used for the payload length
    try {
      while (true) {
        Frame f = codec.readFrame();
        if (!f.hasPages()) continue;
        for (long p : f.getPages().getIndicesList()) if (p >= 0 && p < PAGES) named.set((int) p);
        for (long p : f.getPages().getZeroIndicesList()) if (p >= 0 && p < PAGES) named.set((int) p);
        long len = (long) f.getPages().getIndicesCount() * shape.pageSize();
        if (len > payload.capacity()) return named;
        codec.readPayload(payload, (int) len);
      }
    } catch (DataPlaneException end) {
      return named;
    }
  }

  /** The declared failure names its cause: no empty or null message. */
  static void assertClear(DataPlaneException e) {
    if (e.getMessage() == null || e.getMessage().isBlank()) fail("DataPlaneException without a reason", e);
  }

  /** Valid streams as the sender writes them: pages (some re-sent), device state, a round end, a discard, end of stream. */
  static Stream<byte[]> streams() {
    long[] discard = new long[(int) ((PAGES + 63) / 64)];
    discard[0] = 0b1011;
    return Stream.of(
        stream(pages(0, 1, 2, 3), pages(2, 3, 4), iterationEnd(), eos(null)),
        stream(Frame.newBuilder().setDeviceState(DeviceState.newBuilder().setState(ByteString.copyFromUtf8("cpu"))).build(),
            pages(PAGES - 1), eos(discard)),
        stream(zeroPages(5, 6), eos(null)));
  }

  private static Object[] pages(long... indices) {
    Pages.Builder p = Pages.newBuilder().setPayloadBytes(indices.length * PAGE);
    for (long i : indices) p.addIndices(i);
    byte[] payload = new byte[indices.length * PAGE];
    for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 31 + 7);
    return new Object[] {Frame.newBuilder().setPages(p).build(), payload};
  }

  private static Frame zeroPages(long... indices) {
    Pages.Builder p = Pages.newBuilder();
    for (long i : indices) p.addZeroIndices(i);
    return Frame.newBuilder().setPages(p).build();
  }

  private static Frame iterationEnd() {
    return Frame.newBuilder().setIterationEnd(IterationEnd.newBuilder().setRound(1).setPages(5)).build();
  }

  private static Frame eos(long[] discard) {
    EndOfStream.Builder e = EndOfStream.newBuilder().setTotalPages(PAGES);
    if (discard != null) e.setPostcopyDiscard(ByteString.copyFrom(DirtyBitmap.toBytes(discard)));
    return Frame.newBuilder().setEos(e).build();
  }

  /** Frames (and Pages payloads, given as {frame, payload}) encoded the way FrameCodec writes them. */
  public static byte[] stream(Object... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FrameCodec codec = new FrameCodec(new Wire.Link(new byte[0]), SETTINGS);
    for (Object part : parts) {
      Frame frame = part instanceof Object[] pair ? (Frame) pair[0] : (Frame) part;
      ByteBuffer b = codec.encode(frame);
      byte[] bytes = new byte[b.remaining()];
      b.get(bytes);
      out.writeBytes(bytes);
      if (part instanceof Object[] pair) out.writeBytes((byte[]) pair[1]);
    }
    return out.toByteArray();
  }
}
