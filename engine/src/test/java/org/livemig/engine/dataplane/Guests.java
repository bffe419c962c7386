package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.SplittableRandom;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;

/** Test helpers: guests with known content, raw sockets that speak (or break) the protocol. */
public final class Guests {
  public static final int PAGE = 4096;

  private Guests() {}

  /** Random content, except every page with page % zeroEvery == 1 stays zero. */
  public static GuestMemory randomGuest(long pages, int zeroEvery, long seed) {
    GuestMemory m = new GuestMemory(PAGE, pages);
    SplittableRandom r = new SplittableRandom(seed);
    for (long p = 0; p < pages; p++) {
      if (zeroEvery > 0 && p % zeroEvery == 1) continue;
      for (int off = 0; off < PAGE; off += 8) m.putLong(p, off, r.nextLong());
    }
    return m;
  }

  public static long[] allPages(long pages) {
    DirtyBitmap b = new DirtyBitmap(pages);
    b.markAll();
    return b.syncAndClear();
  }

  public static void assertSameMemory(GuestMemory expected, GuestMemory actual) {
    assertEquals(expected.pageCount(), actual.pageCount());
    byte[] a = new byte[PAGE];
    byte[] b = new byte[PAGE];
    for (long p = 0; p < expected.pageCount(); p++) {
      expected.readPage(p, a);
      actual.readPage(p, b);
      assertArrayEquals(a, b, "page " + p + " differs");
    }
  }

  public static void assertAllZero(GuestMemory m) {
    for (long p = 0; p < m.pageCount(); p++) {
      if (!m.isZeroPage(p)) fail("page " + p + " was written");
    }
  }

  public static SocketChannel rawConnect(int port) throws IOException {
    SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
    c.socket().setSoTimeout(5000);
    return c;
  }

  /** Handshakes correctly on a raw socket and returns its codec for writing hand-made frames. */
  public static FrameCodec rawHandshake(SocketChannel c, String migrationId, String token, int channel) {
    FrameCodec codec = new FrameCodec(c, DataPlaneSettings.defaults());
    codec.writeMessage(header(DataPlane.PROTOCOL_VERSION, migrationId, token, channel));
    ChannelAccept a = codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT);
    if (!a.getAccepted()) fail("raw handshake refused: " + a.getReason());
    codec.startChecksums(); // as the real ends do on plain TCP
    return codec;
  }

  /** Writes a Pages frame and its whole payload, with the payload's checksum when the codec has checksums. */
  public static void writePages(FrameCodec codec, Frame frame, ByteBuffer payload) {
    ByteBuffer head = codec.encode(frame);
    ByteBuffer trailer = codec.payloadTrailer(new ByteBuffer[] {payload}, 0, 1);
    if (trailer == null) codec.writeFully(head, payload);
    else codec.writeFully(head, payload, trailer);
  }

  public static ChannelHeader header(int version, String migrationId, String token, int channel) {
    return ChannelHeader.newBuilder()
        .setProtocolVersion(version).setMigrationId(migrationId).setToken(token).setChannel(channel).build();
  }
}
