package org.livemig.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.Phase;

/**
 * How long a migration stands still when its coordinator's node dies: the coordinator JVM that
 * runs it gets kill -9 in Perform, and the time to the new incarnation's first progress (a
 * status in the new epoch with more bytes transferred) is measured, with the given
 * split-brain-resolver stable-after and failure-detector acceptable-heartbeat-pause on every node,
 * and any further settings given as key=value (e.g. akka.cluster.down-removal-margin=1s); prints
 * where the time went (unreachable, downed, removed, the new epoch's first answer) as host-a's
 * node saw it. The README's section "When the coordinator's node dies" has the commands and the
 * figures, shipped and fast (livemig-fast-takeover.conf).
 */
public final class TakeoverBenchmark {
  private TakeoverBenchmark() {}

  public static void main(String[] args) throws Exception {
    String stableAfter = args.length > 0 ? args[0] : "20s";
    String heartbeatPause = args.length > 1 ? args[1] : "3s";
    Path dir = Files.createTempDirectory("livemig-takeover");
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE";
    Map<String, Object> settings = new java.util.LinkedHashMap<>(Map.of(
        "akka.cluster.split-brain-resolver.stable-after", stableAfter,
        "akka.cluster.failure-detector.acceptable-heartbeat-pause", heartbeatPause,
        "livemig.coordinator.ask-timeout", "1s"));
    for (int i = 2; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      if (kv.length != 2) throw new IllegalArgumentException("expected key=value, not '" + args[i] + "'");
      settings.put(kv[0], kv[1]);
    }
    TestCluster hosts = new TestCluster(dir, 0, Map.of("host-a", settings, "host-b", settings), journal);
    try {
      LivemigNode seed = hosts.hosts.get("host-a");
      HostProcess first = coordinator(dir, "coordinator-1", seed, journal, settings);
      ClusterWait.upMembers(seed.system(), 3, Duration.ofSeconds(60));
      GuestDescription d = TestCluster.guest("takeover", 64, 3000);
      hosts.createGuest("host-a", d);
      String id = "takeover-1";
      for (int attempt = 1; ; attempt++) { // a short ask timeout: the first start may wait for the shard
        try {
          hosts.client.start(id, d.getGuestId(), "host-a", "host-b", MigrationParameters.newBuilder()
              .setMaxBandwidthBytesPerSecond(1_000_000).build()).toCompletableFuture().get(30, TimeUnit.SECONDS);
          break;
        } catch (Exception e) {
          if (attempt == 30) throw e;
        }
      }
      hosts.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getTransferredBytes() > 0,
          Duration.ofSeconds(30));
      HostProcess second = coordinator(dir, "coordinator-2", seed, journal, settings);
      ClusterWait.upMembers(seed.system(), 4, Duration.ofSeconds(60));
      long before = hosts.awaitStatus(id, i -> true, Duration.ofSeconds(30)).getTransferredBytes();

      long killedAt = System.nanoTime();
      new ProcessBuilder("kill", "-9", Long.toString(first.pid())).start().waitFor(10, TimeUnit.SECONDS);
      MigrationInfo after = null;
      // Where the time goes, as host-a's node sees the killed member, and the coordinator's answers.
      long unreachableAt = 0, downAt = 0, removedAt = 0, epochAt = 0;
      var cluster = akka.cluster.typed.Cluster.get(seed.system());
      while (System.nanoTime() - killedAt < TimeUnit.SECONDS.toNanos(180)) {
        long now = System.nanoTime();
        var state = cluster.state();
        boolean member = false;
        for (var m : state.getMembers()) {
          if (m.address().toString().equals(first.address())) {
            member = true;
            if (downAt == 0 && m.status() == akka.cluster.MemberStatus.down()) downAt = now;
          }
        }
        if (unreachableAt == 0 && state.getUnreachable().stream().anyMatch(m -> m.address().toString()
            .equals(first.address()))) unreachableAt = now;
        if (removedAt == 0 && !member) removedAt = now;
        try {
          after = hosts.client.status(id).toCompletableFuture().get(1, TimeUnit.SECONDS);
          if (epochAt == 0 && after.getEpoch() >= 2) epochAt = System.nanoTime();
          if (after.getEpoch() >= 2 && after.getTransferredBytes() > before) break;
        } catch (Exception unanswered) {
          // the shard is moving: no coordinator answers yet
        }
        Thread.sleep(50); // polling another process's coordinator
      }
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
      System.out.printf("%s: kill -9 of the coordinator's JVM to progress in epoch %d: %d ms (unreachable %d ms, "
          + "down %d ms, removed %d ms, new epoch answers %d ms)%n", settings, after == null ? 0 : after.getEpoch(), ms,
          since(killedAt, unreachableAt), since(killedAt, downAt), since(killedAt, removedAt), since(killedAt, epochAt));
      second.process().destroyForcibly();
    } finally {
      hosts.close();
    }
    System.exit(0);
  }

  private static long since(long start, long at) {
    return at == 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(at - start);
  }

  private static HostProcess coordinator(Path dir, String name, LivemigNode seed, String journal,
      Map<String, Object> settings) throws Exception {
    Path conf = dir.resolve(name + ".conf");
    List<String> lines = new ArrayList<>(List.of(
        "include \"livemig-node.conf\"",
        "akka.cluster.roles = [coordinator]",
        "akka.remote.artery.canonical.port = 0",
        "akka.cluster.seed-nodes = [\"" + seed.address() + "\"]",
        "livemig.journal.url = \"" + journal + "\""));
    settings.forEach((k, v) -> lines.add(k + " = " + v));
    lines.add("");
    Files.writeString(conf, String.join("\n", lines));
    return HostProcess.start(conf, name);
  }
}
