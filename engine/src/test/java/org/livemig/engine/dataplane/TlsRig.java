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

/** Certificates for host-a, host-b and host-c from one dev CA, TLS transports for them, and a thread pool. */
final class TlsRig implements AutoCloseable {
  static final LinkOptions OPTIONS = new LinkOptions(0, 0, true);
  static final Duration TIMEOUT = Duration.ofSeconds(5);

  final Path keys;
  final ExecutorService pool = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "tls-test");
    t.setDaemon(true);
    return t;
  });

  TlsRig(Path keys) throws IOException {
    this.keys = keys;
    DevPki.ensure(keys, "host-a", "host-b", "host-c");
  }

  TlsTransport transport(String node) throws IOException {
    return transport(keys, node, TIMEOUT);
  }

  static TlsTransport transport(Path dir, String node, Duration handshakeTimeout) throws IOException {
    return new TlsTransport(new TlsCredentials(dir, node), handshakeTimeout);
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
