package org.livemig.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP bridge between a migration's source and destination data endpoints (QEMU's tests use
 * socat the same way) that can cut the link, or blackhole it: stop forwarding without closing.
 */
public final class LinkProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicLong forwarded = new AtomicLong();
  private volatile boolean blackhole;
  /** Only the answers (target to client) are held: the client's requests still get through. */
  private volatile boolean blackholeReturn;
  /** New connections are closed at once, as if the route were down. */
  private volatile boolean refuseNew;

  public LinkProxy(int listenPort, int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(new InetSocketAddress("127.0.0.1", listenPort));
    Thread t = new Thread(this::accept, "link-proxy");
    t.setDaemon(true);
    t.start();
  }

  /** A proxy on a free port in front of a target on another free port (nothing listens there yet). */
  public static LinkProxy onFreePorts() throws IOException {
    return new LinkProxy(freePort(), freePort());
  }

  public int port() {
    return server.getLocalPort();
  }

  public int targetPort() {
    return targetPort;
  }

  /**
   * A port free now and outside the kernel's ephemeral range: the caller binds it later, and a
   * port from that range can meanwhile become the local port of any outgoing connection (seen
   * once in CI: the destination's data port "already in use").
   */
  public static int freePort() throws IOException {
    int ephemeralLow = 32768;
    try {
      String range = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"));
      ephemeralLow = Integer.parseInt(range.trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      // not Linux, or unreadable: keep the usual default
    }
    java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 100 && ephemeralLow > 10_001; attempt++) {
      int port = random.nextInt(10_000, ephemeralLow);
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new java.net.InetSocketAddress("127.0.0.1", port));
        return port;
      } catch (IOException inUse) {
        // taken: try another
      }
    }
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  public long forwardedBytes() {
    return forwarded.get();
  }

  /** Stops forwarding; connections stay open, so only a timeout can notice. */
  public void blackhole() {
    blackhole = true;
  }

  /** Closes every connection through the proxy, both sides. */
  public void cut() {
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException e) {
        throw new IllegalStateException("closing a proxied socket", e);
      }
    }
    sockets.clear();
  }

  public void blackholeReturn() {
    blackholeReturn = true;
  }

  public void refuseNew() {
    refuseNew = true;
  }

  public void heal() {
    blackhole = false;
    blackholeReturn = false;
    refuseNew = false;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket in = server.accept();
        if (refuseNew) {
          in.close();
          continue;
        }
        Socket out = new Socket("127.0.0.1", targetPort);
        sockets.add(in);
        sockets.add(out);
        pump(in, out, false);
        pump(out, in, true);
      } catch (IOException e) {
        if (!server.isClosed()) System.err.println("link proxy accept failed: " + e);
      }
    }
  }

  private void pump(Socket from, Socket to, boolean isReturn) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[64 * 1024];
      try {
        // Not try-with-resources: closing a socket's stream closes the socket, both ways.
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        int n;
        while ((n = in.read(buf)) >= 0) {
          while (blackhole || (isReturn && blackholeReturn)) Thread.sleep(10); // hold the bytes: the link hangs
          out.write(buf, 0, n);
          forwarded.addAndGet(n);
        }
      } catch (IOException | InterruptedException e) {
        // the link was cut or one side closed: the other side notices through its socket
      } finally {
        // A blackholed link carries no FIN either: the far side must find out by its own timeout.
        if (!blackhole && !(isReturn && blackholeReturn)) {
          try {
            to.close();
          } catch (IOException ignored) {
            // already closed by the other pump
          }
        }
      }
    }, "link-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public void close() throws IOException {
    cut();
    server.close();
  }
}
