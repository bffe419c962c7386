package org.livemig.engine.dataplane;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.engine.security.TlsEngine;

/**
 * Benchmark, not a test: one precopy round of a whole guest through the real PageSender and
 * DataPlaneServer (both in this JVM, over loopback, 2 channels), back to back in one run over
 * plain TCP with CRC32C checksums (the default without TLS), plain TCP without them (a transport
 * that claims integrity: for this comparison only), and TLS on the JDK's SSLEngine and on
 * BoringSSL's. Prints MB/s and the process's CPU seconds per GB, sender and receiver together,
 * and each one's throughput relative to CRC32C and to unchecked plain TCP, pair by pair. Last in
 * each repetition, the raw row: the same guest memory into the same destination memory over as
 * many plain sockets, no engine (no frames, bitmaps, staging or checks): each mode's throughput
 * relative to it is printed too, so the engine's own cost can be read off one run.
 *
 * <p>Run: {@code java -XX:MaxDirectMemorySize=3g -cp <engine classes, test classes, dependencies>
 * org.livemig.engine.dataplane.ChecksumBench [MiB] [repeats]}
 */
public final class ChecksumBench {
  private static final int CHANNELS = 2;

  private ChecksumBench() {}

  /** Plain TCP that says it protects integrity, so frames go without CRC32C: the baseline. */
  private static final Transport UNCHECKED = new Transport() {
    @Override
    public Connection dial(String host, int port, LinkOptions options, Duration connectTimeout) throws IOException {
      return TcpTransport.INSTANCE.dial(host, port, options, connectTimeout);
    }

    @Override
    public Acceptor listen(String host, int port, LinkOptions options) throws IOException {
      return TcpTransport.INSTANCE.listen(host, port, options);
    }

    @Override
    public int firstMessageBytes(ByteBuffer start) {
      return TcpTransport.INSTANCE.firstMessageBytes(start);
    }

    @Override
    public boolean protectsIntegrity() {
      return true;
    }
  };

  public static void main(String[] args) throws Exception {
    long mib = args.length > 0 ? Long.parseLong(args[0]) : 1024;
    int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    long pages = (mib << 20) / Guests.PAGE;
    Path keys = Files.createTempDirectory("checksum-bench-keys");
    DevPki.ensure(keys, "host-a", "host-b");
    Duration timeout = Duration.ofSeconds(30);
    DataPlaneSettings base = DataPlaneSettings.defaults().withStallTimeout(timeout);
    List<String> names = new ArrayList<>(List.of("crc32c", "unchecked"));
    List<DataPlaneSettings[]> ends = new ArrayList<>(List.of(
        new DataPlaneSettings[] {base, base},
        new DataPlaneSettings[] {base.withTransport(UNCHECKED), base.withTransport(UNCHECKED)}));
    for (TlsEngine engine : List.of(TlsEngine.JDK, TlsEngine.OPENSSL)) {
      TlsTransport source = new TlsTransport(new TlsCredentials(keys, "host-a", engine), timeout);
      if (source.engine() != engine) throw new IllegalStateException(engine + " is not available here");
      names.add("tls-" + engine.configName());
      ends.add(new DataPlaneSettings[] {base.withTransport(source),
          base.withTransport(new TlsTransport(new TlsCredentials(keys, "host-b", engine), timeout))});
    }
    GuestMemory source = Guests.randomGuest(pages, 0, 1);
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    ExecutorService pool = Executors.newFixedThreadPool(CHANNELS);
    System.out.printf("%d MiB guest, %d channels, %d core(s), %s%n", mib, CHANNELS, Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.version"));
    int raw = names.size();
    names.add("raw");
    for (int i = 0; i < 2; i++) for (int k = 0; k < names.size(); k++) run(k == raw, pool, ends, k, source, dest, pages); // warm-up
    double[][] mbps = new double[names.size()][repeats];
    double[][] cpu = new double[names.size()][repeats];
    for (int r = 0; r < repeats; r++) {
      for (int k = 0; k < names.size(); k++) {
        long[] t = run(k == raw, pool, ends, k, source, dest, pages);
        mbps[k][r] = (mib << 20) / 1e6 / (t[0] / 1e9);
        cpu[k][r] = t[1] / 1e9 / ((mib << 20) / 1e9);
        System.out.printf("%-11s %7.1f MB/s  %.2f CPU s/GB%n", names.get(k), mbps[k][r], cpu[k][r]);
      }
    }
    for (int k = 0; k < names.size(); k++) {
      double m = 0;
      double c = 0;
      for (int r = 0; r < repeats; r++) {
        m += mbps[k][r] / repeats;
        c += cpu[k][r] / repeats;
      }
      System.out.printf("%-11s mean %7.1f MB/s  %.2f CPU s/GB%n", names.get(k), m, c);
    }
    for (int of : new int[] {0, 1, raw}) {
      for (int k = of == raw ? 0 : of + 1; k < (of == raw ? raw : names.size()); k++) {
        double ratio = 0;
        for (int r = 0; r < repeats; r++) ratio += mbps[k][r] / mbps[of][r];
        System.out.printf("%s / %s throughput: %.3f (mean of %d back-to-back pairs)%n", names.get(k), names.get(of), ratio / repeats, repeats);
      }
    }
    pool.shutdownNow();
    // What a CRC32C pass costs by itself, so the ratio above can be read against its floor: both
    // ends compute one over every payload byte, and on loopback both ends share these cores.
    double crcGbps = crc32cGbps();
    double unchecked = 0;
    for (int r = 0; r < repeats; r++) unchecked += cpu[1][r] / repeats;
    System.out.printf("CRC32C alone: %.1f GB/s on one core (1 MiB buffer, in cache); at both ends %.3f CPU s/GB, "
        + "%.1f%% of unchecked's %.2f CPU s/GB: the least it adds while the transfer is CPU-bound%n", crcGbps,
        2 / crcGbps, 100 * (2 / crcGbps) / unchecked, unchecked);
  }

  private static double crc32cGbps() {
    ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
    for (int i = 0; i < b.capacity(); i += 8) b.putLong(i, i * 0x9E3779B97F4A7C15L);
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    long bytes = 0;
    long sink = 0;
    long t0 = System.nanoTime();
    while (System.nanoTime() - t0 < 2_000_000_000L) {
      for (int i = 0; i < 256; i++) {
        crc.reset();
        crc.update(b.clear());
        sink += crc.getValue();
      }
      bytes += 256L << 20;
    }
    double gbps = bytes / 1e9 / ((System.nanoTime() - t0) / 1e9);
    return sink == 42 ? gbps + 1e-9 : gbps; // sink used, so the loop is not optimised away
  }

  private static long[] run(boolean raw, ExecutorService pool, List<DataPlaneSettings[]> ends, int k, GuestMemory source,
      GuestMemory dest, long pages) throws Exception {
    return raw ? raw(pool, source, dest) : round(pool, ends.get(k), source, dest, pages);
  }

  /**
   * The raw row: CHANNELS plain sockets, each moving whole chunks of the source guest memory
   * straight into the same chunks of the destination's (chunk i on socket i % CHANNELS), one
   * write and one read loop per chunk; returns {wall nanos, process CPU nanos}.
   */
  private static long[] raw(ExecutorService pool, GuestMemory source, GuestMemory dest) throws Exception {
    int chunks = source.chunkIndex(source.pageCount() - 1) + 1;
    try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
      int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
      ExecutorService receivers = Executors.newFixedThreadPool(CHANNELS);
      try {
        long cpu0 = cpu();
        long t0 = System.nanoTime();
        List<Future<?>> done = new ArrayList<>();
        for (int c = 0; c < CHANNELS; c++) {
          int first = c;
          done.add(pool.submit(() -> {
            try (SocketChannel out = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
              out.write(ByteBuffer.allocate(1).put(0, (byte) first));
              for (int i = first; i < chunks; i += CHANNELS) {
                ByteBuffer view = source.chunkView(i);
                while (view.hasRemaining()) out.write(view);
              }
              out.read(ByteBuffer.allocate(1)); // the receiver's acknowledgement: every byte arrived
            }
            return null;
          }));
        }
        for (int c = 0; c < CHANNELS; c++) {
          SocketChannel in = server.accept();
          done.add(receivers.submit(() -> {
            try (in) {
              ByteBuffer which = ByteBuffer.allocate(1);
              while (which.hasRemaining()) if (in.read(which) < 0) throw new IOException("raw sender closed early");
              for (int i = which.get(0); i < chunks; i += CHANNELS) {
                ByteBuffer view = dest.chunkView(i);
                while (view.hasRemaining()) if (in.read(view) < 0) throw new IOException("raw sender closed early");
              }
              in.write(ByteBuffer.allocate(1));
            }
            return null;
          }));
        }
        for (Future<?> f : done) f.get();
        return new long[] {System.nanoTime() - t0, cpu() - cpu0};
      } finally {
        receivers.shutdownNow();
      }
    }
  }

  /** One round of every page; returns {wall nanos, process CPU nanos}. */
  private static long[] round(ExecutorService pool, DataPlaneSettings[] ends, GuestMemory source, GuestMemory dest, long pages)
      throws Exception {
    try (DataPlaneServer server = new DataPlaneServer("127.0.0.1", 0, ends[1])) {
      server.start();
      RecordingListener listener = new RecordingListener();
      server.expect("m", "t", CHANNELS, listener, dest, new DirtyBitmap(pages), "host-a");
      long[] all = Guests.allPages(pages);
      long cpu0 = cpu();
      long t0 = System.nanoTime();
      List<Future<?>> sent = new ArrayList<>();
      for (int c = 0; c < CHANNELS; c++) {
        int ch = c;
        sent.add(pool.submit(() -> {
          try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m", "t", ch, ends[0], "host-b")) {
            s.endRound(1, s.sendPages(source, all, CHANNELS, ch).pages(), pages);
            s.sendEndOfStream(pages);
          }
          return null;
        }));
      }
      for (Future<?> f : sent) f.get();
      for (int c = 0; c < CHANNELS; c++) listener.awaitEndOfStream();
      return new long[] {System.nanoTime() - t0, cpu() - cpu0};
    }
  }

  private static long cpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }
}
