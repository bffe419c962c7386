package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy on loopback that breaks the link on purpose: cut (close both sides), blackhole
 * (stop forwarding, sockets stay open: nobody sees a FIN), a bandwidth cap towards the target,
 * and for new connections a return direction that goes dark after some bytes. Its own buffers
 * are small so that a capped link does not hide megabytes in flight.
 */
public final class LinkProxy implements AutoCloseable {
  private static final int BUFFER = 64 << 10;
  private static final int CHUNK = 16 << 10;

  private final int targetPort;
  private final ServerSocketChannel server;
  private final List<Connection> connections = new CopyOnWriteArrayList<>();
  private final CountDownLatch closed = new CountDownLatch(1);
  private volatile long forwardRate; // bytes per second towards the target, 0 = unlimited
  private volatile long returnLimit = -1; // for new connections: return bytes passed before going dark

  public LinkProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    server = ServerSocketChannel.open();
    server.setOption(StandardSocketOptions.SO_RCVBUF, BUFFER); // before bind: accepted sockets inherit it
    server.bind(new InetSocketAddress("127.0.0.1", 0));
    start("proxy-accept", this::acceptLoop);
  }

  public int port() {
    return server.socket().getLocalPort();
  }

  public void throttle(long bytesPerSecond) {
    forwardRate = bytesPerSecond;
  }

  /** New connections pass only the first bytes of the return direction, then it goes dark. */
  public void blackholeReturnAfter(long bytes) {
    returnLimit = bytes;
  }

  public void passAll() {
    returnLimit = -1;
  }

  /** Closes every connection so far: both ends see the close. */
  public void cut() {
    connections.forEach(Connection::close);
  }

  /** Every connection so far stops forwarding both ways; its sockets stay open. */
  public void blackhole() {
    connections.forEach(c -> c.dark = true);
  }

  @Override
  public void close() throws IOException {
    closed.countDown();
    server.close();
    cut();
  }

  private void acceptLoop() {
    while (server.isOpen()) {
      try {
        SocketChannel client = server.accept();
        SocketChannel upstream = SocketChannel.open();
        upstream.setOption(StandardSocketOptions.SO_SNDBUF, BUFFER);
        upstream.connect(new InetSocketAddress("127.0.0.1", targetPort));
        Connection c = new Connection(client, upstream, returnLimit);
        connections.add(c);
        start("proxy-forward", () -> c.pump(client, upstream, true));
        start("proxy-return", () -> c.pump(upstream, client, false));
      } catch (IOException e) {
        if (server.isOpen()) System.err.println("proxy accept failed: " + e);
      }
    }
  }

  private final class Connection {
    private final SocketChannel client;
    private final SocketChannel upstream;
    private final long returnLimit;
    volatile boolean dark;

    Connection(SocketChannel client, SocketChannel upstream, long returnLimit) {
      this.client = client;
      this.upstream = upstream;
      this.returnLimit = returnLimit;
    }

    void pump(SocketChannel from, SocketChannel to, boolean forward) {
      ByteBuffer buf = ByteBuffer.allocate(CHUNK);
      long passed = 0;
      long next = System.nanoTime();
      try {
        while (true) {
          buf.clear();
          if (from.read(buf) < 0) break;
          buf.flip();
          if (!forward && returnLimit >= 0 && passed + buf.remaining() > returnLimit) {
            buf.limit((int) (returnLimit - passed));
            write(to, buf);
            goDark();
            return;
          }
          if (dark) {
            goDark();
            return;
          }
          long rate = forwardRate;
          if (forward && rate > 0) { // pace: this chunk may leave once the previous ones fit the cap
            next = Math.max(next, System.nanoTime() - 10_000_000L) + buf.remaining() * 1_000_000_000L / rate;
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
          }
          passed += buf.remaining();
          write(to, buf);
        }
      } catch (IOException e) {
        // a cut, or the other end closed: close both below
      }
      if (dark) goDark(); // a blackhole passes no close either
      close();
    }

    private void write(SocketChannel to, ByteBuffer buf) throws IOException {
      while (buf.hasRemaining()) to.write(buf);
    }

    /** Stops this direction without closing anything, until the proxy closes. */
    private void goDark() {
      try {
        closed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void close() {
      closeQuietly(client);
      closeQuietly(upstream);
    }
  }

  private static void closeQuietly(SocketChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      System.err.println("proxy close failed: " + e);
    }
  }

  private static void start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }
}
