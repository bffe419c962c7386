package org.livemig.it;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;
import org.livemig.messages.StartMigration;

/**
 * Prints (does not assert) the coordinator's recovery figures on this machine:
 * replay time of a migration with 10, 100 and 1,000 journal events, with and without snapshots
 * (H2 file journal), and the time from a coordinator node's crash to the new incarnation's
 * takeover and to the migration's end. Run:
 * the README's command (Recovery figures).
 */
public final class RecoveryBenchmark {
  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("livemig-recovery-bench");
    System.out.println("replay time (median of 5), H2 file journal:");
    System.out.println("  events | snapshot every 100 | no snapshots");
    for (int n : new int[] {10, 100, 1000}) {
      double with = replayMillis(dir, n, 100);
      double without = replayMillis(dir, n, 1_000_000);
      System.out.printf("  %6d | %15.1f ms | %9.1f ms%n", n, with, without);
    }
    int reps = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    List<Long> takeover = new ArrayList<>();
    List<Long> end = new ArrayList<>();
    for (int i = 0; i < reps; i++) {
      long[] t = failover(Files.createTempDirectory(dir, "failover"));
      takeover.add(t[0]);
      end.add(t[1]);
      System.out.printf("failover %d: crash -> takeover (new epoch persisted) %d ms, crash -> migration ended %d ms%n",
          i + 1, t[0], t[1]);
    }
    Collections.sort(takeover);
    System.out.printf("failover median: crash -> takeover %d ms (includes split-brain resolver stable-after 3 s)%n",
        takeover.get(takeover.size() / 2));
    System.exit(0);
  }

  /** Writes n events through a real coordinator, then times a fresh incarnation's replay. */
  static double replayMillis(Path dir, int n, int snapshotEvery) throws Exception {
    String journal = "jdbc:h2:file:" + dir.resolve("replay-" + n + "-" + snapshotEvery) + ";DB_CLOSE_DELAY=-1";
    var config = LivemigNode.localConfig(null, List.of("coordinator"), journal, Map.of(
        "livemig.coordinator.snapshot-every", snapshotEvery, "livemig.coordinator.round-record-interval", "0s",
        "livemig.coordinator.host-lookup-timeout", "1h", "livemig.coordinator.step-timeout", "1h",
        "akka.loglevel", "ERROR", "akka.actor.provider", "local"));
    org.livemig.persistence.JournalSchema.ensure(config);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "bench", config);
    try {
      String id = "replay-" + n;
      ActorRef<MigrationCoordinator.Command> c = system.systemActorOf(MigrationCoordinator.create(id, null), id + "-w",
          Props.empty());
      StartMigration start = StartMigration.newBuilder().setMigrationId(id).setGuestId("g").setSourceHost("nowhere-a")
          .setDestinationHost("nowhere-b").build();
      AskPattern.<MigrationCoordinator.Command, org.livemig.messages.CommandReply>ask(c,
          r -> new MigrationCoordinator.Start(start, r), Duration.ofSeconds(10), system.scheduler())
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      for (int i = 1; i < n; i++) {
        c.tell(new MigrationCoordinator.FromHost(new org.livemig.engine.host.HostAgent.ProgressReported(
            ProgressReport.newBuilder().setMigrationId(id).setEpoch(1).setRoundDone(true)
                // Far from converging: each report is a round, none the switchover marker.
                .setRound(RoundStats.newBuilder().setRound(i).setBytesSent(1 << 20).setExpectedDowntimeMs(60_000))
                .build())));
      }
      while (status(system, c).getRounds() < n - 1) Thread.sleep(20);
      c.tell(MigrationCoordinator.Passivate.INSTANCE);
      Thread.sleep(200);
      List<Double> times = new ArrayList<>();
      for (int rep = 0; rep < 5; rep++) {
        long t0 = System.nanoTime();
        ActorRef<MigrationCoordinator.Command> r = system.systemActorOf(MigrationCoordinator.create(id, null),
            id + "-r" + rep, Props.empty());
        status(system, r);
        times.add((System.nanoTime() - t0) / 1e6);
        r.tell(MigrationCoordinator.Passivate.INSTANCE);
        Thread.sleep(200);
      }
      Collections.sort(times);
      return times.get(times.size() / 2);
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static MigrationInfo status(ActorSystem<?> system, ActorRef<MigrationCoordinator.Command> c)
      throws Exception {
    return AskPattern.<MigrationCoordinator.Command, MigrationInfo>ask(c, MigrationCoordinator.GetStatus::new,
        Duration.ofSeconds(30), system.scheduler()).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** Crash of the coordinator's node in Perform: {crash -> takeover persisted, crash -> end} in ms. */
  static long[] failover(Path dir) throws Exception {
    try (TestCluster cluster = new TestCluster(dir, 2, Map.of("host-a", Map.of(), "host-b", Map.of()), null)) {
      GuestDescription d = TestCluster.guest("bench-failover", 16, 3000);
      cluster.createGuest("host-a", d);
      String id = cluster.client.start(d.getGuestId(), "host-a", "host-b",
          MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(2_000_000).build())
          .toCompletableFuture().get(10, TimeUnit.SECONDS).getMigrationId();
      cluster.awaitStatus(id, i -> i.getRounds() >= 0 && i.getPhase() == org.livemig.messages.Phase.PERFORM,
          Duration.ofSeconds(20));
      Thread.sleep(500);
      LivemigNode running = cluster.coordinatorOf(id).orElseThrow();
      long crashedAt = System.currentTimeMillis();
      cluster.crash(running);
      cluster.awaitEnd(id, Duration.ofSeconds(120));
      long endedAt = System.currentTimeMillis();
      long restartedAt = restartedAt(dir, id);
      return new long[] {restartedAt - crashedAt, endedAt - crashedAt};
    }
  }

  private static long restartedAt(Path dir, String id) throws Exception {
    return JournalEvents.of(dir, id).stream().filter(CoordinatorEvent::hasRestarted).findFirst()
        .orElseThrow(() -> new IllegalStateException("no CoordinatorRestarted event for " + id)).getAtEpochMs();
  }

  private RecoveryBenchmark() {}
}
