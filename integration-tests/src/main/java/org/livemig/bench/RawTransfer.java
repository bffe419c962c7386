package org.livemig.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The baseline: plain Java sockets moving the same number of bytes between two JVMs on
 * loopback. The sink runs in its own JVM ({@code RawTransfer sink}), the sender in the
 * benchmark driver; the sink answers one byte once it has read everything, so the sender's
 * clock covers the whole transfer.
 */
public final class RawTransfer {
  private static final int BUFFER = 1 << 20;

  private RawTransfer() {}

  /** Sink JVM: prints "raw sink <port>", then serves transfers until killed. */
  public static void main(String[] args) throws IOException {
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress("127.0.0.1", 0));
      System.out.println("raw sink " + ((InetSocketAddress) server.getLocalAddress()).getPort());
      System.out.flush();
      ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
      while (true) {
        try (SocketChannel c = server.accept()) {
          ByteBuffer header = ByteBuffer.allocate(8);
          readFully(c, header);
          long remaining = header.flip().getLong();
          while (remaining > 0) {
            buf.clear().limit((int) Math.min(BUFFER, remaining));
            int r = c.read(buf);
            if (r < 0) throw new IOException("sender closed with " + remaining + " bytes to go");
            remaining -= r;
          }
          c.write(ByteBuffer.wrap(new byte[] {1}));
        }
      }
    }
  }

  /** Sends bytes of random data to the sink and returns the nanoseconds until it acknowledged them. */
  static long send(int port, long bytes) throws IOException {
    ByteBuffer data = ByteBuffer.allocateDirect(BUFFER);
    byte[] random = new byte[BUFFER];
    ThreadLocalRandom.current().nextBytes(random);
    data.put(random).flip();
    try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
      long t0 = System.nanoTime();
      c.write(ByteBuffer.allocate(8).putLong(0, bytes));
      long remaining = bytes;
      while (remaining > 0) {
        data.clear().limit((int) Math.min(BUFFER, remaining));
        while (data.hasRemaining()) remaining -= c.write(data);
      }
      ByteBuffer ack = ByteBuffer.allocate(1);
      readFully(c, ack);
      return System.nanoTime() - t0;
    }
  }

  private static void readFully(SocketChannel c, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (c.read(b) < 0) throw new IOException("peer closed early");
    }
  }
}
