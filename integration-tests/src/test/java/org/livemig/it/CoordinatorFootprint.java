package org.livemig.it;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.CommandReply;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;
import org.livemig.messages.StartMigration;

/**
 * Prints (does not assert) what a migration costs the coordinators (issue 19, target: 50 KB of
 * heap or less per active migration):
 * <ol>
 *   <li>heap: N coordinators started in one JVM (H2 file journal, local actor system, hosts that
 *   never answer, so each stays active in Begin holding ROUNDS precopy rounds reported and
 *   persisted), used heap after GC and the live objects of a class histogram before, with all N
 *   active, and after all N stopped (as a passivated coordinator: nothing left in memory), and
 *   the classes that grew;</li>
 *   <li>journal: one real migration (8 MiB guest, two hosts and a coordinator node in this JVM),
 *   then the rows and payload bytes the journal holds for it, per persistence id, and its
 *   migration list row.</li>
 * </ol>
 * Arguments: [N (default 2000)] [ROUNDS (default 10)] [h2|postgres (default h2: a file; postgres: fresh
 * schemas in LIVEMIG_TEST_PG_URL's database, dropped at the end)]. Run: the README's command
 * (Performance, Coordinator cost).
 */
public final class CoordinatorFootprint {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    boolean postgres = args.length > 2 && args[2].equals("postgres");
    Path dir = Files.createTempDirectory("livemig-footprint");
    String schema = "footprint_" + Long.toUnsignedString(System.nanoTime(), 36);
    if (postgres) {
      try (Connection c = DriverManager.getConnection(PG_URL, "postgres", "")) {
        c.createStatement().execute("CREATE SCHEMA " + schema);
      }
    }
    try {
      System.out.println("journal: " + (postgres ? "PostgreSQL " + PG_URL + " schema " + schema : "H2 file"));
      heap(postgres ? PG_URL + "?currentSchema=" + schema : "jdbc:h2:file:" + dir.resolve("heap") + ";DB_CLOSE_DELAY=-1",
          n, rounds);
      journal(Files.createTempDirectory(dir, "journal"), postgres ? PG_URL + "?currentSchema=" + schema + "_j" : null,
          postgres ? schema + "_j" : null);
    } finally {
      if (postgres) {
        try (Connection c = DriverManager.getConnection(PG_URL, "postgres", "")) {
          c.createStatement().execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
          c.createStatement().execute("DROP SCHEMA IF EXISTS " + schema + "_j CASCADE");
        }
      }
    }
    System.exit(0);
  }

  static final String PG_URL = System.getenv().getOrDefault("LIVEMIG_TEST_PG_URL",
      "jdbc:postgresql://127.0.0.1:5432/test");

  static void heap(String journal, int n, int rounds) throws Exception {
    var config = LivemigNode.localConfig(null, List.of("coordinator"), journal, Map.of(
        "livemig.coordinator.round-record-interval", "0s", "livemig.coordinator.host-lookup-timeout", "1h",
        "livemig.coordinator.step-timeout", "1h", "akka.loglevel", "ERROR", "akka.actor.provider", "local"));
    org.livemig.persistence.JournalSchema.ensure(config);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "footprint", config);
    try {
      // Warm-up: classes, pools and the journal's connections exist before the baseline.
      for (ActorRef<MigrationCoordinator.Command> c : startAll(system, "warm-", 50, rounds)) stop(system, c);
      long before = usedAfterGc();
      Map<String, Long> histogramBefore = histogram();
      List<ActorRef<MigrationCoordinator.Command>> active = startAll(system, "m-", n, rounds);
      long withActive = usedAfterGc();
      long liveActive = total(histogram());
      for (ActorRef<MigrationCoordinator.Command> c : active) stop(system, c);
      active.clear();
      long afterStop = usedAfterGc();
      Map<String, Long> histogramAfter = histogram();
      System.out.printf("coordinator heap, %d migrations with %d rounds each (used heap after GC):%n", n, rounds);
      System.out.printf("  before %.1f MB, all active %.1f MB, all stopped %.1f MB%n", before / 1e6, withActive / 1e6,
          afterStop / 1e6);
      System.out.printf("  per active migration: %.1f KB; per stopped (passivated) migration: %.2f KB%n",
          (withActive - before) / 1e3 / n, (afterStop - before) / 1e3 / n);
      long liveBefore = total(histogramBefore);
      long liveAfter = total(histogramAfter);
      System.out.printf("live objects only (class histogram): before %.1f MB, all active %.1f MB, all stopped %.1f MB%n",
          liveBefore / 1e6, liveActive / 1e6, liveAfter / 1e6);
      System.out.printf("  per active migration: %.1f KB; per stopped (passivated) migration: %.2f KB%n",
          (liveActive - liveBefore) / 1e3 / n, (liveAfter - liveBefore) / 1e3 / n);
      System.out.println("  what grew from before to all stopped (class histogram, top 8):");
      histogramAfter.entrySet().stream()
          .map(e -> Map.entry(e.getKey(), e.getValue() - histogramBefore.getOrDefault(e.getKey(), 0L)))
          .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(8)
          .forEach(e -> System.out.printf("    %9d bytes %s%n", e.getValue(), e.getKey()));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * Starts count coordinators, each persisting its start and `rounds` rounds; returns once every
   * one shows them. In batches: thousands of writes at once overflow the journal's write queue
   * (jdbc-journal.bufferSize, 1000), which fails the writes.
   */
  private static List<ActorRef<MigrationCoordinator.Command>> startAll(ActorSystem<?> system, String prefix, int count,
      int rounds) throws Exception {
    List<ActorRef<MigrationCoordinator.Command>> out = new ArrayList<>();
    for (int from = 0; from < count; from += BATCH) {
      List<ActorRef<MigrationCoordinator.Command>> batch = new ArrayList<>();
      List<CompletableFuture<CommandReply>> started = new ArrayList<>();
      for (int i = from; i < Math.min(count, from + BATCH); i++) {
        String id = prefix + i;
        ActorRef<MigrationCoordinator.Command> c = system.systemActorOf(MigrationCoordinator.create(id, null), id,
            Props.empty());
        batch.add(c);
        StartMigration start = StartMigration.newBuilder().setMigrationId(id).setGuestId("guest-" + i)
            .setSourceHost("nowhere-a").setDestinationHost("nowhere-b").build();
        started.add(AskPattern.<MigrationCoordinator.Command, CommandReply>ask(c,
            r -> new MigrationCoordinator.Start(start, r), Duration.ofSeconds(60), system.scheduler())
            .toCompletableFuture());
      }
      CompletableFuture.allOf(started.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
      for (int r = 1; r <= rounds; r++) {
        for (ActorRef<MigrationCoordinator.Command> c : batch) c.tell(round(c.path().name(), r));
        for (ActorRef<MigrationCoordinator.Command> c : batch) awaitRounds(system, c, r);
      }
      out.addAll(batch);
    }
    return out;
  }

  private static final int BATCH = 100;

  private static MigrationCoordinator.FromHost round(String id, int r) {
    return new MigrationCoordinator.FromHost(new HostAgent.ProgressReported(ProgressReport.newBuilder()
        .setMigrationId(id).setEpoch(1).setRoundDone(true)
        .setRound(RoundStats.newBuilder().setRound(r).setBytesSent(64L << 20).setPagesSent(16384)
            .setDirtyPagesAfter(4096).setDirtyRateBytesPerSecond(50_000_000).setBandwidthBytesPerSecond(1_000_000_000)
            .setExpectedDowntimeMs(60_000)) // far from converging: no switchover
        .build()));
  }

  private static void awaitRounds(ActorSystem<?> system, ActorRef<MigrationCoordinator.Command> c, int rounds)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (status(system, c).getRoundHistoryCount() < rounds) {
      if (System.nanoTime() > deadline) throw new IllegalStateException(c.path().name() + ": rounds never persisted");
      Thread.sleep(5);
    }
  }

  private static void stop(ActorSystem<?> system, ActorRef<MigrationCoordinator.Command> c) throws Exception {
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    system.systemActorOf(Behaviors.<Void>setup(ctx -> {
      ctx.watch(c);
      c.tell(MigrationCoordinator.Passivate.INSTANCE);
      return Behaviors.receiveSignal((ctx2, sig) -> {
        stopped.complete(null);
        return Behaviors.stopped();
      });
    }), "stop-" + c.path().name(), Props.empty());
    stopped.get(30, TimeUnit.SECONDS);
  }

  private static MigrationInfo status(ActorSystem<?> system, ActorRef<MigrationCoordinator.Command> c) throws Exception {
    return AskPattern.<MigrationCoordinator.Command, MigrationInfo>ask(c, MigrationCoordinator.GetStatus::new,
        Duration.ofSeconds(30), system.scheduler()).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** Bytes per class of the live objects (the JVM's GC.class_histogram, which collects first). */
  private static Map<String, Long> histogram() throws Exception {
    String text = (String) ManagementFactory.getPlatformMBeanServer().invoke(
        new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
        new Object[] {null}, new String[] {String[].class.getName()});
    Map<String, Long> bytes = new java.util.HashMap<>();
    for (String line : text.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 4 && f[0].endsWith(":")) bytes.merge(f[3], Long.parseLong(f[2]), Long::sum);
    }
    return bytes;
  }

  private static long total(Map<String, Long> histogram) {
    return histogram.values().stream().mapToLong(Long::longValue).sum();
  }

  private static long usedAfterGc() throws InterruptedException {
    var memory = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(200);
      used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  /** One real migration, then what the journal and the list hold for it. */
  static void journal(Path dir, String journalUrl, String schema) throws Exception {
    if (schema != null) {
      try (Connection c = DriverManager.getConnection(PG_URL, "postgres", "")) {
        c.createStatement().execute("CREATE SCHEMA " + schema);
      }
    }
    try (TestCluster cluster = new TestCluster(dir, 1, Map.of("host-a", Map.of(), "host-b", Map.of()), journalUrl)) {
      GuestDescription d = TestCluster.guest("footprint", 8, 2000);
      cluster.createGuest("host-a", d);
      MigrationInfo info = cluster.client.start("m-footprint", d.getGuestId(), "host-a", "host-b",
          MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(16_000_000).build())
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      MigrationInfo end = cluster.awaitEnd(info.getMigrationId(), Duration.ofSeconds(60));
      cluster.awaitListed(info.getMigrationId(), i -> i.getStatus() == MigrationStatus.COMPLETED, Duration.ofSeconds(10));
      System.out.printf("journal of one migration (%s, %d precopy rounds, 8 MiB guest):%n", end.getStatus(),
          end.getRounds());
      try (Connection c = DriverManager.getConnection(cluster.journal, schema == null ? "sa" : "postgres", "")) {
        ResultSet rs = c.createStatement().executeQuery("SELECT \"persistence_id\", COUNT(*), "
            + "SUM(OCTET_LENGTH(\"event_payload\")) FROM \"event_journal\" GROUP BY \"persistence_id\" "
            + "ORDER BY \"persistence_id\"");
        while (rs.next()) {
          System.out.printf("  %-60s %4d events %7d payload bytes%n", rs.getString(1), rs.getLong(2), rs.getLong(3));
        }
        ResultSet snap = c.createStatement().executeQuery("SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH("
            + "\"snapshot_payload\")), 0) FROM \"snapshot\"");
        snap.next();
        System.out.printf("  snapshots: %d (%d bytes)%n", snap.getLong(1), snap.getLong(2));
        ResultSet row = c.createStatement().executeQuery("SELECT COUNT(*), seq_nr FROM livemig_migrations "
            + "GROUP BY seq_nr");
        while (row.next()) System.out.printf("  migration list: %d row, written at sequence number %d%n",
            row.getLong(1), row.getLong(2));
      }
    }
  }

  private CoordinatorFootprint() {}
}
