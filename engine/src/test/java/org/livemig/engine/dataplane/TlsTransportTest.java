package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsEngine;

/** TlsTransport's byte stream on each SSLEngine: transfer, half-close, close from another thread, timeouts, reload. */
@ParameterizedClass
@EnumSource(TlsEngine.class)
class TlsTransportTest {
  @Parameter TlsEngine engine;
  @TempDir Path keys;
  private TlsRig rig;

  private TlsRig rig() throws IOException {
    if (rig == null) rig = new TlsRig(keys, engine);
    return rig;
  }

  @AfterEach
  void stop() {
    if (rig != null) rig.close();
  }

  @Test
  void largeTransferBothWaysAtOnceArrivesByteForByte() throws Exception {
    largeTransferBothWaysAtOnce(rig().transport("host-a"), 96L << 20, 24L << 20);
  }

  /** A host on the other engine dials this one: both speak the same TLS 1.3. */
  @Test
  void aDiallerOnTheOtherEngineTransfersBothWays() throws Exception {
    TlsRig r = rig();
    largeTransferBothWaysAtOnce(TlsRig.transport(keys, "host-a", TlsRig.TIMEOUT, r.otherEngine()), 24L << 20, 24L << 20);
  }

  private void largeTransferBothWaysAtOnce(TlsTransport dialler, long toServer, long toClient) throws Exception {
    TlsRig r = rig();
    try (Transport.Acceptor acceptor = r.transport("host-b").listen("127.0.0.1", 0, TlsRig.OPTIONS)) {
      Future<Long> server = r.async(() -> {
        try (Connection c = acceptor.acceptConnection()) {
          Future<Long> send = r.async(() -> send(c, toClient, 2));
          long got = receive(c, 1);
          send.get();
          assertEquals("host-a", c.peerIdentity().orElseThrow(), "server sees the client's certificate name");
          return got;
        }
      });
      try (Connection c = dialler.dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS.expecting("host-b"), TlsRig.TIMEOUT)) {
        assertEquals("host-b", c.peerIdentity().orElseThrow());
        assertEquals("TLSv1.3", ((TlsConnection) c).session().getProtocol());
        assertEquals("TLS_AES_128_GCM_SHA256", ((TlsConnection) c).session().getCipherSuite());
        Future<Long> send = r.async(() -> send(c, toServer, 1));
        assertEquals(toClient, receive(c, 2), "every byte from the server, then its end of stream (while we still send)");
        assertEquals(toServer, send.get(60, TimeUnit.SECONDS));
        assertEquals(toServer, server.get(60, TimeUnit.SECONDS));
      }
    }
  }

  /**
   * Writes total pattern bytes as the engine does: a small frame header plus many 4 KiB views per
   * gather write, in a 1 MiB direct buffer; then half-closes.
   */
  private static long send(Connection c, long total, int seed) throws IOException {
    ByteBuffer memory = ByteBuffer.allocateDirect(1 << 20);
    ByteBuffer[] batch = new ByteBuffer[257];
    long sent = 0;
    while (sent < total) {
      int n = (int) Math.min(total - sent, memory.capacity() + 13);
      int head = Math.min(13, n); // odd sizes: records must not line up with buffers
      batch[0] = ByteBuffer.allocateDirect(head);
      int count = 1;
      for (int off = 0; off < n - head; off += 4096) {
        batch[count++] = memory.slice(off, Math.min(4096, n - head - off));
      }
      long at = sent;
      for (int i = 0; i < count; i++) {
        TlsRig.fill(batch[i], at, seed);
        at += batch[i].remaining();
      }
      long written = 0;
      while (written < n) written += c.write(batch, 0, count);
      sent += n;
    }
    c.shutdownOutput();
    return sent;
  }

  /** Reads to end of stream with scattering reads into buffers of uneven sizes, checking every byte. */
  private static long receive(Connection c, int seed) throws IOException {
    ByteBuffer[] bufs = {ByteBuffer.allocateDirect(7), ByteBuffer.allocate(5000), ByteBuffer.allocateDirect(300_000)};
    long at = 0;
    while (true) {
      for (ByteBuffer b : bufs) b.clear();
      long r = c.read(bufs, 0, bufs.length);
      if (r < 0) return at;
      for (ByteBuffer b : bufs) {
        b.flip();
        for (int i = 0; i < b.limit(); i++) {
          if (b.get(i) != TlsRig.pattern(at + i, seed)) throw new AssertionError("byte " + (at + i) + " differs");
        }
        at += b.limit();
      }
    }
  }

  /**
   * Gathers of buffers larger than a record, tiny ones, heap and direct, in varying order: every
   * byte arrives once and in order (records are cut across buffer boundaries either way).
   */
  @Test
  void gathersOfMixedSizesArriveByteForByte() throws Exception {
    TlsRig r = rig();
    int[][] shapes = {{(16 << 10) + 5, 3, 40 << 10, 1}, {1, 1, 2, 16 << 10}, {100_000}, {4096, 4096, 4096, 4096, 4096, 13}};
    try (Transport.Acceptor acceptor = r.transport("host-b").listen("127.0.0.1", 0, TlsRig.OPTIONS)) {
      Future<Long> server = r.async(() -> {
        try (Connection c = acceptor.acceptConnection()) {
          return receive(c, 5);
        }
      });
      long sent = 0;
      try (Connection c = r.transport("host-a").dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS, TlsRig.TIMEOUT)) {
        for (int round = 0; round < 64; round++) {
          int[] shape = shapes[round % shapes.length];
          ByteBuffer[] batch = new ByteBuffer[shape.length];
          for (int i = 0; i < shape.length; i++) {
            batch[i] = (i + round) % 2 == 0 ? ByteBuffer.allocateDirect(shape[i]) : ByteBuffer.allocate(shape[i]);
            TlsRig.fill(batch[i], sent, 5);
            sent += shape[i];
          }
          while (Sockets.remaining(batch, 0, batch.length) > 0) c.write(batch, 0, batch.length);
        }
        c.shutdownOutput();
        assertEquals(sent, server.get(30, TimeUnit.SECONDS));
      }
    }
  }

  @Test
  void closeFromAnotherThreadUnblocksABlockedRead() throws Exception {
    TlsRig r = rig();
    try (Transport.Acceptor acceptor = r.transport("host-b").listen("127.0.0.1", 0, TlsRig.OPTIONS)) {
      Future<Long> server = r.async(() -> {
        try (Connection c = acceptor.acceptConnection()) {
          return TlsRig.drain(c); // handshakes, then waits: sends nothing
        }
      });
      Connection c = r.transport("host-a").dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS, TlsRig.TIMEOUT);
      Thread[] reader = new Thread[1];
      Future<Integer> read = r.async(() -> {
        reader[0] = Thread.currentThread();
        return c.read(ByteBuffer.allocate(10));
      });
      awaitInSocket(reader, "read");
      c.close();
      ExecutionException e = assertThrows(ExecutionException.class, () -> read.get(5, TimeUnit.SECONDS));
      assertInstanceOf(ClosedChannelException.class, e.getCause(), "closed while blocked, or just before the next call");
      assertEquals(0L, server.get(5, TimeUnit.SECONDS), "the server got no bytes, then end of stream or reset");
    }
  }

  @Test
  void closeFromAnotherThreadUnblocksABlockedWrite() throws Exception {
    TlsRig r = rig();
    try (Transport.Acceptor acceptor = r.transport("host-b").listen("127.0.0.1", 0, TlsRig.OPTIONS)) {
      Future<Connection> accepted = r.async(() -> {
        Connection c = acceptor.acceptConnection();
        c.write(ByteBuffer.allocate(1)); // handshakes, then never reads
        return c;
      });
      Connection c = r.transport("host-a").dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS, TlsRig.TIMEOUT);
      Thread[] writer = new Thread[1];
      Future<Long> write = r.async(() -> {
        writer[0] = Thread.currentThread();
        return send(c, 1L << 40, 3); // far more than the socket buffers hold: it blocks once they are full
      });
      try (Connection serverSide = accepted.get(5, TimeUnit.SECONDS)) {
        awaitInSocket(writer, "write");
        c.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> write.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ClosedChannelException.class, e.getCause(), "closed while blocked, or just before the next call");
      }
    }
  }

  @Test
  void aPeerThatNeverHandshakesIsClosedAtTheDeadline() throws Exception {
    TlsRig r = rig();
    Duration timeout = Duration.ofMillis(300);
    try (Transport.Acceptor acceptor = TlsRig.transport(keys, "host-b", timeout, engine).listen("127.0.0.1", 0, TlsRig.OPTIONS);
        SocketChannel silent = SocketChannel.open(new InetSocketAddress("127.0.0.1", acceptor.port()))) {
      Connection c = acceptor.acceptConnection(); // returns at once: the accept loop is never held by a peer
      SSLHandshakeException e = assertThrows(SSLHandshakeException.class, () -> c.read(ByteBuffer.allocate(10)));
      assertTrue(e.getMessage().contains("not finished within 300 ms"), e.getMessage());
      assertTrue(silent.isOpen());
    }
    try (ServerSocketChannel mute = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
      int port = ((InetSocketAddress) mute.getLocalAddress()).getPort();
      SSLHandshakeException e = assertThrows(SSLHandshakeException.class,
          () -> TlsRig.transport(keys, "host-a", timeout, engine).dial("127.0.0.1", port, TlsRig.OPTIONS, TlsRig.TIMEOUT));
      assertTrue(e.getMessage().contains("not finished within 300 ms"), e.getMessage());
    }
  }

  @Test
  void replacedCertificateIsPresentedByTheNextConnectionWhileOpenOnesGoOn() throws Exception {
    TlsRig r = rig();
    try (Transport.Acceptor acceptor = r.transport("host-b").listen("127.0.0.1", 0, TlsRig.OPTIONS)) {
      TlsTransport client = r.transport("host-a");
      Future<Long> first = r.async(() -> echoOne(acceptor));
      try (Connection before = client.dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS, TlsRig.TIMEOUT)) {
        BigInteger oldSerial = ((TlsConnection) before).peerCertificate().getSerialNumber();

        Files.delete(DevPki.certFile(keys, "host-b"));
        Files.delete(DevPki.keyFile(keys, "host-b"));
        DevPki.ensure(keys, "host-b");

        Future<Long> second = r.async(() -> echoOne(acceptor));
        try (Connection after = client.dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS, TlsRig.TIMEOUT)) {
          BigInteger newSerial = ((TlsConnection) after).peerCertificate().getSerialNumber();
          assertNotEquals(oldSerial, newSerial);
          assertEquals(serialOf(DevPki.certFile(keys, "host-b")), newSerial, "the certificate now in the file");
          assertEchoes(after);
          assertEquals(1L, second.get(5, TimeUnit.SECONDS));
        }
        assertEchoes(before); // made with the old certificate, still works
        assertEquals(1L, first.get(5, TimeUnit.SECONDS));
      }
    }
  }

  private static long echoOne(Transport.Acceptor acceptor) throws IOException {
    try (Connection c = acceptor.acceptConnection()) {
      ByteBuffer b = ByteBuffer.allocate(1);
      long n = 0;
      while (c.read(b.clear()) > 0) {
        c.write(b.flip());
        n++;
      }
      return n;
    }
  }

  private static BigInteger serialOf(Path pem) throws Exception {
    try (var in = Files.newInputStream(pem)) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
    }
  }

  private static void assertEchoes(Connection c) throws IOException {
    c.write(ByteBuffer.wrap(new byte[] {42}));
    ByteBuffer b = ByteBuffer.allocate(1);
    assertEquals(1, c.read(b));
    assertEquals(42, b.get(0));
    c.shutdownOutput();
  }

  /** Waits until the thread is inside a blocking socket call named like op (a condition, not a time). */
  private static void awaitInSocket(Thread[] reader, String op) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      Thread t = reader[0];
      if (t != null) {
        for (StackTraceElement e : t.getStackTrace()) {
          if (e.getClassName().startsWith("sun.nio.ch.") && e.getMethodName().startsWith(op)) return;
        }
      }
      Thread.onSpinWait();
    }
    throw new AssertionError("thread never blocked in a socket " + op);
  }

}
