package org.livemig.engine.dataplane;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.engine.security.TlsEngine;

/**
 * Benchmark, not a test: pushes bytes over loopback through TcpTransport and TlsTransport (on the
 * JDK's SSLEngine and on BoringSSL's) with 1 and 2 channels, back to back in one JVM (both ends
 * in it), and prints throughput and the
 * process's CPU seconds per GB (sender and receiver together). Writes are shaped like page
 * batches: a small frame header plus 256 views of 4 KiB into a 1 MiB direct buffer.
 *
 * <p>Run: {@code java -cp <engine classes, test classes, dependencies> org.livemig.engine.dataplane.TransportBench [MiB] [repeats]}
 */
public final class TransportBench {
  private static final LinkOptions SEND = new LinkOptions(PageSender.SOCKET_BUFFER, 0, true);
  private static final LinkOptions LISTEN = new LinkOptions(0, PageSender.SOCKET_BUFFER, true);
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final int BATCH = 1 << 20;
  private static final int PAGE = 4096;
  private static final int HEADER = 24; // about a Pages frame's protobuf part

  private TransportBench() {}

  public static void main(String[] args) throws Exception {
    long mib = args.length > 0 ? Long.parseLong(args[0]) : 1024;
    int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    Path keys = Files.createTempDirectory("transport-bench-keys");
    DevPki.ensure(keys, "host-a", "host-b");
    List<String> names = new ArrayList<>(List.of("tcp"));
    List<Transport[]> ends = new ArrayList<>();
    ends.add(new Transport[] {TcpTransport.INSTANCE, TcpTransport.INSTANCE});
    for (TlsEngine engine : List.of(TlsEngine.JDK, TlsEngine.OPENSSL)) {
      TlsTransport source = new TlsTransport(new TlsCredentials(keys, "host-a", engine), TIMEOUT);
      if (source.engine() != engine) throw new IllegalStateException(engine + " is not available here");
      names.add("tls-" + engine.configName());
      ends.add(new Transport[] {source, new TlsTransport(new TlsCredentials(keys, "host-b", engine), TIMEOUT)});
    }
    ExecutorService pool = Executors.newCachedThreadPool();
    System.out.printf("%d MiB per run, %d core(s), %s%n", mib, Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"));
    // Warm-up (JIT of every path, first handshake), not reported: the first rounds run at half speed without it.
    for (int channels : new int[] {1, 2}) {
      for (Transport[] e : ends) run(pool, e[0], e[1], channels, e[0] == TcpTransport.INSTANCE ? 512L << 20 : 1024L << 20);
    }
    // [channels - 1][transport][repeat]: MB/s
    double[][][] mbps = new double[2][names.size()][repeats];
    double[][][] cpu = new double[2][names.size()][repeats];
    for (int i = 0; i < repeats; i++) {
      for (int channels : new int[] {1, 2}) {
        for (int k = 0; k < names.size(); k++) {
          Result r = run(pool, ends.get(k)[0], ends.get(k)[1], channels, mib << 20);
          report(names.get(k), channels, r);
          mbps[channels - 1][k][i] = r.bytes / 1e6 / (r.wallNanos / 1e9);
          cpu[channels - 1][k][i] = r.cpuNanos / 1e9 / (r.bytes / 1e9);
        }
      }
    }
    for (int channels : new int[] {1, 2}) {
      for (int k = 0; k < names.size(); k++) {
        double m = 0;
        double c = 0;
        for (int i = 0; i < repeats; i++) {
          m += mbps[channels - 1][k][i] / repeats;
          c += cpu[channels - 1][k][i] / repeats;
        }
        System.out.printf("%-11s %d channel(s): mean %8.0f MB/s   %5.2f CPU s/GB%n", names.get(k), channels, m, c);
      }
    }
    for (int channels : new int[] {1, 2}) {
      for (int k = 1; k < names.size(); k++) {
        double ratio = 0;
        for (int i = 0; i < repeats; i++) ratio += mbps[channels - 1][k][i] / mbps[channels - 1][0][i];
        System.out.printf("%s / tcp, %d channel(s): %.3f (mean of %d back-to-back runs)%n", names.get(k), channels, ratio / repeats, repeats);
      }
      double ratio = 0;
      for (int i = 0; i < repeats; i++) ratio += mbps[channels - 1][2][i] / mbps[channels - 1][1][i];
      System.out.printf("tls-openssl / tls-jdk, %d channel(s): %.3f%n", channels, ratio / repeats);
    }
    pool.shutdownNow();
  }

  private record Result(long bytes, long wallNanos, long cpuNanos) {}

  private static void report(String name, int channels, Result r) {
    double mbs = r.bytes / 1e6 / (r.wallNanos / 1e9);
    double cpuPerGb = r.cpuNanos / 1e9 / (r.bytes / 1e9);
    System.out.printf("%-11s %d channel(s): %8.0f MB/s   %5.2f CPU s/GB   (%.2f s wall)%n", name, channels, mbs, cpuPerGb, r.wallNanos / 1e9);
  }

  /** bytes in total, split evenly over channels; the clock stops when every receiver has acknowledged. */
  private static Result run(ExecutorService pool, Transport source, Transport destination, int channels, long bytes) throws Exception {
    try (Transport.Acceptor acceptor = destination.listen("127.0.0.1", 0, LISTEN)) {
      long batches = Math.max(1, bytes / channels / (BATCH + HEADER));
      long each = batches * (BATCH + HEADER); // whole batches per channel
      List<Future<?>> receivers = new ArrayList<>();
      for (int i = 0; i < channels; i++) receivers.add(pool.submit(() -> receive(acceptor, each)));
      List<Connection> links = new ArrayList<>();
      for (int i = 0; i < channels; i++) links.add(source.dial("127.0.0.1", acceptor.port(), SEND, TIMEOUT));
      long cpu0 = processCpuNanos();
      long t0 = System.nanoTime();
      List<Future<?>> senders = new ArrayList<>();
      for (Connection c : links) senders.add(pool.submit(() -> send(c, each)));
      for (Future<?> f : senders) f.get();
      for (Future<?> f : receivers) f.get();
      long wall = System.nanoTime() - t0;
      long cpu = processCpuNanos() - cpu0;
      for (Connection c : links) c.close();
      return new Result(each * channels, wall, cpu);
    }
  }

  private static Void send(Connection c, long bytes) throws IOException {
    ByteBuffer memory = ByteBuffer.allocateDirect(BATCH);
    byte[] random = new byte[BATCH];
    new Random(7).nextBytes(random);
    memory.put(random).clear();
    ByteBuffer header = ByteBuffer.allocateDirect(32);
    ByteBuffer[] batch = new ByteBuffer[1 + BATCH / PAGE];
    batch[0] = header;
    for (int i = 1; i < batch.length; i++) batch[i] = memory.slice((i - 1) * PAGE, PAGE);
    ByteBuffer ack = ByteBuffer.allocate(1);
    long sent = 0;
    while (sent < bytes) {
      header.clear().limit(HEADER);
      for (int i = 1; i < batch.length; i++) batch[i].clear();
      long n = header.remaining() + (long) BATCH;
      long w = 0;
      while (w < n) w += c.write(batch, 0, batch.length);
      sent += n;
    }
    while (ack.hasRemaining()) {
      if (c.read(ack) < 0) throw new IOException("receiver closed before acknowledging");
    }
    return null;
  }

  private static Void receive(Transport.Acceptor acceptor, long bytes) throws IOException {
    try (Connection c = acceptor.acceptConnection()) {
      ByteBuffer buf = ByteBuffer.allocateDirect(BATCH);
      long got = 0;
      while (got < bytes) {
        int r = c.read(buf.clear());
        if (r < 0) throw new IOException("sender closed after " + got + " of " + bytes + " bytes");
        got += r;
      }
      c.write(ByteBuffer.wrap(new byte[] {1}));
      return null;
    }
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }
}
