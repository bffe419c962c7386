package org.livemig.engine.dataplane;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.util.zip.CRC32C;
import org.livemig.messages.Frame;

/**
 * Length-delimited protobuf messages plus raw page payloads on one blocking byte channel (a
 * transport {@link Connection}; tests also use a raw socket to break the protocol on purpose).
 * Payloads are read into and gather-written from the caller's buffers, i.e. guest memory.
 * Not thread-safe: one reading thread and one writing thread at most. Only the activity
 * counters are read from other threads (stall watchdogs).
 *
 * <p>Once {@link #startChecksums} was called (after the handshake, on a transport that does not
 * protect integrity itself), every message is followed by the CRC32C of its bytes, and every
 * Pages payload, even an empty one, by the CRC32C of the payload: a flipped bit in a frame fails
 * the channel before the frame is used, and a flipped bit in a payload is reported to the
 * receiver before any page of it counts as received.
 */
public final class FrameCodec {
  private static final int READ_BUFFER = 64 * 1024;
  /** A CRC32C, little-endian. */
  public static final int TRAILER = 4;

  // One object: the transport's connection (or a raw socket in tests).
  private final ReadableByteChannel input;
  private final GatheringByteChannel output;
  private final int maxFrameBytes;
  private final int maxPayloadBytes;
  // Read side: bytes received but not yet consumed, kept in read mode (position..limit).
  private final ByteBuffer in = ByteBuffer.allocateDirect(READ_BUFFER).flip();
  // Write side: varint + encoded message, grown on demand up to the frame limit.
  private ByteBuffer out = ByteBuffer.allocateDirect(4096);
  private boolean checksums;
  private final boolean transportCopies;
  private final CRC32C frameCrc = new CRC32C(); // reader thread: the message being read
  private final CRC32C readCrc = new CRC32C(); // reader thread: the payload being read
  private final CRC32C writeCrc = new CRC32C(); // writer thread
  private final ByteBuffer payloadTrailer = ByteBuffer.allocateDirect(TRAILER).order(ByteOrder.LITTLE_ENDIAN);

  private volatile long lastActivityNanos = System.nanoTime();
  private volatile long lastReadNanos = lastActivityNanos;
  private volatile long bytesRead;
  private volatile long bytesWritten;

  public <C extends ReadableByteChannel & GatheringByteChannel> FrameCodec(C channel, DataPlaneSettings settings) {
    this.input = channel;
    this.output = channel;
    this.maxFrameBytes = settings.maxFrameBytes();
    this.maxPayloadBytes = settings.maxPayloadBytes();
    this.transportCopies = channel instanceof Connection c && c.copiesThroughOwnBuffers();
  }

  /**
   * Whether page payloads go through a staging buffer of the caller's: always where the kernel
   * reads and writes the caller's buffers, or where a checksum must pass before a page counts;
   * not over a transport that copies every byte through buffers of its own (TLS, see
   * {@link Connection#copiesThroughOwnBuffers}), where staging would be one copy more.
   */
  public boolean stagesPayloads() {
    return !transportCopies || checksums;
  }

  /**
   * From now on both directions carry checksums. Called by both ends right after the handshake,
   * which itself goes without (the header is authenticated by its token, and a torn header
   * fails to parse or is refused).
   */
  public void startChecksums() {
    checksums = true;
  }

  public boolean checksums() {
    return checksums;
  }

  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  public int maxPayloadBytes() {
    return maxPayloadBytes;
  }

  /** Last time any byte was read or written; stall watchdogs compare it with now. */
  public long lastActivityNanos() {
    return lastActivityNanos;
  }

  /** Last time any byte was read: a postcopy link is dead when the peer has sent nothing, whatever we wrote. */
  public long lastReadNanos() {
    return lastReadNanos;
  }

  public long bytesRead() {
    return bytesRead;
  }

  public long bytesWritten() {
    return bytesWritten;
  }

  // ---- reading ----

  public Frame readFrame() {
    return readMessage(Frame.parser(), "frame", maxFrameBytes);
  }

  /** Reads one varint-length-delimited message whose encoded size may not exceed limit. */
  public <T> T readMessage(Parser<T> parser, String what, int limit) {
    int len = readLength(what);
    if (len > limit) throw new DataPlaneException(what + " of " + len + " bytes exceeds limit " + limit);
    ByteBuffer body;
    // The trailer is buffered with the body: reading it must not compact the body's bytes away.
    if (len + (checksums ? TRAILER : 0) <= in.capacity()) {
      ensure(len + (checksums ? TRAILER : 0), what);
      body = in.slice(in.position(), len);
      in.position(in.position() + len);
    } else {
      // Rare: a frame larger than the read buffer (e.g. a big device state); bounded by limit.
      body = ByteBuffer.allocate(len);
      int buffered = Math.min(in.remaining(), len);
      body.put(0, in, in.position(), buffered).position(buffered);
      in.position(in.position() + buffered);
      readInto(body, what);
      body.flip();
    }
    readCrc.reset();
    if (checksums) {
      frameCrc.reset();
      frameCrc.update(body.duplicate());
      if (readTrailer(what) != (int) frameCrc.getValue()) {
        throw new DataPlaneException(what + " of " + len + " bytes failed its checksum: the link corrupts data");
      }
    }
    try {
      return parser.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw new DataPlaneException("malformed " + what + ": " + e.getMessage(), e);
    }
  }

  /** Reads exactly len payload bytes into dst (cleared first) and flips it for reading. */
  public void readPayload(ByteBuffer dst, int len) {
    dst.clear().limit(len);
    readPayloadInto(dst);
    dst.flip();
  }

  /** Reads exactly dst.remaining() payload bytes into dst from its position (which ends at its limit). */
  public void readPayloadInto(ByteBuffer dst) {
    int start = dst.position();
    Sockets.move(in, dst);
    readInto(dst, "payload");
    if (checksums) {
      int end = dst.position();
      int limit = dst.limit();
      readCrc.update(dst.limit(end).position(start)); // moves position back to end; no view per run
      dst.limit(limit);
    }
  }

  /**
   * Ends the payload of the frame read last: true when it arrived intact (always, without
   * checksums). Call it after the payload's last byte and before any page of it counts.
   */
  public boolean payloadIntact() {
    return !checksums || readTrailer("payload checksum") == (int) readCrc.getValue();
  }

  /**
   * The 4 trailer bytes, through the read buffer: after a payload read straight into guest
   * memory the trailer is not buffered yet, and one read then brings it together with whatever
   * follows (the next frame's head), instead of a 4-byte read and another for the next frame.
   */
  private int readTrailer(String what) {
    ensure(TRAILER, what + " checksum");
    return Integer.reverseBytes(in.getInt()); // little-endian
  }

  private int readLength(String what) {
    int result = 0;
    for (int i = 0; i < 5; i++) {
      if (!in.hasRemaining()) fill(i == 0 ? null : what + " length");
      byte b = in.get();
      result |= (b & 0x7f) << (7 * i);
      if (b >= 0) {
        if (result < 0) throw new DataPlaneException("malformed " + what + " length: negative");
        return result;
      }
    }
    throw new DataPlaneException("malformed " + what + " length: varint longer than 5 bytes");
  }

  /** Makes at least n unread bytes available in the read buffer. */
  private void ensure(int n, String what) {
    while (in.remaining() < n) fill(what);
  }

  /** Reads more bytes into the read buffer; midFrame names what was being read, null at a frame boundary. */
  private void fill(String midFrame) {
    in.compact();
    int r;
    try {
      r = input.read(in);
    } catch (IOException e) {
      throw new DataPlaneException("read failed: " + e, e);
    } finally {
      in.flip();
    }
    if (r < 0) {
      throw new DataPlaneException(midFrame == null ? "connection closed by peer" : "connection closed mid-frame (in " + midFrame + ")");
    }
    progressRead(r);
  }

  private void readInto(ByteBuffer dst, String what) {
    while (dst.hasRemaining()) {
      int r;
      try {
        r = input.read(dst);
      } catch (IOException e) {
        throw new DataPlaneException("read failed: " + e, e);
      }
      if (r < 0) {
        throw new DataPlaneException("connection closed mid-frame (" + what + " at " + dst.position() + " of " + dst.limit() + " bytes)");
      }
      progressRead(r);
    }
  }

  private void progressRead(int r) {
    if (r > 0) {
      bytesRead += r; // single reader thread
      long now = System.nanoTime();
      lastReadNanos = now;
      lastActivityNanos = now;
    }
  }

  // ---- writing ----

  /** Encodes varint length + message into the reusable output buffer and returns it ready to write. */
  public ByteBuffer encode(MessageLite message) {
    int size = message.getSerializedSize();
    if (size > maxFrameBytes) throw new DataPlaneException("frame of " + size + " bytes exceeds limit " + maxFrameBytes);
    int total = CodedOutputStream.computeUInt32SizeNoTag(size) + size + (checksums ? TRAILER : 0);
    if (out.capacity() < total) out = ByteBuffer.allocateDirect(Math.max(total, out.capacity() * 2));
    out.clear();
    try {
      CodedOutputStream cos = CodedOutputStream.newInstance(out);
      cos.writeUInt32NoTag(size);
      message.writeTo(cos);
      cos.flush();
      if (checksums) {
        writeCrc.reset();
        int bodyStart = total - TRAILER - size;
        writeCrc.update(out.duplicate().position(bodyStart).limit(bodyStart + size));
        out.putInt(out.position(), Integer.reverseBytes((int) writeCrc.getValue())); // little-endian
        out.position(out.position() + TRAILER);
      }
    } catch (IOException e) {
      throw new DataPlaneException("cannot encode " + message.getClass().getSimpleName() + ": " + e, e);
    }
    out.flip();
    return out;
  }

  /**
   * The trailer of a payload made of buffers[from .. to) (their remaining bytes, not consumed):
   * its CRC32C, ready to write after it; null without checksums. Valid until the next call.
   */
  public ByteBuffer payloadTrailer(ByteBuffer[] buffers, int from, int to) {
    if (!checksums) return null;
    writeCrc.reset();
    for (int i = from; i < to; i++) {
      int position = buffers[i].position();
      writeCrc.update(buffers[i]); // consumes it: put the position back rather than make a view per buffer
      buffers[i].position(position);
    }
    return payloadTrailer.clear().putInt(0, (int) writeCrc.getValue());
  }

  /** Writes one message (header, accept or a frame without payload). */
  public void writeMessage(MessageLite message) {
    writeFully(encode(message));
  }

  /** Gather-writes all buffers (none null) completely. */
  public void writeFully(ByteBuffer... buffers) {
    writeFully(buffers, 0, buffers.length);
  }

  /** Gather-writes buffers[offset .. offset + length) completely. */
  public void writeFully(ByteBuffer[] buffers, int offset, int length) {
    try {
      while (hasRemaining(buffers, offset, length)) {
        long w = output.write(buffers, offset, length);
        if (w > 0) {
          bytesWritten += w; // single writer thread
          lastActivityNanos = System.nanoTime();
        }
      }
    } catch (IOException e) {
      throw new DataPlaneException("write failed: " + e, e);
    }
  }

  private static boolean hasRemaining(ByteBuffer[] buffers, int offset, int length) {
    for (int i = offset + length - 1; i >= offset; i--) if (buffers[i].hasRemaining()) return true;
    return false;
  }
}
