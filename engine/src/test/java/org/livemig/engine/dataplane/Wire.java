package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * In-memory data links for fuzz tests: a connection whose peer has sent exactly the given bytes
 * and then closed, and a transport that dials and accepts such connections. Reads never block, so
 * a decoder that waits for more than the input holds meets end of stream instead of hanging.
 */
public final class Wire {
  private Wire() {}

  /** A connection that reads input (then end of stream) and keeps what is written to it. */
  public static final class Link implements Connection {
    private static final SocketAddress PEER = new InetSocketAddress("127.0.0.1", 1);
    private final ByteBuffer input;
    private final java.io.ByteArrayOutputStream written = new java.io.ByteArrayOutputStream();
    private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    private volatile boolean open = true;
    private volatile boolean outputShut;

    public Link(byte[] input) {
      this.input = ByteBuffer.wrap(input);
    }

    @Override
    public synchronized int read(ByteBuffer dst) throws IOException {
      if (!open) throw new ClosedChannelException();
      if (!input.hasRemaining()) return -1;
      int n = Math.min(dst.remaining(), input.remaining());
      dst.put(input.slice(input.position(), n));
      input.position(input.position() + n);
      return n;
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      long total = 0;
      for (int i = offset; i < offset + length; i++) {
        int r = read(dsts[i]);
        if (r < 0) return total == 0 ? -1 : total;
        total += r;
      }
      return total;
    }

    @Override
    public long read(ByteBuffer[] dsts) throws IOException {
      return read(dsts, 0, dsts.length);
    }

    @Override
    public synchronized int write(ByteBuffer src) throws IOException {
      if (!open || outputShut) throw new ClosedChannelException();
      int n = src.remaining();
      byte[] b = new byte[n];
      src.get(b);
      written.write(b, 0, n);
      return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      long total = 0;
      for (int i = offset; i < offset + length; i++) total += write(srcs[i]);
      return total;
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
      return write(srcs, 0, srcs.length);
    }

    @Override
    public void shutdownOutput() {
      outputShut = true;
    }

    @Override
    public SocketAddress remoteAddress() {
      return PEER;
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public void close() {
      open = false;
      closed.countDown();
    }

    /** Waits until whoever holds the connection closes it; false if that takes longer than timeout. */
    public boolean awaitClosed(Duration timeout) throws InterruptedException {
      return closed.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Bytes of input not read yet. */
    public synchronized int unread() {
      return input.remaining();
    }

    public synchronized byte[] written() {
      return written.toByteArray();
    }
  }

  /** Dials whatever the supplier gives; it never listens (the data port's tests use real sockets). */
  public static final class Transport implements org.livemig.engine.dataplane.Transport {
    private final Supplier<Connection> dialled;

    public Transport(Supplier<Connection> dialled) {
      this.dialled = dialled;
    }

    @Override
    public Connection dial(String host, int port, LinkOptions options, Duration connectTimeout) {
      return dialled.get();
    }

    @Override
    public Acceptor listen(String host, int port, LinkOptions options) {
      throw new UnsupportedOperationException("an in-memory transport does not listen");
    }

    @Override
    public int firstMessageBytes(ByteBuffer start) {
      throw new UnsupportedOperationException("an in-memory transport does not listen");
    }
  }
}
