package org.livemig.engine.dataplane.postcopy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;
import org.livemig.engine.dataplane.DataChannel;
import org.livemig.engine.dataplane.DataPlane;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.FrameDecoderFuzzTest;
import org.livemig.engine.dataplane.Wire;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.guest.PostcopyPages;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.livemig.messages.PageRequest;
import org.livemig.messages.RecvBitmap;
import org.livemig.messages.RecvBitmapRequest;
import org.livemig.messages.Resume;
import org.livemig.messages.ResumeAck;
import org.livemig.messages.StreamKind;
import org.slf4j.LoggerFactory;

/**
 * A postcopy connection whose peer sends arbitrary bytes after the channel handshake: the
 * destination reads RECV_BITMAP_REQUEST, RESUME and pages; the source reads RECV_BITMAP,
 * RESUME_ACK and page requests. Either end only pauses (or completes) with a reason, never fails
 * "unexpectedly" (an ERROR log); the destination never overwrites a page it already had.
 */
class PostcopyFuzzTest {
  private static final int PAGE = 512;
  private static final long PAGES = 130;
  private static final Duration KEEPALIVE = Duration.ofSeconds(5); // never reached: input ends at once
  private static final ListAppender<ILoggingEvent> LOG = capture(PostcopyReceiver.class, PostcopySource.class);

  @MethodSource("fromSource")
  @FuzzTest(maxDuration = "10s")
  void destination(byte[] wire) {
    GuestMemory memory = new GuestMemory(PAGE, PAGES);
    DirtyBitmap present = new DirtyBitmap(PAGES);
    byte[] had = new byte[PAGE];
    java.util.Arrays.fill(had, (byte) 0x5a);
    for (long p = 0; p < PAGES; p += 2) { // precopy brought every other page
      memory.writePage(p, had);
      present.mark(p);
    }
    DataChannel channel = accepted(wire, FrameDecoderFuzzTest.SETTINGS);
    PostcopyReceiver receiver = new PostcopyReceiver("m-1", memory, new PostcopyPages(present),
        FrameDecoderFuzzTest.SETTINGS, KEEPALIVE, new Ends().destination());
    try {
      receiver.admit(ChannelHeader.newBuilder().setKind(StreamKind.POSTCOPY_PAGES).build(), channel).session().run();
      PostcopyReceiver.State s = receiver.state();
      assertTrue(s == PostcopyReceiver.State.PAUSED || s == PostcopyReceiver.State.COMPLETE, "ended " + s);
    } finally {
      receiver.close();
    }
    byte[] page = new byte[PAGE];
    for (long p = 0; p < PAGES; p += 2) {
      memory.readPage(p, page);
      assertArrayEquals(had, page, "page " + p + " was present but overwritten");
    }
    assertNoUnexpectedFailure();
  }

  @MethodSource("fromDestination")
  @FuzzTest(maxDuration = "10s")
  void source(byte[] wire) throws InterruptedException {
    Ends ends = new Ends();
    DataPlaneSettings settings = FrameDecoderFuzzTest.SETTINGS.withTransport(new Wire.Transport(
        () -> new Wire.Link(concat(accept(), wire))));
    try (PostcopySource source = new PostcopySource("m-1", new GuestMemory(PAGE, PAGES), settings, KEEPALIVE,
        ends.source())) {
      source.connect("127.0.0.1", 1, "token", Duration.ZERO);
      if (!ends.ended.await(10, TimeUnit.SECONDS)) fail("source neither paused nor completed: " + source.state());
      PostcopySource.State s = source.state();
      assertTrue(s == PostcopySource.State.PAUSED || s == PostcopySource.State.COMPLETE, "ended " + s);
    }
    assertNoUnexpectedFailure();
  }

  /** Listeners of either end: counts the end of a connection (pause or completion). */
  private static final class Ends {
    final CountDownLatch ended = new CountDownLatch(1);

    PostcopyReceiver.Listener destination() {
      return new PostcopyReceiver.Listener() {
        public void onRecover(int connection) {}

        public void onActive(int connection) {}

        public void onPaused(String reason) {
          assertReason(reason);
          ended.countDown();
        }

        public void onComplete() {
          ended.countDown();
        }
      };
    }

    PostcopySource.Listener source() {
      return new PostcopySource.Listener() {
        public void onActive(int connection) {}

        public void onPaused(String reason) {
          assertReason(reason);
          ended.countDown();
        }

        public void onComplete() {
          ended.countDown();
        }
      };
    }
  }

  private static void assertReason(String reason) {
    assertTrue(reason != null && !reason.isBlank(), "paused without a reason");
  }

  private static void assertNoUnexpectedFailure() {
    List<ILoggingEvent> errors;
    synchronized (LOG) {
      errors = LOG.list.stream().filter(e -> e.getLevel() == Level.ERROR).toList();
      LOG.list.clear();
    }
    if (!errors.isEmpty()) {
      ILoggingEvent e = errors.get(0);
      fail("failed unexpectedly: " + e.getFormattedMessage() + (e.getThrowableProxy() == null ? ""
          : ": " + e.getThrowableProxy().getClassName() + ": " + e.getThrowableProxy().getMessage()));
    }
  }

  private static ListAppender<ILoggingEvent> capture(Class<?>... classes) {
    ListAppender<ILoggingEvent> a = new ListAppender<>();
    a.start();
    for (Class<?> c : classes) ((Logger) LoggerFactory.getLogger(c)).addAppender(a);
    return a;
  }

  /** The destination's side of a channel the source dialled: DataChannel.dial reads our acceptance first. */
  private static DataChannel accepted(byte[] wire, DataPlaneSettings settings) {
    Wire.Link link = new Wire.Link(concat(accept(), wire));
    try {
      return DataChannel.dial("127.0.0.1", 1, null, ChannelHeader.getDefaultInstance(),
          settings.withTransport(new Wire.Transport(() -> link)), "fuzz channel");
    } catch (java.io.IOException e) {
      throw new AssertionError("an in-memory dial cannot fail", e);
    }
  }

  private static byte[] accept() {
    return frames(ChannelAccept.newBuilder().setAccepted(true).build());
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  private static byte[] frames(com.google.protobuf.MessageLite... messages) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (com.google.protobuf.MessageLite m : messages) {
      java.nio.ByteBuffer b = new org.livemig.engine.dataplane.FrameCodec(new Wire.Link(new byte[0]),
          FrameDecoderFuzzTest.SETTINGS).encode(m);
      byte[] bytes = new byte[b.remaining()];
      b.get(bytes);
      out.writeBytes(bytes);
    }
    return out.toByteArray();
  }

  /** What a source sends: the handshake, then a batch of pages (page 1 missing, page 2 present) and zero pages. */
  static Stream<byte[]> fromSource() {
    byte[] handshake = frames(Frame.newBuilder().setRecvBitmapRequest(RecvBitmapRequest.getDefaultInstance()).build(),
        Frame.newBuilder().setResume(Resume.getDefaultInstance()).build());
    byte[] pages = FrameDecoderFuzzTest.stream((Object) new Object[] {Frame.newBuilder().setPages(
        org.livemig.messages.Pages.newBuilder().addIndices(1).addIndices(2).addZeroIndices(3).setPayloadBytes(2 * PAGE))
        .build(), new byte[2 * PAGE]});
    return Stream.of(handshake, concat(handshake, pages));
  }

  /** What a destination answers: RECV_BITMAP (half the pages), RESUME_ACK, page requests, end of stream. */
  static Stream<byte[]> fromDestination() {
    long[] words = new long[(int) ((PAGES + 63) / 64)];
    words[0] = 0x5555_5555_5555_5555L;
    byte[] handshake = frames(Frame.newBuilder().setRecvBitmap(RecvBitmap.newBuilder().setPageCount(PAGES)
            .setBitmap(com.google.protobuf.ByteString.copyFrom(DirtyBitmap.toBytes(words)))).build(),
        Frame.newBuilder().setResumeAck(ResumeAck.getDefaultInstance()).build());
    byte[] requests = frames(Frame.newBuilder().setPageRequest(PageRequest.newBuilder().addIndices(1).addIndices(129))
        .build());
    return Stream.of(handshake, concat(handshake, requests));
  }
}
