package org.livemig.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * The performance benchmark (README "Performance"): raw loopback sockets between two JVMs
 * against the engine migrating a paused random guest between two host JVMs, back to back per
 * repetition, then live guests at several dirty rates and downtime limits. Properties:
 * bench.quick (256 MiB, 1 repetition), bench.size-mib (1024), bench.reps (3), bench.channels
 * (0 = the engine default), bench.live (true: also the live cases), bench.host-jvm (extra host JVM options).
 */
public final class Benchmark {
  private static final long[] LIVE_DIRTY_MB_PER_S = {0, 50, 200};
  private static final long[] LIVE_DOWNTIME_LIMITS_MS = {300, 30};

  private Benchmark() {}

  public static void main(String[] args) throws Exception {
    boolean quick = Boolean.getBoolean("bench.quick");
    long sizeMib = Long.getLong("bench.size-mib", quick ? 256 : 1024);
    int reps = Integer.getInteger("bench.reps", quick ? 1 : 3);
    int channels = Integer.getInteger("bench.channels", 0);
    boolean live = Boolean.parseBoolean(System.getProperty("bench.live", "true"));
    List<String> hostJvm = new ArrayList<>(List.of("-Xms256m", "-Xmx256m",
        "-XX:MaxDirectMemorySize=" + (3 * sizeMib + 512) + "m", "-XX:+AlwaysPreTouch"));
    String extra = System.getProperty("bench.host-jvm", "").trim(); // e.g. JFR options for profiling
    if (!extra.isEmpty()) hostJvm.addAll(List.of(extra.split("\\s+")));
    Path dir = Files.createTempDirectory("livemig-bench");
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE";
    System.out.printf("livemig benchmark: guest %d MiB, %d repetition(s), channels %s, host JVMs %s, work dir %s%n",
        sizeMib, reps, channels == 0 ? "default" : channels, hostJvm, dir);

    Process sink = new ProcessBuilder(HostPair.javaBin(), "-cp", System.getProperty("java.class.path"),
        RawTransfer.class.getName()).redirectErrorStream(true).start();
    BufferedReader sinkOut = new BufferedReader(new InputStreamReader(sink.getInputStream(), StandardCharsets.UTF_8));
    int sinkPort = Integer.parseInt(sinkOut.readLine().replace("raw sink ", "").trim());
    Report report = new Report(sizeMib << 20);
    try (LivemigNode coordinator = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
        Map.of()))) {
      coordinator.join(coordinator.address());
      String seed = coordinator.address().toString();
      MigrationClient client = new MigrationClient(coordinator.system());

      // (a) + (b): raw then engine, back to back per repetition, paused guest.
      String paused = guestConf("paused", sizeMib, 0, false);
      try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal, paused, hostJvm)) {
        String from = "host-a";
        for (int r = 0; r < reps; r++) {
          long rawNanos = RawTransfer.send(sinkPort, sizeMib << 20);
          MigrationInfo i = migrate(client, "paused", from, other(from), params(300, channels));
          report.pair(rawNanos, i);
          from = other(from);
        }
        report.peakRss("paused", hosts.peakRssMib());
      }
      // (c): live guests; each case's guest moves back and forth between the two hosts.
      if (live) {
        for (long mbPerS : LIVE_DIRTY_MB_PER_S) {
          String id = "live-" + mbPerS;
          long pagesPerS = mbPerS * 1_000_000 / 4096;
          try (HostPair hosts = HostPair.start(coordinator.system(), dir, seed, journal,
              guestConf(id, sizeMib, pagesPerS, true), hostJvm)) {
            String from = "host-a";
            for (long limit : LIVE_DOWNTIME_LIMITS_MS) {
              for (int r = 0; r < reps; r++) {
                report.live(mbPerS, limit, migrate(client, id, from, other(from), params(limit, channels)));
                from = other(from);
              }
            }
            report.peakRss(id, hosts.peakRssMib());
          }
        }
      }
    } finally {
      sink.destroy();
    }
    report.print(System.out);
    System.exit(0); // the coordinator's H2 and Akka threads would otherwise hold the JVM
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
    while (!terminal(info.getStatus())) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("migration " + info.getMigrationId() + " hangs");
      Thread.sleep(50);
      info = client.status(info.getMigrationId()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    return info;
  }

  private static boolean terminal(MigrationStatus s) {
    return s == MigrationStatus.COMPLETED || s == MigrationStatus.FAILED || s == MigrationStatus.CANCELLED;
  }
}
