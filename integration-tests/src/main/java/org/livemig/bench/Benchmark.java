package org.livemig.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.engine.coordinator.MigrationState;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * The performance benchmark (README "Performance"): raw loopback sockets between two JVMs
 * against the engine migrating a paused random guest between two host JVMs, back to back per
 * repetition, then live guests at several dirty rates and downtime limits. Properties:
 * bench.quick (256 MiB, 1 repetition), bench.size-mib (1024), bench.reps (3), bench.channels
 * (0 = the engine default), bench.data-plane (tls,plain: the paused case once per mode), bench.paused, bench.live, bench.memory (each case on or off),
 * bench.dirty-rates and bench.limits (the live cases, MB/s and ms), bench.cap-mbps (bandwidth caps,
 * MB/s; none = no capped case), bench.journal (h2 or postgres), bench.warmup (uncounted migrations
 * per case first, back and forth, default 2: each host once source, once destination), bench.host-jvm (extra host JVM options),
 * bench.disks (the live guest with a disk on shared storage, 10 ms requests at queue depth 32, at each of
 * bench.limits; on by default) and bench.disk-dirty-mbps (its memory dirty rate, 50).
 */
public final class Benchmark {

  private Benchmark() {}

  public static void main(String[] args) throws Exception {
    boolean quick = Boolean.getBoolean("bench.quick");
    long sizeMib = Long.getLong("bench.size-mib", quick ? 256 : 1024);
    int reps = Integer.getInteger("bench.reps", quick ? 1 : 3);
    int channels = Integer.getInteger("bench.channels", 0);
    boolean live = Boolean.parseBoolean(System.getProperty("bench.live", "true"));
    boolean paused = Boolean.parseBoolean(prop("bench.paused", "true"));
    long[] dirtyRates = longs(prop("bench.dirty-rates", "0,50,100,200"));
    long[] limits = longs(prop("bench.limits", "300,30"));
    boolean memory = Boolean.parseBoolean(prop("bench.memory", "true"));
    int warmups = Integer.parseInt(prop("bench.warmup", "2"));
    long[] capsMbPerS = longs(prop("bench.cap-mbps", "100,400"));
    boolean disks = Boolean.parseBoolean(prop("bench.disks", "true"));
    long diskDirtyMbPerS = Long.parseLong(prop("bench.disk-dirty-mbps", "50"));
    // Direct memory sized like a host's capacity (one guest plus the engine's buffers): a destroyed
    // guest's memory is given back when the next guest needs room, so one host never holds two.
    List<String> hostJvm = new ArrayList<>(List.of("-Xms256m", "-Xmx256m",
        "-XX:MaxDirectMemorySize=" + (sizeMib + 256) + "m", "-XX:+AlwaysPreTouch"));
    String extra = System.getProperty("bench.host-jvm", "").trim(); // e.g. JFR options for profiling
    if (!extra.isEmpty()) hostJvm.addAll(List.of(extra.split("\\s+")));
    Path dir = Files.createTempDirectory("livemig-bench");
    String journal = journalUrl(prop("bench.journal", "h2"), dir);
    System.out.printf("livemig benchmark: guest %d MiB, %d repetition(s), channels %s, host JVMs %s, work dir %s%n",
        sizeMib, reps, channels == 0 ? "default" : channels, hostJvm, dir);

    Report report = new Report(sizeMib << 20);
    try (RawTransfer raw = RawTransfer.start(sizeMib << 20);
        LivemigNode coordinator = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
        Map.of()))) {
      coordinator.join(coordinator.address());
      // The memory baseline uses the engine's channel count: the same parallelism on both sides.
      int rawChannels = channels > 0 ? channels : coordinator.system().settings().config()
          .getInt("livemig.migration.channels");
      String seed = coordinator.address().toString();
      MigrationClient client = new MigrationClient(coordinator.system());

      // (a) + (b): raw then engine, back to back per repetition, paused guest, once per data-plane
      // mode (bench.data-plane), each with its own hosts; the raw socket is paired with the first.
      List<String> modes = dataPlaneModes(prop("bench.data-plane", "tls,plain"));
      for (int m = 0; paused && m < modes.size(); m++) {
        String mode = modes.get(m);
        String modeConf = dataPlaneConf(mode);
        System.out.println("paused guest, data plane " + mode);
        try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal,
            guestConf("paused", sizeMib, 0, false) + "\n" + modeConf, modeConf, hostJvm)) {
          String from = warmUp(client, "paused", warmups, params(300, channels));
          for (int r = 0; r < reps; r++) {
            long rawNanos = m == 0 ? raw.socket(sizeMib << 20) : 0;
            long memoryNanos = m == 0 ? raw.memory(sizeMib << 20, rawChannels) : 0;
            double cpuBefore = hosts.cpuSeconds();
            MigrationInfo i = migrate(client, "paused", from, other(from), params(300, channels));
            double cpu = hosts.cpuSeconds() - cpuBefore;
            if (m == 0) report.pair(rawNanos, memoryNanos, i);
            report.dataPlane(mode, i, cpu);
            from = other(from);
          }
          if (m == 0) report.peakRss("paused", hosts.peakRssMib());
        }
      }
      // (d) + (e): the engine's own memory at a quarter of the size, bandwidth caps with that guest,
      // then the memory again at the full size (the heap must not grow with it).
      long quarterMib = Math.max(64, sizeMib / 4);
      if (memory || capsMbPerS.length > 0) {
        try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal,
            guestConf("mem-" + quarterMib, quarterMib, 0, false), hostJvm)) {
          if (memory) report.memory(measureMemory(client, hosts, "mem-" + quarterMib, quarterMib, channels));
          String from = memory ? "host-b" : "host-a";
          for (long cap : capsMbPerS) {
            report.cap(cap * 1_000_000, migrate(client, "mem-" + quarterMib, from, other(from),
                params(300, channels).toBuilder().setMaxBandwidthBytesPerSecond(cap * 1_000_000).build()));
            from = other(from);
          }
        }
      }
      if (memory) {
        try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal,
            guestConf("mem-" + sizeMib, sizeMib, 0, false), hostJvm)) {
          report.memory(measureMemory(client, hosts, "mem-" + sizeMib, sizeMib, channels));
        }
      }
      // (c): live guests; each case's guest moves back and forth between the two hosts.
      if (live) {
        for (long mbPerS : dirtyRates) {
          String id = "live-" + mbPerS;
          long pagesPerS = mbPerS * 1_000_000 / 4096;
          try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal,
              guestConf(id, sizeMib, pagesPerS, true), hostJvm)) {
            String from = warmUp(client, id, warmups, params(limits[0], channels));
            for (long limit : limits) {
              for (int r = 0; r < reps; r++) {
                report.live(mbPerS, limit, migrate(client, id, from, other(from), params(limit, channels)));
                from = other(from);
              }
            }
            report.peakRss(id, hosts.peakRssMib());
          }
        }
      }
      // (f): a live guest with a disk on a shared datastore, every request 10 ms at queue depth 32:
      // the requests in flight drain inside the blackout, the source's teardown comes after it.
      if (disks) {
        String conf = "livemig.host.datastores.shared = \"" + dir.resolve("shared") + "\"\n"
            + "livemig.host.faults.disk.write-delay = 10ms";
        String guest = guestConf("disk", sizeMib, diskDirtyMbPerS * 1_000_000 / 4096, true)
            + "\nbench.guest.disk { blocks = 65536, queue-depth = 32, writes-per-second = 2000 }\n" + conf;
        try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal, guest, conf, hostJvm)) {
          String from = warmUp(client, "disk", warmups, params(limits[0], channels));
          for (long limit : limits) {
            for (int r = 0; r < reps; r++) {
              report.disk(diskDirtyMbPerS, limit, migrate(client, "disk", from, other(from), params(limit, channels)));
              from = other(from);
            }
          }
        }
      }
    }
    report.print(System.out);
    System.exit(0); // the coordinator's H2 and Akka threads would otherwise hold the JVM
  }

  /**
   * h2: an H2 file in the work directory, shared by the three JVMs (the embedded default);
   * postgres: a fresh schema in the PostgreSQL database of LIVEMIG_JOURNAL_URL (default
   * 127.0.0.1:5432/test, user postgres), the journal of a real cluster.
   */
  static String journalUrl(String kind, Path dir) throws java.sql.SQLException {
    if (kind.equals("h2")) return "jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE";
    if (!kind.equals("postgres")) throw new IllegalArgumentException("bench.journal must be h2 or postgres, was " + kind);
    String base = System.getenv().getOrDefault("LIVEMIG_JOURNAL_URL", "jdbc:postgresql://127.0.0.1:5432/test");
    String schema = "livemig_bench_" + System.currentTimeMillis();
    try (var c = java.sql.DriverManager.getConnection(base, System.getenv().getOrDefault("LIVEMIG_JOURNAL_USER", "postgres"),
        System.getenv().getOrDefault("LIVEMIG_JOURNAL_PASSWORD", ""))) {
      c.createStatement().execute("create schema " + schema);
    }
    return base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema;
  }

  /**
   * bench.data-plane: tls (the default: TLS 1.3, mutual authentication, the default engine),
   * tls-jdk (the JDK's SSLEngine) and plain (TLS off: TCP, every frame and page batch with a
   * CRC32C), comma-separated; "none" runs no paused case.
   */
  static List<String> dataPlaneModes(String csv) {
    if (csv.equals("none")) return List.of();
    List<String> modes = java.util.Arrays.stream(csv.split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList();
    for (String m : modes) dataPlaneConf(m);
    return modes;
  }

  /** The hosts' config lines for a data-plane mode. */
  static String dataPlaneConf(String mode) {
    return switch (mode) {
      case "tls" -> "livemig.host.data-plane.tls.enabled = on";
      case "tls-jdk" -> "livemig.host.data-plane.tls { enabled = on, engine = jdk }";
      case "plain" -> "livemig.host.data-plane.tls.enabled = off";
      default -> throw new IllegalArgumentException("bench.data-plane: unknown mode '" + mode + "' (tls, tls-jdk, plain)");
    };
  }

  /** A -D property, or the default when absent or blank (Maven passes unset ones as empty). */
  static String prop(String name, String dflt) {
    String v = System.getProperty(name, "").trim();
    return v.isEmpty() ? dflt : v;
  }

  private static long[] longs(String csv) {
    if (csv.equals("none")) return new long[0];
    return java.util.Arrays.stream(csv.split(",")).map(String::trim).filter(x -> !x.isEmpty())
        .mapToLong(Long::parseLong).toArray();
  }

  private static String guestConf(String id, long sizeMib, long dirtyPagesPerSecond, boolean running) {
    return "bench.guest { id = \"" + id + "\", size-mib = " + sizeMib + ", dirty-pages-per-second = "
        + dirtyPagesPerSecond + ", running = " + running + " }";
  }

  private static MigrationParameters params(long downtimeLimitMs, int channels) {
    return MigrationParameters.newBuilder().setDowntimeLimitMs(downtimeLimitMs).setChannels(channels).build();
  }

  private static String other(String host) {
    return host.equals("host-a") ? "host-b" : "host-a";
  }

  /**
   * Migrates the paused guest host-a -> host-b once and measures both hosts: resident memory
   * before, its peak during the migration (reset just before), and the heap after a full GC.
   */
  private static Report.Memory measureMemory(MigrationClient client, HostPair hosts, String guestId, long guestMib,
      int channels) throws Exception {
    long[] pids = hosts.pids();
    long[] before = new long[2];
    for (int h = 0; h < 2; h++) {
      before[h] = HostMemory.rssKib(pids[h]);
      HostMemory.resetPeak(pids[h]);
    }
    migrate(client, guestId, "host-a", "host-b", params(300, channels));
    long[] peak = {HostMemory.peakRssKib(pids[0]), HostMemory.peakRssKib(pids[1])};
    long heapKib = HostMemory.heapUsedAfterGcKib(pids[1]);
    return new Report.Memory(guestMib, before[0] >> 10, peak[0] >> 10, before[1] >> 10, peak[1] >> 10, heapKib >> 10);
  }

  /**
   * Migrations not counted, back and forth from host-a: fresh host JVMs run their first
   * migration with cold code (JIT, class loading), which a long-running host has long passed.
   * Returns where the guest is now.
   */
  private static String warmUp(MigrationClient client, String guestId, int n, MigrationParameters params)
      throws Exception {
    String from = "host-a";
    for (int i = 0; i < n; i++) {
      System.out.print("  warm-up, not counted:");
      migrate(client, guestId, from, other(from), params);
      from = other(from);
    }
    return from;
  }

  /** Runs one migration to its end; a failed migration stops the benchmark. */
  private static MigrationInfo migrate(MigrationClient client, String guestId, String from, String to,
      MigrationParameters params) throws Exception {
    MigrationInfo info = awaitEnd(client,
        client.start(guestId, from, to, params).toCompletableFuture().get(60, TimeUnit.SECONDS));
    if (info.getStatus() != MigrationStatus.COMPLETED) {
      throw new IllegalStateException("migration of " + guestId + " " + from + " -> " + to + " ended "
          + info.getStatus() + ": " + info.getError());
    }
    System.out.printf("  %s %s -> %s: total %d ms, setup %d ms, downtime %d ms, %d rounds%n", guestId, from, to,
        info.getTotalTimeMs(), info.getSetupTimeMs(), info.getDowntimeMs(), info.getRounds());
    return info;
  }

  /** Polls a started migration until it ends (at most five minutes), whatever the outcome. */
  static MigrationInfo awaitEnd(MigrationClient client, MigrationInfo started) throws Exception {
    MigrationInfo info = started;
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (!MigrationState.ended(info.getStatus())) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("migration " + info.getMigrationId() + " hangs");
      Thread.sleep(50);
      info = client.status(info.getMigrationId()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    return info;
  }
}
