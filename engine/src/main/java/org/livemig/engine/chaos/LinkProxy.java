package org.livemig.engine.chaos;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy on loopback between a migration's source and destination data endpoints (QEMU's
 * tests use socat the same way) that breaks the link on purpose: cut (close both sides),
 * blackhole (stop forwarding, sockets stay open: nobody sees a FIN), a return direction that goes
 * dark, new connections refused, bytes corrupted, and a bandwidth cap towards the target. Held bytes stay held
 * until {@link #heal} or close. Fault injection for tests and benchmarks, never in a host.
 */
public final class LinkProxy implements AutoCloseable {
  /** Socket buffers small enough that a capped link does not hide megabytes in flight. */
  public static final int SMALL_BUFFERS = 64 << 10;
  private static final int SMALL_CHUNK = 16 << 10;
  private static final int CHUNK = 64 << 10;

  private final int targetPort;
  private final int socketBuffer;
  private final ServerSocketChannel server;
  private final List<Link> links = new CopyOnWriteArrayList<>();
  private final AtomicLong forwarded = new AtomicLong();
  private final AtomicInteger accepted = new AtomicInteger();
  /** Held pumps wait on it until heal or close. */
  private final Object light = new Object();
  private volatile boolean closed;
  private volatile long forwardRate; // bytes per second towards the target, 0 = unlimited
  private volatile long returnLimit = -1; // for new connections: return bytes passed before it goes dark
  private volatile boolean refuseNew;
  private volatile long corruptEvery; // towards the target: one byte flipped per this many bytes, 0 = none
  private volatile long corruptSeed; // 0: at the multiples of corruptEvery; else at random gaps of that mean

  /**
   * Listens on listenPort (0 = any free port) and forwards to targetPort on loopback.
   * socketBuffer sets both proxy sockets' buffers towards the target (0 = the system's default).
   */
  public LinkProxy(int listenPort, int targetPort, int socketBuffer) throws IOException {
    this.targetPort = targetPort;
    this.socketBuffer = socketBuffer;
    server = ServerSocketChannel.open();
    try {
      server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      if (socketBuffer > 0) server.setOption(StandardSocketOptions.SO_RCVBUF, socketBuffer); // before bind: inherited
      server.bind(new InetSocketAddress("127.0.0.1", listenPort));
    } catch (IOException e) {
      server.close();
      throw e;
    }
    start("link-proxy-accept", this::acceptLoop);
  }

  /** A proxy on a free port with small buffers in front of a target that already listens. */
  public static LinkProxy inFrontOf(int targetPort) throws IOException {
    return new LinkProxy(0, targetPort, SMALL_BUFFERS);
  }

  /** A proxy on a free port in front of a target on another free port (nothing listens there yet). */
  public static LinkProxy onFreePorts() throws IOException {
    return new LinkProxy(freePort(), freePort(), 0);
  }

  /**
   * A port free now and outside the kernel's ephemeral range: the caller binds it later, and a
   * port from that range can meanwhile become the local port of any outgoing connection (seen
   * once in CI: the destination's data port "already in use").
   */
  public static int freePort() throws IOException {
    int ephemeralLow = 32768;
    try {
      String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
      ephemeralLow = Integer.parseInt(range.trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      // not Linux, or unreadable: keep the usual default
    }
    ThreadLocalRandom random = ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 100 && ephemeralLow > 10_001; attempt++) {
      int port = random.nextInt(10_000, ephemeralLow);
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress("127.0.0.1", port));
        return port;
      } catch (IOException inUse) {
        // taken: try another
      }
    }
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  public int port() {
    return server.socket().getLocalPort();
  }

  public int targetPort() {
    return targetPort;
  }

  /** Bytes forwarded so far, both directions. */
  public long forwardedBytes() {
    return forwarded.get();
  }

  /** Caps the direction towards the target in bytes per second; 0 = no cap. heal leaves it. */
  public void throttle(long bytesPerSecond) {
    forwardRate = bytesPerSecond;
  }

  /**
   * Flips one byte in every everyBytes forwarded towards the target (0 = none), as a link whose
   * checksums let damage through would. heal stops it.
   */
  public void corrupt(long everyBytes) {
    corrupt(everyBytes, 0);
  }

  /**
   * Flips bytes towards the target at random offsets, on average one per everyBytes (gaps drawn
   * uniformly from 1 .. 2 * everyBytes - 1), reproducible from seed (not 0) and the order in which
   * connections were accepted; whatever the byte is (length, header, payload, checksum).
   */
  public void corrupt(long everyBytes, long seed) {
    if (everyBytes < 0) throw new IllegalArgumentException("everyBytes must be >= 0, was " + everyBytes);
    corruptSeed = seed;
    corruptEvery = everyBytes;
  }

  /** Closes every connection so far, both sides: both ends see the close. */
  public void cut() {
    links.forEach(Link::close);
  }

  /** Every connection so far stops forwarding both ways; its sockets stay open, so only a timeout can notice. */
  public void blackhole() {
    links.forEach(l -> l.dark = true);
  }

  /** The answers (target to client) of every connection, open or new, are held; requests still get through. */
  public void blackholeReturn() {
    links.forEach(l -> l.returnDark = true);
    returnLimit = 0;
  }

  /** Connections opened from now on pass only the first bytes of the return direction, then it goes dark. */
  public void blackholeReturnAfter(long bytes) {
    returnLimit = bytes;
  }

  /** New connections are closed at once, as if the route were down. */
  public void refuseNew() {
    refuseNew = true;
  }

  /** Forwards everything again (held bytes included) and accepts new connections; the cap stays. */
  public void heal() {
    refuseNew = false;
    corruptEvery = 0;
    returnLimit = -1;
    links.forEach(l -> {
      l.dark = false;
      l.returnDark = false;
    });
    synchronized (light) {
      light.notifyAll();
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    synchronized (light) {
      light.notifyAll();
    }
    server.close();
    cut();
  }

  private void acceptLoop() {
    while (server.isOpen()) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (server.isOpen()) System.err.println("link proxy accept failed: " + e);
        continue;
      }
      if (refuseNew) {
        closeQuietly(client);
        continue;
      }
      try {
        SocketChannel upstream = SocketChannel.open();
        if (socketBuffer > 0) upstream.setOption(StandardSocketOptions.SO_SNDBUF, socketBuffer);
        upstream.connect(new InetSocketAddress("127.0.0.1", targetPort));
        Link l = new Link(client, upstream, returnLimit, accepted.incrementAndGet());
        links.add(l);
        start("link-proxy-forward", () -> l.pump(client, upstream, true));
        start("link-proxy-return", () -> l.pump(upstream, client, false));
      } catch (IOException e) {
        System.err.println("link proxy cannot reach port " + targetPort + ": " + e);
        closeQuietly(client); // as a route whose far end is down
      }
    }
  }

  /** One proxied connection: client side, target side, and what holds each direction. */
  private final class Link {
    private final SocketChannel client;
    private final SocketChannel upstream;
    private final long returnLimit;
    private final int linkNumber;
    volatile boolean dark;
    volatile boolean returnDark;

    Link(SocketChannel client, SocketChannel upstream, long returnLimit, int linkNumber) {
      this.client = client;
      this.upstream = upstream;
      this.returnLimit = returnLimit;
      this.linkNumber = linkNumber;
    }

    void pump(SocketChannel from, SocketChannel to, boolean forward) {
      ByteBuffer buf = ByteBuffer.allocate(socketBuffer > 0 ? SMALL_CHUNK : CHUNK);
      long limit = forward ? -1 : returnLimit;
      long passed = 0;
      long next = System.nanoTime();
      long flipEvery = 0; // the corruption in force when flipAt was drawn
      long flipAt = -1;
      SplittableRandom gaps = null;
      try {
        while (true) {
          buf.clear();
          if (from.read(buf) < 0) break;
          buf.flip();
          if (limit >= 0 && passed + buf.remaining() > limit) {
            int pass = (int) (limit - passed);
            write(to, buf.duplicate().limit(buf.position() + pass));
            buf.position(buf.position() + pass);
            passed += pass;
            limit = -1; // once: after a heal this direction passes everything
            returnDark = true;
          }
          awaitLight(forward);
          if (closed) break;
          long rate = forwardRate;
          if (forward && rate > 0) { // pace: this chunk may leave once the previous ones fit the cap
            next = Math.max(next, System.nanoTime() - 10_000_000L) + buf.remaining() * 1_000_000_000L / rate;
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
          }
          long every = forward ? corruptEvery : 0;
          if (every != flipEvery) { // (re)started or stopped: where the first flip falls
            flipEvery = every;
            long seed = corruptSeed;
            gaps = seed == 0 ? null : new SplittableRandom(seed * 31 + linkNumber);
            flipAt = every == 0 ? -1 : gaps == null ? (passed / every + 1) * every : passed + 1 + gaps.nextLong(2 * every - 1);
          }
          while (flipAt >= 0 && flipAt < passed + buf.remaining()) {
            int i = buf.position() + (int) (flipAt - passed);
            buf.put(i, (byte) (buf.get(i) ^ 0x5A));
            flipAt += gaps == null ? every : 1 + gaps.nextLong(2 * every - 1);
          }
          passed += buf.remaining();
          write(to, buf);
        }
      } catch (IOException e) {
        // a cut, or the other end closed: close both below
      }
      awaitLight(forward); // a blackhole passes no close either
      close();
    }

    private void write(SocketChannel to, ByteBuffer buf) throws IOException {
      while (buf.hasRemaining()) forwarded.addAndGet(to.write(buf));
    }

    /** Waits while this direction is held, until heal or the proxy closes. */
    private void awaitLight(boolean forward) {
      synchronized (light) {
        while (!closed && (dark || (!forward && returnDark))) {
          try {
            light.wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }

    void close() {
      links.remove(this);
      closeQuietly(client);
      closeQuietly(upstream);
    }
  }

  private static void closeQuietly(SocketChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      System.err.println("link proxy close failed: " + e);
    }
  }

  private static void start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }
}
