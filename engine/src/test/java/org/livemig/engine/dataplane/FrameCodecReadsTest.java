package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.livemig.messages.Frame;
import org.livemig.messages.Pages;

/** How the codec reads a checksummed payload's trailer: with what follows it, not in a read of its own. */
class FrameCodecReadsTest {
  private static final int PAYLOAD = 8192;

  @Test
  void aPayloadTrailerComesWithTheNextFrameNotInAFourByteRead() {
    byte[][] payloads = {random(1), random(2), random(3)};
    Wire.Link out = new Wire.Link(new byte[0]);
    FrameCodec writer = new FrameCodec(out, DataPlaneSettings.defaults());
    writer.startChecksums();
    for (int f = 0; f < payloads.length; f++) send(writer, f, payloads[f]);

    Counting in = new Counting(new Wire.Link(out.written()));
    FrameCodec reader = new FrameCodec(in, DataPlaneSettings.defaults());
    reader.startChecksums();
    ByteBuffer dst = ByteBuffer.allocateDirect(PAYLOAD);
    for (int f = 0; f < payloads.length; f++) {
      Frame frame = reader.readFrame();
      assertEquals(f, frame.getPages().getIndices(0));
      dst.clear();
      // Like the receiver: the start of the payload comes from the read buffer, the rest straight into memory.
      reader.readPayloadInto(dst);
      assertTrue(reader.payloadIntact(), "frame " + f);
      byte[] got = new byte[PAYLOAD];
      dst.flip().get(got);
      assertArrayEquals(payloads[f], got, "frame " + f);
    }
    assertFalse(in.asked.contains(FrameCodec.TRAILER), "reads asked for " + in.asked);
  }

  @Test
  void aFlippedPayloadBitIsStillReportedAndTheNextFrameStillReads() {
    byte[] a = random(4);
    Wire.Link out = new Wire.Link(new byte[0]);
    FrameCodec writer = new FrameCodec(out, DataPlaneSettings.defaults());
    writer.startChecksums();
    send(writer, 0, a);
    int firstFrameEnd = out.written().length;
    send(writer, 1, random(5));
    byte[] wire = out.written();
    wire[firstFrameEnd - FrameCodec.TRAILER - 10] ^= 1; // in the first payload

    FrameCodec reader = new FrameCodec(new Wire.Link(wire), DataPlaneSettings.defaults());
    reader.startChecksums();
    ByteBuffer dst = ByteBuffer.allocateDirect(PAYLOAD);
    reader.readFrame();
    reader.readPayloadInto(dst.clear());
    assertFalse(reader.payloadIntact());
    assertEquals(1, reader.readFrame().getPages().getIndices(0));
    reader.readPayloadInto(dst.clear());
    assertTrue(reader.payloadIntact());
  }

  private static void send(FrameCodec writer, long page, byte[] payload) {
    ByteBuffer[] buffers = {null, ByteBuffer.wrap(payload), null};
    buffers[0] = writer.encode(Frame.newBuilder().setPages(Pages.newBuilder().setPayloadBytes(PAYLOAD).addIndices(page)).build());
    buffers[2] = writer.payloadTrailer(buffers, 1, 2);
    writer.writeFully(buffers);
  }

  private static byte[] random(long seed) {
    byte[] b = new byte[PAYLOAD];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Records how many bytes each read asked for; a read returns at most 1000 bytes, as a slow socket would. */
  private static final class Counting implements Connection {
    final List<Integer> asked = new ArrayList<>();
    private final Wire.Link link;

    Counting(Wire.Link link) {
      this.link = link;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      asked.add(dst.remaining());
      ByteBuffer d = dst.duplicate().limit(dst.position() + Math.min(dst.remaining(), 1000));
      int n = link.read(d);
      if (n > 0) dst.position(dst.position() + n);
      return n;
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return read(dsts[offset]);
    }

    @Override
    public long read(ByteBuffer[] dsts) throws IOException {
      return read(dsts, 0, dsts.length);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      return link.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      return link.write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
      return link.write(srcs);
    }

    @Override
    public void shutdownOutput() {
      link.shutdownOutput();
    }

    @Override
    public SocketAddress remoteAddress() {
      return link.remoteAddress();
    }

    @Override
    public boolean isOpen() {
      return link.isOpen();
    }

    @Override
    public void close() {
      link.close();
    }
  }
}
