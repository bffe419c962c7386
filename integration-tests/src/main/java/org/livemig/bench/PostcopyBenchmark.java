package org.livemig.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.client.MigrationClient;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * The postcopy benchmark (README "Performance"), two host JVMs as in {@link Benchmark}: a live
 * guest migrated by precopy and by postcopy (after one round), back to back per repetition, with
 * the guest's page-fault latency while the background push runs; then, through a proxy, the time
 * from {@code recover} to POSTCOPY_ACTIVE after a cut. Properties: bench.size-mib (1024),
 * bench.reps (3), bench.dirty-mb (200: MB/s the guest writes), bench.push-mbps (200: the
 * postcopy push's cap in the recovery case, so the cut lands mid-push).
 */
public final class PostcopyBenchmark {
  private PostcopyBenchmark() {}

  public static void main(String[] args) throws Exception {
    long sizeMib = Long.getLong("bench.size-mib", 1024);
    int reps = Integer.getInteger("bench.reps", 3);
    long dirtyMb = Long.getLong("bench.dirty-mb", 200);
    long pushMbps = Long.getLong("bench.push-mbps", 200);
    List<String> hostJvm = List.of("-Xms256m", "-Xmx256m", "-XX:MaxDirectMemorySize=" + (3 * sizeMib + 512) + "m",
        "-XX:+AlwaysPreTouch");
    Path dir = Files.createTempDirectory("livemig-postcopy-bench");
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE";
    System.out.printf("livemig postcopy benchmark: guest %d MiB dirtying %d MB/s, %d repetition(s), work dir %s%n",
        sizeMib, dirtyMb, reps, dir);
    List<Long> precopyMs = new ArrayList<>();
    List<Long> precopyDowntime = new ArrayList<>();
    List<Long> postcopyMs = new ArrayList<>();
    List<Long> postcopyDowntime = new ArrayList<>();
    List<Long> faultMedianUs = new ArrayList<>();
    List<Long> faultP99Us = new ArrayList<>();
    List<Long> recoverMs = new ArrayList<>();
    try (LinkProxy proxy = LinkProxy.onFreePorts();
        LivemigNode coordinator = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
            Map.of()))) {
      coordinator.join(coordinator.address());
      MigrationClient client = new MigrationClient(coordinator.system());
      String guest = "bench.guest { id = \"live\", size-mib = " + sizeMib + ", dirty-pages-per-second = "
          + dirtyMb * 1_000_000 / 4096 + ", running = true }";
      // host-b's data port sits behind the proxy: precopy, postcopy and every recovery go through it.
      String behindProxy = "livemig.host.data-plane.port = " + proxy.targetPort()
          + "\nlivemig.host.data-plane.advertised-port = " + proxy.port();
      try (HostPair hosts = HostPair.start(coordinator.system(), dir, coordinator.address().toString(), journal, guest,
          behindProxy, hostJvm)) {
        for (int r = 0; r < reps; r++) {
          MigrationInfo pre = migrate(client, "host-a", "host-b", MigrationParameters.newBuilder()
              .setDowntimeLimitMs(300).build());
          precopyMs.add(pre.getTotalTimeMs());
          precopyDowntime.add(pre.getDowntimeMs());
          MigrationInfo post = migrate(client, "host-b", "host-a", postcopy(0));
          postcopyMs.add(post.getTotalTimeMs());
          postcopyDowntime.add(post.getDowntimeMs());
          faultMedianUs.add(post.getPostcopyResult().getFaultMedianUs());
          faultP99Us.add(post.getPostcopyResult().getFaultP99Us());
          System.out.printf("  faults %d, median %d us, p99 %d us%n", post.getPostcopyResult().getFaults(),
              post.getPostcopyResult().getFaultMedianUs(), post.getPostcopyResult().getFaultP99Us());
        }
        // Only host-b's data port is behind the proxy: each recovery case moves the guest a -> b,
        // and it comes back unmeasured.
        for (int r = 0; r < reps; r++) {
          recoverMs.add(recoverOnce(client, proxy, "host-a", "host-b", pushMbps * 1_000_000));
          migrate(client, "host-b", "host-a", postcopy(0));
        }
      }
    }
    System.out.printf("%nresults (min / median / max over %d)%n", reps);
    row("precopy total ms", precopyMs);
    row("precopy downtime ms", precopyDowntime);
    row("postcopy total ms", postcopyMs);
    row("postcopy downtime ms", postcopyDowntime);
    row("fault median us", faultMedianUs);
    row("fault p99 us", faultP99Us);
    row("recover -> ACTIVE ms", recoverMs);
    for (int r = 0; r < reps; r++) {
      System.out.printf("  postcopy/precopy total time, pair %d: %.2f%n", r + 1,
          (double) postcopyMs.get(r) / precopyMs.get(r));
    }
    System.exit(0); // the coordinator's H2 and Akka threads would otherwise hold the JVM
  }

  private static MigrationParameters postcopy(long pushCap) {
    return MigrationParameters.newBuilder().setPostcopyAfterRounds(1).setPostcopyKeepaliveMs(500)
        .setMaxBandwidthBytesPerSecond(pushCap).build();
  }

  /** host-a -> host-b in postcopy, a cut mid-push, then the time from recover to POSTCOPY_ACTIVE. */
  private static long recoverOnce(MigrationClient client, LinkProxy proxy, String from, String to, long pushCap)
      throws Exception {
    MigrationInfo i = client.start("live", from, to, postcopy(pushCap)).toCompletableFuture().get(60, TimeUnit.SECONDS);
    String id = i.getMigrationId();
    await(client, id, MigrationStatus.POSTCOPY_ACTIVE);
    Thread.sleep(500); // POSTCOPY_ACTIVE starts at the switchover: let the postcopy channel connect and push
    proxy.cut();
    await(client, id, MigrationStatus.POSTCOPY_PAUSED);
    long t0 = System.nanoTime();
    client.recover(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
    await(client, id, MigrationStatus.POSTCOPY_ACTIVE);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.printf("  recover %s -> %s: POSTCOPY_ACTIVE after %d ms%n", from, to, ms);
    MigrationInfo done = Benchmark.awaitEnd(client, i);
    if (done.getStatus() != MigrationStatus.COMPLETED) throw new IllegalStateException("recovered migration ended " + done);
    return ms;
  }

  private static void await(MigrationClient client, String id, MigrationStatus status) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (System.nanoTime() < deadline) {
      MigrationInfo i = client.status(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
      if (i.getStatus() == status) return;
      if (i.getStatus() == MigrationStatus.FAILED) throw new IllegalStateException("migration failed: " + i.getError());
      Thread.sleep(2);
    }
    throw new IllegalStateException("migration " + id + " never reached " + status);
  }

  private static MigrationInfo migrate(MigrationClient client, String from, String to, MigrationParameters p)
      throws Exception {
    MigrationInfo done = Benchmark.awaitEnd(client,
        client.start("live", from, to, p).toCompletableFuture().get(60, TimeUnit.SECONDS));
    if (done.getStatus() != MigrationStatus.COMPLETED) {
      throw new IllegalStateException("migration " + from + " -> " + to + " ended " + done.getStatus() + ": "
          + done.getError());
    }
    System.out.printf("  %s %s -> %s: total %d ms, downtime %d ms, %d rounds%n", done.getPostcopy() ? "postcopy"
        : "precopy", from, to, done.getTotalTimeMs(), done.getDowntimeMs(), done.getRounds());
    return done;
  }

  private static void row(String name, List<Long> values) {
    List<Long> v = values.stream().sorted().toList();
    System.out.printf("  %-22s %8d / %8d / %8d%n", name, v.get(0), v.get(v.size() / 2), v.get(v.size() - 1));
  }
}
