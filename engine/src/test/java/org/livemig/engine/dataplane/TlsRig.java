package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.engine.security.TlsEngine;

/**
 * Certificates for host-a, host-b and host-c from one dev CA, TLS transports for them on one
 * SSLEngine implementation, and a thread pool.
 */
final class TlsRig implements AutoCloseable {
  static final LinkOptions OPTIONS = new LinkOptions(0, 0, true);
  static final Duration TIMEOUT = Duration.ofSeconds(5);

  final Path keys;
  final TlsEngine engine;
  final ExecutorService pool = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "tls-test");
    t.setDaemon(true);
    return t;
  });

  TlsRig(Path keys, TlsEngine engine) throws IOException {
    this.keys = keys;
    this.engine = engine;
    DevPki.ensure(keys, "host-a", "host-b", "host-c");
  }

  TlsTransport transport(String node) throws IOException {
    return transport(keys, node, TIMEOUT, engine);
  }

  /** A transport on exactly that engine: BoringSSL not loading here fails the test rather than testing the JDK's twice. */
  static TlsTransport transport(Path dir, String node, Duration handshakeTimeout, TlsEngine engine) throws IOException {
    TlsTransport t = new TlsTransport(new TlsCredentials(dir, node, engine), handshakeTimeout);
    if (t.engine() != engine) throw new AssertionError("TLS engine " + engine + " is not available: " + io.netty.handler.ssl.OpenSsl.unavailabilityCause());
    return t;
  }

  /** The engine that is not this rig's: for connections between hosts on different engines. */
  TlsEngine otherEngine() {
    return engine == TlsEngine.JDK ? TlsEngine.OPENSSL : TlsEngine.JDK;
  }

  <T> Future<T> async(Callable<T> task) {
    return pool.submit(task);
  }

  /** The value of byte i of a test stream: not periodic at any buffer or record size we use. */
  static byte pattern(long i, int seed) {
    long x = (i + seed) * 0x9E3779B97F4A7C15L;
    return (byte) (x >>> 56 ^ x >>> 29);
  }

  static void fill(ByteBuffer b, long streamOffset, int seed) {
    for (int i = b.position(); i < b.limit(); i++) b.put(i, pattern(streamOffset + i - b.position(), seed));
  }

  /** Reads until end of stream or failure; the number of bytes that arrived either way. */
  static long drain(Connection c) {
    ByteBuffer b = ByteBuffer.allocate(4096);
    long n = 0;
    try {
      for (int r = c.read(b.clear()); r >= 0; r = c.read(b.clear())) n += r;
    } catch (IOException e) {
      return n; // a reset or a refused handshake: what counts is what arrived before it
    }
    return n;
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
