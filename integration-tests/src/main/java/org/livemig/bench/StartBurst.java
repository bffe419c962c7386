package org.livemig.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.engine.coordinator.AdmissionControl;
import org.livemig.messages.MigrationParameters;

/**
 * Where the answer to a burst of starts goes (README "Many migrations at once"): one coordinator
 * node (H2 journal in a temporary directory, as ScaleBenchmark's driver), no hosts (a granted
 * migration waits for its hosts' lookup, which the burst does not wait for). Each round asks, for
 * `bench.burst.count` fresh migration ids requested round-robin over five hosts as ScaleBenchmark does:
 *
 * <ul>
 *   <li>start of each (all of it, as ScaleBenchmark asks), with from the journal when each
 *       coordinator's start was written and how long its answer came after that, and how many
 *       shards the shard coordinator allocated (one journal write each, one after another),
 *   <li>status of as many other fresh ids (their coordinator entities started by sharding: shard
 *       allocation, the remembered entity's write, the coordinator's recovery; "unknown migration"),
 *   <li>start of those same ids (their coordinators running: the start's write and admission's answer),
 *   <li>admission control alone: a request for as many other ids sent straight to the singleton.
 * </ul>
 *
 * <p>and prints each burst's p50/p90/max answer time and when the last answer came, then the
 * journal's writes per persistence-id kind during the rounds. Prints, asserts nothing.
 *
 * <p>{@code mvn -q -Pbench -DskipTests -pl integration-tests -am package exec:exec
 * -Dbench.main=org.livemig.bench.StartBurst [-Dbench.burst.count=200] [-Dbench.burst.rounds=2]
 * [-Dbench.burst.shards=N]} (N: akka.cluster.sharding.number-of-shards for this run).
 */
public final class StartBurst {
  private StartBurst() {}

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  public static void main(String[] args) throws Exception {
    int count = Integer.parseInt(Benchmark.prop("bench.burst.count", "200"));
    int rounds = Integer.parseInt(Benchmark.prop("bench.burst.rounds", "2"));
    String shards = Benchmark.prop("bench.burst.shards", "");
    Path dir = Files.createTempDirectory("livemig-burst");
    String journal = Benchmark.journalUrl("h2", dir);
    Map<String, Object> overrides = new HashMap<>();
    // A start's own ask timeout out of the way: the burst measures when each answer came.
    overrides.put("livemig.coordinator.ask-timeout", TIMEOUT.toSeconds() + "s");
    if (!shards.isEmpty()) overrides.put("akka.cluster.sharding.number-of-shards", Integer.parseInt(shards));
    try (LivemigNode node = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
        overrides))) {
      node.join(node.address());
      int shardCount = node.system().settings().config().getInt("akka.cluster.sharding.number-of-shards");
      System.out.printf("start burst: %d per burst, %d rounds, number-of-shards %d, work dir %s%n", count, rounds,
          shardCount, dir);
      MigrationClient client = new MigrationClient(node.system());
      ActorRef<AdmissionControl.Command> admission = AdmissionControl.init(node.system());
      awaitAdmission(node, admission);
      MigrationParameters params = MigrationParameters.getDefaultInstance();
      long since = System.currentTimeMillis();
      for (int r = 1; r <= rounds; r++) {
        String run = "r" + r;
        List<String> fresh = ids(run + "-s", count);
        long[] answers = burst(run + " start of new ids (all of it)", fresh,
            id -> client.start(id, "g-" + id, host(id), next(id), params));
        breakdown(journal, fresh, answers);
        List<String> touched = ids(run + "-t", count);
        burst(run + " status of new ids (coordinator entities start)", touched,
            id -> client.status(id).handle((v, e) -> null));
        burst(run + " start of those (coordinators running)", touched,
            id -> client.start(id, "g-" + id, host(id), next(id), params));
        burst(run + " admission control alone", ids(run + "-a", count),
            id -> AskPattern.<AdmissionControl.Command, AdmissionControl.Answer>ask(admission,
                reply -> new AdmissionControl.Request(id, host(id), next(id), reply), TIMEOUT,
                node.system().scheduler()));
      }
      journalWrites(journal, since);
    }
    System.exit(0);
  }

  /** count ids "prefix-m-i-j", requested round-robin over five sources as ScaleBenchmark does. */
  private static List<String> ids(String prefix, int count) {
    List<String> ids = new ArrayList<>();
    for (int k = 0; k < count; k++) ids.add(prefix + "-m-" + (k % 5) + "-" + (k / 5));
    return ids;
  }

  private static String host(String id) {
    return "h" + id.split("-m-")[1].split("-")[0];
  }

  private static String next(String id) {
    return "h" + (Integer.parseInt(host(id).substring(1)) + 1) % 5;
  }

  /** Asks all at once, prints the answers' times from the first ask, returns when each came (epoch ms). */
  private static long[] burst(String what, List<String> ids, Function<String, CompletionStage<?>> ask)
      throws Exception {
    long t0 = System.nanoTime();
    long epoch0 = System.currentTimeMillis();
    long[] answered = new long[ids.size()];
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int k = 0; k < ids.size(); k++) {
      int i = k;
      all.add(ask.apply(ids.get(k)).toCompletableFuture().whenComplete((v, e) -> answered[i] = System.nanoTime()));
    }
    long issued = System.nanoTime() - t0;
    int failed = 0;
    for (CompletableFuture<?> f : all) {
      try {
        f.get(TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        failed++;
      }
    }
    long[] ms = Arrays.stream(answered).map(a -> (a - t0) / 1_000_000).sorted().toArray();
    System.out.printf("  %-55s asked in %4d ms; answered p50 %5d ms, p90 %5d ms, max %5d ms%s%n", what,
        issued / 1_000_000, ms[ms.length / 2], ms[(int) (ms.length * 0.9)], ms[ms.length - 1],
        failed == 0 ? "" : ", " + failed + " failed");
    long[] at = new long[answered.length + 1];
    for (int k = 0; k < answered.length; k++) at[k] = epoch0 + (answered[k] - t0) / 1_000_000;
    at[answered.length] = epoch0;
    return at;
  }

  /**
   * From the journal: when each coordinator's first event (the start) was written, from the first
   * ask, and how long its answer came after that; and the shard coordinator's writes (one per newly
   * allocated shard, one after another) during the burst. answers: when each was answered (epoch
   * ms), then when the first was asked.
   */
  static void breakdown(String journal, List<String> ids, long[] answers) throws Exception {
    long epoch0 = answers[ids.size()];
    long last = Arrays.stream(answers).max().orElse(epoch0);
    long[] written = new long[ids.size()];
    long[] after = new long[ids.size()];
    boolean postgres = journal.startsWith("jdbc:postgresql:");
    try (Connection c = DriverManager.getConnection(journal, System.getenv().getOrDefault("LIVEMIG_JOURNAL_USER",
        postgres ? "postgres" : "sa"), System.getenv().getOrDefault("LIVEMIG_JOURNAL_PASSWORD", ""))) {
      var q = c.prepareStatement("select min(\"write_timestamp\") from \"event_journal\" where \"persistence_id\" = ?");
      for (int k = 0; k < ids.size(); k++) {
        q.setString(1, "Migration|" + ids.get(k));
        try (ResultSet rs = q.executeQuery()) {
          rs.next();
          written[k] = rs.getLong(1) - epoch0;
          after[k] = answers[k] - rs.getLong(1);
        }
      }
      try (ResultSet rs = c.createStatement().executeQuery("select count(*), min(\"write_timestamp\"), "
          + "max(\"write_timestamp\") from \"event_journal\" where \"persistence_id\" = "
          + "'/sharding/MigrationCoordinator' and \"write_timestamp\" between " + epoch0 + " and " + last)) {
        rs.next();
        System.out.printf("    %-53s %d, written from +%d ms to +%d ms%n", "shards allocated during it:", rs.getLong(1),
            rs.getLong(1) == 0 ? 0 : rs.getLong(2) - epoch0, rs.getLong(1) == 0 ? 0 : rs.getLong(3) - epoch0);
      }
    }
    Arrays.sort(written);
    Arrays.sort(after);
    System.out.printf("    %-53s p50 %5d ms, p90 %5d ms, max %5d ms%n", "coordinator's start written, from the ask:",
        written[written.length / 2], written[(int) (written.length * 0.9)], written[written.length - 1]);
    System.out.printf("    %-53s p50 %5d ms, p90 %5d ms, max %5d ms%n", "answered after that write:",
        after[after.length / 2], after[(int) (after.length * 0.9)], after[after.length - 1]);
  }

  private static void awaitAdmission(LivemigNode node, ActorRef<AdmissionControl.Command> admission)
      throws Exception {
    AskPattern.<AdmissionControl.Command, AdmissionControl.Answer>ask(admission,
        reply -> new AdmissionControl.Release("warm-up", reply), TIMEOUT, node.system().scheduler())
        .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }

  /** The journal's rows written since the first burst, by kind of persistence id. */
  private static void journalWrites(String journal, long since) throws Exception {
    try (Connection c = DriverManager.getConnection(journal, "sa", "");
        ResultSet rs = c.createStatement().executeQuery("select \"persistence_id\", count(*), "
            + "count(distinct \"persistence_id\"), min(\"write_timestamp\"), max(\"write_timestamp\") "
            + "from \"event_journal\" where \"write_timestamp\" >= " + since + " group by \"persistence_id\"")) {
      Map<String, long[]> kinds = new java.util.TreeMap<>();
      while (rs.next()) {
        String id = rs.getString(1);
        String kind = id.startsWith("/sharding/MigrationShard/") ? "/sharding/MigrationShard/<n>"
            : id.startsWith("Migration|") ? "Migration|<id>" : id;
        long[] k = kinds.computeIfAbsent(kind, x -> new long[] {0, 0, Long.MAX_VALUE, 0});
        k[0] += rs.getLong(2);
        k[1]++;
        k[2] = Math.min(k[2], rs.getLong(4));
        k[3] = Math.max(k[3], rs.getLong(5));
      }
      System.out.println("  journal rows written during the rounds:");
      kinds.forEach((kind, k) -> System.out.printf("    %-32s %5d rows, %4d persistence ids%n", kind, k[0], k[1]));
    }
  }
}
