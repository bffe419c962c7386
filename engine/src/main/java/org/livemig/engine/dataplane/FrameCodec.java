package org.livemig.engine.dataplane;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import org.livemig.messages.Frame;

/**
 * Length-delimited protobuf messages plus raw page payloads on one blocking byte channel (a
 * transport {@link Connection}; tests also use a raw socket to break the protocol on purpose).
 * Payloads are read into and gather-written from the caller's buffers, i.e. guest memory.
 * Not thread-safe: one reading thread and one writing thread at most. Only the activity
 * counters are read from other threads (stall watchdogs).
 */
public final class FrameCodec {
  private static final int READ_BUFFER = 64 * 1024;

  // One object: the transport's connection (or a raw socket in tests).
  private final ReadableByteChannel input;
  private final GatheringByteChannel output;
  private final int maxFrameBytes;
  private final int maxPayloadBytes;
  // Read side: bytes received but not yet consumed, kept in read mode (position..limit).
  private final ByteBuffer in = ByteBuffer.allocateDirect(READ_BUFFER).flip();
  // Write side: varint + encoded message, grown on demand up to the frame limit.
  private ByteBuffer out = ByteBuffer.allocateDirect(4096);

  private volatile long lastActivityNanos = System.nanoTime();
  private volatile long lastReadNanos = lastActivityNanos;
  private volatile long bytesRead;
  private volatile long bytesWritten;

  public <C extends ReadableByteChannel & GatheringByteChannel> FrameCodec(C channel, DataPlaneSettings settings) {
    this.input = channel;
    this.output = channel;
    this.maxFrameBytes = settings.maxFrameBytes();
    this.maxPayloadBytes = settings.maxPayloadBytes();
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
    if (len <= in.capacity()) {
      ensure(len, what);
      body = in.slice(in.position(), len);
      in.position(in.position() + len);
    } else {
      // Rare: a frame larger than the read buffer (e.g. a big device state); bounded by limit.
      body = ByteBuffer.allocate(len);
      readInto(body, what);
      body.flip();
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
    int buffered = Math.min(in.remaining(), dst.remaining());
    dst.put(dst.position(), in, in.position(), buffered).position(dst.position() + buffered);
    in.position(in.position() + buffered);
    readInto(dst, "payload");
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
    int total = CodedOutputStream.computeUInt32SizeNoTag(size) + size;
    if (out.capacity() < total) out = ByteBuffer.allocateDirect(Math.max(total, out.capacity() * 2));
    out.clear();
    try {
      CodedOutputStream cos = CodedOutputStream.newInstance(out);
      cos.writeUInt32NoTag(size);
      message.writeTo(cos);
      cos.flush();
    } catch (IOException e) {
      throw new DataPlaneException("cannot encode " + message.getClass().getSimpleName() + ": " + e, e);
    }
    out.flip();
    return out;
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
