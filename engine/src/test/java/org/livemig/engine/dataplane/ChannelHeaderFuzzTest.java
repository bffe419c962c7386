package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.StreamKind;

/**
 * The first bytes of a connection to the data port, from anyone: a real DataPlaneServer with one
 * registered migration, over loopback sockets. Every connection is closed and counted: bytes that
 * are not a whole header (by its length) are closed by the handshake gate without an answer; a
 * whole header gets exactly one answer (a refusal with a reason, or the acceptance of a correct
 * header). The server keeps serving. Seeds are headers as a source sends them, right and wrong.
 */
class ChannelHeaderFuzzTest {
  private static final String MIGRATION = "m-1";
  private static final String TOKEN = "token-of-m-1";
  private static final DataPlaneSettings SETTINGS = FrameDecoderFuzzTest.SETTINGS;
  private static final DataPlaneServer SERVER = start();

  private static DataPlaneServer start() {
    DataPlaneServer s = new DataPlaneServer("127.0.0.1", 0, SETTINGS);
    s.start();
    // Many channels: each accepted channel number stays claimed, and the fuzzer may find the token.
    s.expect(MIGRATION, TOKEN, 1 << 16, new RecordingListener(), new GuestMemory(512, 64), new DirtyBitmap(64));
    return s;
  }

  @AfterAll
  static void stop() {
    SERVER.close();
  }

  @MethodSource("headers")
  @FuzzTest(maxDuration = "10s")
  void firstBytes(byte[] wire) throws Exception {
    long refusedBefore = SERVER.refusedChannels();
    byte[] answer;
    try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", SERVER.port()))) {
      c.write(ByteBuffer.wrap(wire));
      c.shutdownOutput();
      c.socket().setSoTimeout(10_000);
      answer = c.socket().getInputStream().readAllBytes(); // until the server closes
    } catch (java.net.SocketTimeoutException e) {
      fail("connection still open 10 s after its last byte");
      return;
    }
    if (answer.length == 0) {
      // The gate closed it (counted before the close): not a whole header.
      assertEquals(refusedBefore + 1, SERVER.refusedChannels(), "a connection closed without an answer and not counted");
      assertFalse(wholeHeader(wire), "a whole header got no answer");
      return;
    }
    ChannelAccept accept;
    try {
      accept = new FrameCodec(new Wire.Link(answer), SETTINGS).readMessage(ChannelAccept.parser(), "answer",
          DataPlane.HANDSHAKE_LIMIT);
    } catch (DataPlaneException e) {
      fail("the server answered nothing readable (" + answer.length + " bytes)", e);
      return;
    }
    if (accept.getAccepted()) {
      assertEquals(refusedBefore, SERVER.refusedChannels(), "accepted and counted as refused");
      assertTrue(acceptable(wire), "accepted a header without the migration's token");
    } else {
      assertFalse(accept.getReason().isBlank(), "refused without a reason");
      assertEquals(refusedBefore + 1, SERVER.refusedChannels(), "a refusal not counted");
    }
  }

  /** Whether the bytes hold a whole first message by its varint length (what the gate waits for). */
  private static boolean wholeHeader(byte[] wire) {
    int needed = TcpTransport.INSTANCE.firstMessageBytes(ByteBuffer.wrap(wire));
    return needed > 0 && needed <= DataPlane.HANDSHAKE_LIMIT + 16 && wire.length >= needed;
  }

  /** Whether the bytes start with a header of the registered migration, its token and a precopy channel. */
  private static boolean acceptable(byte[] wire) {
    ChannelHeader h = new FrameCodec(new Wire.Link(wire), SETTINGS).readMessage(ChannelHeader.parser(), "header",
        DataPlane.HANDSHAKE_LIMIT);
    return h.getProtocolVersion() == DataPlane.PROTOCOL_VERSION && h.getMigrationId().equals(MIGRATION)
        && h.getToken().equals(TOKEN) && h.getKind() == StreamKind.PRECOPY_PAGES;
  }

  static Stream<byte[]> headers() {
    ChannelHeader good = ChannelHeader.newBuilder().setProtocolVersion(DataPlane.PROTOCOL_VERSION)
        .setMigrationId(MIGRATION).setToken(TOKEN).setChannel(0).setKind(StreamKind.PRECOPY_PAGES).build();
    return Stream.of(
        FrameDecoderFuzzTest.stream(), // nothing at all
        encode(good.toBuilder().setToken("wrong").build()),
        encode(good.toBuilder().setMigrationId("other").build()),
        encode(good.toBuilder().setProtocolVersion(1).build()),
        encode(good.toBuilder().setKind(StreamKind.POSTCOPY_PAGES).build()),
        encode(good.toBuilder().setChannel(1 << 20).build()));
  }

  private static byte[] encode(ChannelHeader h) {
    java.nio.ByteBuffer b = new FrameCodec(new Wire.Link(new byte[0]), SETTINGS).encode(h);
    byte[] bytes = new byte[b.remaining()];
    b.get(bytes);
    return bytes;
  }
}
