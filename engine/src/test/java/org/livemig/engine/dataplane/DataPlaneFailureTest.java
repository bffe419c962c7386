package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.livemig.messages.Pages;

/** Broken peers after a valid handshake, stalls, abort and the bandwidth cap. */
class DataPlaneFailureTest {
  private static final long PAGES = 64;
  private final DataPlaneSettings settings = DataPlaneSettings.defaults().withStallTimeout(Duration.ofMillis(400));
  private DataPlaneServer server;
  private GuestMemory dest;
  private DirtyBitmap received;
  private RecordingListener listener;

  @BeforeEach
  void start() {
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
    dest = new GuestMemory(Guests.PAGE, PAGES);
    received = new DirtyBitmap(PAGES);
    listener = new RecordingListener();
    server.expect("m-1", "tok", 1, listener, dest, received);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void truncatedPagesFrameMarksNoPageAndChangesNoPageThatHadArrived() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = Guests.rawHandshake(c, "m-1", "tok", 0);
      // Page 2 arrives whole first.
      ByteBuffer whole = ByteBuffer.allocate(Guests.PAGE);
      while (whole.hasRemaining()) whole.put((byte) 0x11);
      Guests.writePages(codec, Frame.newBuilder().setPages(Pages.newBuilder().addIndices(2)
          .setPayloadBytes(Guests.PAGE)).build(), whole.flip());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (!received.isSet(2) && System.nanoTime() < deadline) Thread.sleep(10);
      assertTrue(received.isSet(2), "page 2 arrived");
      // Then pages 1-3 again, cut inside page 2: page 1 (missing until now) and part of page 2.
      Pages pages = Pages.newBuilder().addIndices(1).addIndices(2).addIndices(3).setPayloadBytes(3 * Guests.PAGE).build();
      ByteBuffer partial = ByteBuffer.allocate(Guests.PAGE + 100);
      while (partial.hasRemaining()) partial.put((byte) 0xAB);
      codec.writeFully(codec.encode(Frame.newBuilder().setPages(pages).build()), partial.flip());
    } // close mid-payload
    String reason = listener.awaitFailure(5);
    assertTrue(reason.startsWith("connection closed mid-frame"), reason);
    assertEquals(1, received.count(), "only page 2, from its whole batch, is marked received");
    byte[] page2 = new byte[Guests.PAGE];
    dest.readPage(2, page2);
    for (byte b : page2) assertEquals((byte) 0x11, b, "the page that had arrived is unchanged");
  }

  @Test
  void oversizedFrameIsRejectedNamingTheLimit() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      Guests.rawHandshake(c, "m-1", "tok", 0);
      c.write(ByteBuffer.wrap(new byte[] {(byte) 0x80, (byte) 0x89, (byte) 0x7A})); // varint 2000000
      String reason = listener.awaitFailure(5);
      assertEquals("frame of 2000000 bytes exceeds limit 1048576", reason);
    }
    assertNothingWritten();
  }

  @Test
  void payloadSizeNotMatchingIndicesIsRejected() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = Guests.rawHandshake(c, "m-1", "tok", 0);
      Pages pages = Pages.newBuilder().addIndices(1).addIndices(2).setPayloadBytes(Guests.PAGE).build();
      codec.writeFully(codec.encode(Frame.newBuilder().setPages(pages).build()), ByteBuffer.allocate(Guests.PAGE));
      String reason = listener.awaitFailure(5);
      assertEquals("payload_bytes 4096 does not match 2 pages of 4096 bytes", reason);
    }
    assertNothingWritten();
  }

  @Test
  void silentSenderIsFailedAsStalled() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      Guests.rawHandshake(c, "m-1", "tok", 0);
      long t0 = System.nanoTime();
      String reason = listener.awaitFailure(5);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(reason.startsWith("no data for "), reason);
      assertTrue(ms >= 350 && ms < 2000, "stall detected after " + ms + " ms");
    }
    assertNothingWritten();
  }

  @Test
  void abortUnblocksASenderStuckOnADestinationThatDoesNotRead() throws Exception {
    try (ServerSocketChannel deaf = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
      CompletableFuture<SocketChannel> peer = CompletableFuture.supplyAsync(() -> {
        try {
          SocketChannel c = deaf.accept();
          FrameCodec codec = new FrameCodec(c, settings);
          codec.readMessage(ChannelHeader.parser(), "header", DataPlane.HANDSHAKE_LIMIT);
          codec.writeMessage(ChannelAccept.newBuilder().setAccepted(true).build());
          codec.startChecksums();
          return c; // and never read again
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      int port = deaf.socket().getLocalPort();
      PageSender sender = PageSender.connect("127.0.0.1", port, "m-1", "tok", 0, settings);
      GuestMemory source = Guests.randomGuest(2048, 0, 3); // 8 MiB per round
      long[] dirty = Guests.allPages(2048);
      CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
        while (true) sender.sendPages(source, dirty);
      });
      // Wait until the socket buffers are full: no progress for 300 ms.
      long last = -1;
      while (sender.bytesSent() != last || System.nanoTime() - sender.lastProgressNanos() < 300_000_000L) {
        last = sender.bytesSent();
        Thread.sleep(100);
      }
      long t0 = System.nanoTime();
      sender.abort("destination stalled in test");
      ExecutionException e = assertThrows(ExecutionException.class, () -> sending.get(2, TimeUnit.SECONDS));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(e.getCause() instanceof DataPlaneException, e.getCause().toString());
      assertTrue(e.getCause().getMessage().contains("destination stalled in test"), e.getCause().getMessage());
      assertTrue(ms < 1000, "unblocked after " + ms + " ms");
      sender.close();
      sender.close(); // idempotent
      peer.get(1, TimeUnit.SECONDS).close();
    }
  }

  @Test
  void bandwidthCapIsHonoured() throws Exception {
    long pages = 6144; // 24 MiB
    GuestMemory source = Guests.randomGuest(pages, 0, 8);
    GuestMemory target = new GuestMemory(Guests.PAGE, pages);
    RecordingListener l = new RecordingListener();
    server.expect("m-bw", "tok", 1, l, target, new DirtyBitmap(pages));
    long cap = 16L << 20;
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-bw", "tok", 0, settings)) {
      s.setMaxBandwidth(cap);
      long t0 = System.nanoTime();
      SendStats stats = s.sendPages(source, Guests.allPages(pages));
      double seconds = (System.nanoTime() - t0) / 1e9;
      s.sendEndOfStream(stats.pages());
      double rate = stats.bytes() / seconds;
      assertTrue(Math.abs(rate - cap) < cap * 0.10, "rate " + (long) rate + " B/s vs cap " + cap);
    }
    assertEquals("0 6144", l.awaitEndOfStream());
    Guests.assertSameMemory(source, target);
  }

  private void assertNothingWritten() {
    Guests.assertAllZero(dest);
    assertEquals(0, received.count());
    assertTrue(listener.events.stream().noneMatch(e -> e.startsWith("eos") || e.startsWith("device")), listener.events.toString());
  }
}
