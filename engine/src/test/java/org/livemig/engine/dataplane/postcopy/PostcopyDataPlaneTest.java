package org.livemig.engine.dataplane.postcopy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.DataPlane;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.FrameCodec;
import org.livemig.engine.dataplane.Guests;
import org.livemig.engine.guest.FaultStats;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.Frame;
import org.livemig.messages.Pages;
import org.livemig.messages.RecvBitmapRequest;
import org.livemig.messages.Resume;
import org.livemig.messages.StreamKind;

/** Postcopy without failures: a running destination faults pages in while the source pushes the rest. */
class PostcopyDataPlaneTest {
  private static final Duration KEEPALIVE = Duration.ofSeconds(2);

  @Test
  void runningGuestFaultsPagesInWhileThePushCompletes() throws Exception {
    try (PostcopyRig rig = new PostcopyRig(PostcopyRig.guest(8192, 20_000), 0.5, KEEPALIVE, true)) {
      assertTrue(rig.missingAtSwitchover > 4096, "half the guest and the discarded pages are missing");
      rig.dst.run("dst"); // before any connection: the first missing page blocks the workload
      rig.assertGuestBlocked();
      long stepsBefore = rig.dst.steps();

      rig.proxy.throttle(32L << 20); // the push of ~17 MiB takes about half a second
      rig.connect();
      rig.awaitActive(1);
      rig.assertCompleteAndCorrect();

      assertTrue(rig.dst.steps() > stepsBefore, "the guest ran during postcopy");
      FaultStats faults = rig.pages.faultStats();
      assertTrue(faults.faults() > 0 && faults.medianNanos() > 0, faults.toString());
      assertTrue(rig.receiver.requestsSent() > 0 && rig.source.requestsReceived() > 0);
      assertTrue(rig.source.urgentPagesSent() > 0, "requested pages were sent on request");
      assertEquals(rig.missingAtSwitchover, rig.source.pagesSent());
      assertEquals(0, rig.source.pagesResent());
      assertEquals(1, rig.source.connections());
      assertEquals(1, rig.receiver.connections());
      assertThrows(IllegalStateException.class, rig::connect, "a complete source does not connect again");
      System.out.printf("postcopy faults on a 32 MiB/s link while the push runs: %d, median %.2f ms, p99 %.2f ms, max %.2f ms%n",
          faults.faults(), faults.medianNanos() / 1e6, faults.p99Nanos() / 1e6, faults.maxNanos() / 1e6);
    }
  }

  @Test
  void requestedPageOvertakesTheBackgroundPush() throws Exception {
    try (PostcopyRig rig = new PostcopyRig(PostcopyRig.guest(8192, 0), 0, KEEPALIVE, true)) {
      long total = rig.missingAtSwitchover;
      assertEquals(8192, total);
      rig.proxy.throttle(8L << 20); // the whole push would take about 4 s
      rig.connect();
      rig.awaitActive(1);
      Thread.sleep(100); // the push is under way
      assertTrue(rig.receiver.pagesReceived() > 0);
      assertThrows(IllegalStateException.class, rig::connect, "one connection at a time");

      long last = total - 1; // the push reaches it last
      long t0 = System.nanoTime();
      CompletableFuture<Boolean> access = CompletableFuture.supplyAsync(() -> rig.pages.awaitPresent(last, () -> true));
      assertTrue(access.get(5, TimeUnit.SECONDS));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      long received = rig.receiver.pagesReceived();
      assertTrue(received < total / 4, "the requested page came after " + received + " of " + total + " pages");
      assertEquals(1, rig.source.urgentPagesSent());
      byte[] expected = new byte[Guests.PAGE];
      byte[] actual = new byte[Guests.PAGE];
      rig.src.memory().readPage(last, expected);
      rig.dst.memory().readPage(last, actual);
      assertArrayEquals(expected, actual);
      System.out.printf("requested last page arrived after %d ms with %d of %d pages pushed (8 MiB/s link)%n", ms, received, total);
    }
  }

  @Test
  void aLateCopyOfAPresentPageIsNeverWritten() throws Exception {
    try (PostcopyRig rig = new PostcopyRig(PostcopyRig.guest(1024, 0), 0.5, KEEPALIVE, true);
        SocketChannel c = Guests.rawConnect(rig.server.port())) {
      FrameCodec codec = rawPostcopyHandshake(c);
      rig.dstEvents.await("active");
      long page = 1000; // missing: only pages below 512 were precopied
      assertFalse(rig.pages.isPresent(page));
      ByteBuffer copy = ByteBuffer.allocate(Guests.PAGE);
      rig.src.memory().readPage(page, copy);
      sendPage(codec, page, copy.flip());
      for (int i = 0; i < 500 && !rig.pages.isPresent(page); i++) Thread.sleep(10);
      assertTrue(rig.pages.isPresent(page));

      byte[] newer = new byte[Guests.PAGE];
      java.util.Arrays.fill(newer, (byte) 0x5A);
      rig.dst.memory().writePage(page, newer); // what the running guest may do once the page is present
      sendPage(codec, page, copy.flip()); // the same page again, e.g. resent after a lost connection
      Guests.writePages(codec, Frame.newBuilder().setPages(Pages.newBuilder().addZeroIndices(page)).build(), ByteBuffer.allocate(0));
      for (int i = 0; i < 500 && rig.receiver.duplicatePages() < 2; i++) Thread.sleep(10);
      assertEquals(2, rig.receiver.duplicatePages());
      byte[] actual = new byte[Guests.PAGE];
      rig.dst.memory().readPage(page, actual);
      assertArrayEquals(newer, actual, "a late copy overwrote what the guest wrote");
      assertEquals(1, rig.receiver.pagesReceived());

      // A page outside the guest pauses the link and writes nothing of its batch.
      Pages bad = Pages.newBuilder().addIndices(900).addIndices(1024).setPayloadBytes(2 * Guests.PAGE).build();
      codec.writeFully(codec.encode(Frame.newBuilder().setPages(bad).build()), ByteBuffer.allocate(2 * Guests.PAGE));
      assertEquals("paused page 1024 outside guest of 1024 pages", rig.dstEvents.await("paused"));
      assertFalse(rig.pages.isPresent(900));
    }
  }

  /** Speaks the source's side of the handshake on a raw socket. */
  private static FrameCodec rawPostcopyHandshake(SocketChannel c) {
    FrameCodec codec = new FrameCodec(c, DataPlaneSettings.defaults());
    codec.writeMessage(Guests.header(DataPlane.PROTOCOL_VERSION, PostcopyRig.ID, PostcopyRig.TOKEN, 0).toBuilder().setKind(StreamKind.POSTCOPY_PAGES).build());
    assertTrue(codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT).getAccepted());
    codec.startChecksums();
    codec.writeMessage(Frame.newBuilder().setRecvBitmapRequest(RecvBitmapRequest.getDefaultInstance()).build());
    assertTrue(codec.readFrame().hasRecvBitmap());
    codec.writeMessage(Frame.newBuilder().setResume(Resume.getDefaultInstance()).build());
    assertTrue(codec.readFrame().hasResumeAck());
    return codec;
  }

  private static void sendPage(FrameCodec codec, long page, ByteBuffer content) {
    Pages p = Pages.newBuilder().addIndices(page).setPayloadBytes(Guests.PAGE).build();
    Guests.writePages(codec, Frame.newBuilder().setPages(p).build(), content);
  }
}
