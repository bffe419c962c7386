package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.StreamKind;

/** Every refusal answers with a reason, is counted, and leaves the migration intact for the right peer. */
class DataPlaneRefusalTest {
  private static final long PAGES = 64;
  private final DataPlaneSettings settings = DataPlaneSettings.defaults()
      .withHandshakeTimeout(Duration.ofMillis(400)).withStallTimeout(Duration.ofSeconds(3));
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
    server.expect("m-1", "right-token", 2, listener, dest, received);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void wrongTokenIsRefused() throws Exception {
    DataPlaneException e = assertThrows(DataPlaneException.class,
        () -> PageSender.connect("127.0.0.1", server.port(), "m-1", "guess", 0, settings));
    // The peer is told what an unknown migration is told; the destination's log keeps which it was.
    assertTrue(e.getMessage().contains("unknown migration m-1 or wrong token"), e.getMessage());
    assertRefusedOnceWithNothingChanged("wrong token for migration m-1");
    assertFalse(e.getMessage().contains("right-token"), "the token never appears in a reason");
  }

  @Test
  void unknownMigrationIsRefused() throws Exception {
    DataPlaneException e = assertThrows(DataPlaneException.class,
        () -> PageSender.connect("127.0.0.1", server.port(), "m-other", "right-token", 0, settings));
    assertTrue(e.getMessage().contains("unknown migration m-other or wrong token"), e.getMessage());
    assertRefusedOnceWithNothingChanged("unknown migration m-other");
  }

  @Test
  void wrongProtocolVersionIsRefused() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = new FrameCodec(c, settings);
      codec.writeMessage(Guests.header(DataPlane.PROTOCOL_VERSION + 1, "m-1", "right-token", 0));
      ChannelAccept a = codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT);
      assertFalse(a.getAccepted());
      assertEquals("unsupported protocol version 3 (expected 2)", a.getReason());
    }
    assertRefusedOnceWithNothingChanged("unsupported protocol version 3 (expected 2)");
  }

  @Test
  void streamKindWithoutHandlerIsRefused() throws Exception {
    // Channel 1: the helper below connects precopy channel 1, so the refusal must not have claimed it.
    ChannelAccept a = rawHeader(Guests.header(DataPlane.PROTOCOL_VERSION, "m-1", "right-token", 1).toBuilder()
        .setKind(StreamKind.DISK_BLOCKS).build());
    assertFalse(a.getAccepted());
    assertEquals("migration m-1 expects no DISK_BLOCKS stream", a.getReason());
    assertRefusedOnceWithNothingChanged("migration m-1 expects no DISK_BLOCKS stream");
  }

  @Test
  void unknownStreamKindIsRefused() throws Exception {
    ChannelAccept a = rawHeader(Guests.header(DataPlane.PROTOCOL_VERSION, "m-1", "right-token", 1).toBuilder()
        .setKindValue(9).build()); // from a newer peer
    assertFalse(a.getAccepted());
    assertEquals("unknown stream kind 9 for migration m-1", a.getReason());
    assertRefusedOnceWithNothingChanged("unknown stream kind 9 for migration m-1");
  }

  private ChannelAccept rawHeader(ChannelHeader header) throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = new FrameCodec(c, settings);
      codec.writeMessage(header);
      return codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT);
    }
  }

  @Test
  void garbageInsteadOfHeaderIsRefused() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      byte[] garbage = new byte[17];
      garbage[0] = 16; // a plausible length, then bytes no protobuf parser accepts
      for (int i = 1; i < garbage.length; i++) garbage[i] = (byte) 0xFF;
      c.write(ByteBuffer.wrap(garbage));
      ChannelAccept a = new FrameCodec(c, settings).readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT);
      assertFalse(a.getAccepted());
      assertTrue(a.getReason().startsWith("malformed header"), a.getReason());
    }
    assertEquals(1, server.refusedChannels());
    assertTrue(server.refusalReasons().get(0).startsWith("malformed header"));
    assertRefusedOnceWithNothingChanged(server.refusalReasons().get(0));
  }

  @Test
  void silentConnectionIsRefusedAfterHandshakeTimeout() throws Exception {
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      long t0 = System.nanoTime();
      // The server closes without an answer: our read sees EOF.
      assertEquals(-1, c.read(ByteBuffer.allocate(16)));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms >= 350 && ms < 3000, "closed after " + ms + " ms");
    }
    assertRefusedOnceWithNothingChanged("no header within 400 ms");
  }

  @Test
  void channelOutOfRangeAndDuplicateChannelAreRefused() throws Exception {
    DataPlaneException range = assertThrows(DataPlaneException.class,
        () -> PageSender.connect("127.0.0.1", server.port(), "m-1", "right-token", 2, settings));
    assertTrue(range.getMessage().contains("channel 2 out of range"), range.getMessage());
    try (PageSender first = PageSender.connect("127.0.0.1", server.port(), "m-1", "right-token", 0, settings)) {
      DataPlaneException dup = assertThrows(DataPlaneException.class,
          () -> PageSender.connect("127.0.0.1", server.port(), "m-1", "right-token", 0, settings));
      assertTrue(dup.getMessage().contains("duplicate channel 0 for migration m-1"), dup.getMessage());
      assertEquals(2, server.refusedChannels());
      // The first channel 0 is unaffected by the refused duplicate.
      long[] dirty = Guests.allPages(PAGES);
      GuestMemory source = Guests.randomGuest(PAGES, 0, 5);
      first.sendPages(source, dirty);
      first.sendEndOfStream(PAGES);
      assertEquals("0 64", listener.awaitEndOfStream());
      Guests.assertSameMemory(source, dest);
    }
  }

  /** The refusal was counted with this reason, nothing reached the guest, and the right peer still gets through. */
  private void assertRefusedOnceWithNothingChanged(String reason) throws Exception {
    // The peer may see the close a moment before the server thread has counted the refusal.
    for (int i = 0; i < 100 && server.refusedChannels() == 0; i++) Thread.sleep(20);
    assertEquals(1, server.refusedChannels());
    assertEquals(reason, server.refusalReasons().get(0));
    Guests.assertAllZero(dest);
    assertEquals(0, received.count());
    assertTrue(listener.events.isEmpty(), "listener heard nothing: " + listener.events);

    GuestMemory source = Guests.randomGuest(PAGES, 3, 11);
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-1", "right-token", 1, settings)) {
      s.sendDeviceState(new byte[] {1, 2, 3});
      SendStats stats = s.sendPages(source, Guests.allPages(PAGES));
      s.sendEndOfStream(stats.pages());
    }
    assertEquals("1 64", listener.awaitEndOfStream());
    Guests.assertSameMemory(source, dest);
    assertEquals(PAGES, received.count());
    assertArrayEquals(new byte[] {1, 2, 3}, listener.deviceStates.get(0));
    assertEquals(1, server.refusedChannels(), "the right peer was not refused");
  }
}
