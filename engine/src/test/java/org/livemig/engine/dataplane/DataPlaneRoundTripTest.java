package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;

class DataPlaneRoundTripTest {
  private final DataPlaneSettings settings = DataPlaneSettings.defaults().withStallTimeout(Duration.ofSeconds(3));
  private DataPlaneServer server;
  private final ExecutorService pool = Executors.newFixedThreadPool(2);

  @BeforeEach
  void start() {
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
  }

  @AfterEach
  void stop() {
    pool.shutdownNow();
    server.close();
  }

  @Test
  void sixteenMiBGuestArrivesByteForByteOverTwoChannels() throws Exception {
    long pages = 4096; // 16 MiB of 4 KiB pages
    GuestMemory source = Guests.randomGuest(pages, 7, 42);
    GuestMemory dest = Guests.randomGuest(pages, 0, 99); // stale garbage: zero pages must overwrite it
    DirtyBitmap received = new DirtyBitmap(pages);
    RecordingListener listener = new RecordingListener();
    server.expect("m-1", "secret", 2, listener, dest, received);
    long[] dirty = Guests.allPages(pages);
    byte[] device = "cpu registers and device queues".getBytes();

    List<Future<SendStats>> results = List.of(0, 1).stream().map(ch -> pool.submit(() -> {
      try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-1", "secret", ch, settings)) {
        SendStats stats = s.sendPages(source, dirty, 2, ch);
        if (ch == 0) s.sendDeviceState(device);
        s.sendIterationEnd(1, stats.pages());
        s.sendEndOfStream(stats.pages());
        return stats;
      }
    })).toList();
    SendStats total = results.get(0).get().plus(results.get(1).get());

    Set<String> eos = new HashSet<>(List.of(listener.awaitEndOfStream(), listener.awaitEndOfStream()));
    assertEquals(Set.of("0 2048", "1 2048"), eos);
    Guests.assertSameMemory(source, dest);
    assertEquals(pages, received.count(), "every page marked received");
    long expectedZero = (pages + 5) / 7; // pages with p % 7 == 1
    assertEquals(pages, total.pages());
    assertEquals(expectedZero, total.zeroPages());
    assertTrue(total.bytes() >= (pages - expectedZero) * Guests.PAGE, "payload bytes counted");
    assertTrue(total.bytes() < (pages - expectedZero) * Guests.PAGE + 64 * 1024, "zero pages carried no payload");
    assertEquals(1, listener.deviceStates.size());
    assertArrayEquals(device, listener.deviceStates.get(0));
    assertTrue(listener.events.contains("iteration-end 1 2048"), listener.events.toString());
    assertTrue(listener.failures.isEmpty(), listener.failures.toString());
  }

  @Test
  void aRoundEndsOnlyWhenEveryPageIsInTheDestinationsMemory() throws Exception {
    long pages = 8192; // 32 MiB: far more than the socket buffers hold
    GuestMemory source = Guests.randomGuest(pages, 0, 5);
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    DirtyBitmap received = new DirtyBitmap(pages);
    server.expect("m-round", "t", 1, new RecordingListener(), dest, received);
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-round", "t", 0, settings)) {
      SendStats stats = s.sendPages(source, Guests.allPages(pages));
      assertNull(s.endRound(1, stats.pages(), pages), "no page rejected on an intact link");
      // No waiting here: the echo came after the receiver had written the whole round.
      assertEquals(pages, received.count(), "every page of the round is in memory when endRound returns");
      Guests.assertSameMemory(source, dest);
    }
  }

  @Test
  void aSecondRoundOverwritesPagesThatHadArrivedAndFillsThoseThatHadNot() throws Exception {
    long pages = 1024;
    GuestMemory source = Guests.randomGuest(pages, 0, 11);
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    DirtyBitmap received = new DirtyBitmap(pages);
    server.expect("m-two", "t", 1, new RecordingListener(), dest, received);
    DirtyBitmap first = new DirtyBitmap(pages);
    for (long p = 0; p < pages; p += 2) first.mark(p); // even pages arrive in round 1
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-two", "t", 0, settings)) {
      s.endRound(1, s.sendPages(source, first.syncAndClear()).pages(), pages);
      // The guest dirties every page: round 2 mixes pages that had arrived (read into the
      // staging buffer, then applied) with pages arriving first (read straight into memory).
      for (long p = 0; p < pages; p++) source.putLong(p, 8, ~source.getLong(p, 8));
      s.endRound(2, s.sendPages(source, Guests.allPages(pages)).pages(), pages);
    }
    assertEquals(pages, received.count());
    Guests.assertSameMemory(source, dest);
  }

  @Test
  void onlyDirtyPagesAreSentAndForgetIsIdempotent() throws Exception {
    long pages = 256;
    GuestMemory source = Guests.randomGuest(pages, 0, 7);
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    DirtyBitmap dirty = new DirtyBitmap(pages);
    for (long p = 3; p < pages; p += 10) dirty.mark(p);
    DirtyBitmap received = new DirtyBitmap(pages);
    RecordingListener listener = new RecordingListener();
    server.expect("m-2", "t", 1, listener, dest, received);
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-2", "t", 0, settings.withBatchPages(4))) {
      SendStats stats = s.sendPages(source, dirty.syncAndClear());
      assertEquals(26, stats.pages());
      s.sendEndOfStream(stats.pages());
    }
    assertEquals("0 26", listener.awaitEndOfStream());
    byte[] a = new byte[Guests.PAGE];
    byte[] b = new byte[Guests.PAGE];
    for (long p = 0; p < pages; p++) {
      boolean sent = p % 10 == 3;
      assertEquals(sent, received.isSet(p), "page " + p);
      if (sent) {
        source.readPage(p, a);
        dest.readPage(p, b);
        assertArrayEquals(a, b, "page " + p);
      } else {
        assertTrue(dest.isZeroPage(p), "unsent page " + p + " untouched");
      }
    }
    server.forget("m-2");
    server.forget("m-2");
  }

  @Test
  void forgetClosesOpenChannelsQuietlyAndRefusesLaterOnes() throws Exception {
    long pages = 16;
    RecordingListener listener = new RecordingListener();
    server.expect("m-3", "t", 2, listener, new GuestMemory(Guests.PAGE, pages), new DirtyBitmap(pages));
    try (java.nio.channels.SocketChannel c = Guests.rawConnect(server.port())) {
      Guests.rawHandshake(c, "m-3", "t", 0);
      server.forget("m-3");
      // The server closed our channel: the next read sees EOF (or a reset).
      int r;
      try {
        r = c.read(java.nio.ByteBuffer.allocate(8));
      } catch (java.io.IOException reset) {
        r = -1;
      }
      assertEquals(-1, r);
    }
    DataPlaneException e = org.junit.jupiter.api.Assertions.assertThrows(DataPlaneException.class,
        () -> PageSender.connect("127.0.0.1", server.port(), "m-3", "t", 1, settings));
    assertTrue(e.getMessage().contains("unknown migration m-3"), e.getMessage());
    Thread.sleep(100);
    assertTrue(listener.failures.isEmpty(), "forget is cleanup, not a failure: " + listener.events);
  }

  @Test
  void endOfStreamCarriesThePostcopyDiscardBeforeItEnds() throws Exception {
    long n = 200;
    RecordingListener listener = new RecordingListener();
    server.expect("m-d", "t", 1, listener, new GuestMemory(Guests.PAGE, n), new DirtyBitmap(n));
    DirtyBitmap discard = new DirtyBitmap(n);
    discard.mark(3);
    discard.mark(199);
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-d", "t", 0, settings)) {
      s.sendEndOfStream(0, discard.snapshot());
    }
    assertEquals("0 0", listener.awaitEndOfStream());
    assertArrayEquals(discard.snapshot(), listener.discards.get(0));
    assertTrue(listener.events.indexOf("discard 2") < listener.events.indexOf("eos 0 0"), listener.events.toString());
  }

  @Test
  void malformedOrUnhandledDiscardFailsTheChannel() throws Exception {
    long n = 200;
    RecordingListener bad = new RecordingListener();
    server.expect("m-bad", "t", 1, bad, new GuestMemory(Guests.PAGE, n), new DirtyBitmap(n));
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = Guests.rawHandshake(c, "m-bad", "t", 0);
      codec.writeMessage(Frame.newBuilder().setEos(EndOfStream.newBuilder()
          .setPostcopyDiscard(ByteString.copyFrom(new byte[8]))).build()); // 200 pages need 32 bytes
      assertTrue(bad.awaitFailure(5).startsWith("malformed postcopy discard"));
    }
    assertTrue(bad.endOfStreams.isEmpty() && bad.discards.isEmpty(), bad.events.toString());

    // A listener that knows nothing of postcopy must not end the stream as if every page were valid.
    RecordingListener precopyOnly = new RecordingListener();
    precopyOnly.handlesPostcopy = false;
    server.expect("m-old", "t", 1, precopyOnly, new GuestMemory(Guests.PAGE, n), new DirtyBitmap(n));
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-old", "t", 0, settings)) {
      s.sendEndOfStream(0, new long[4]);
      assertEquals("this destination does not handle a postcopy discard", precopyOnly.awaitFailure(5));
    }
    assertTrue(precopyOnly.endOfStreams.isEmpty(), precopyOnly.events.toString());
  }
}
