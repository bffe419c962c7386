package org.livemig.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.engine.coordinator.Admission;
import org.livemig.engine.coordinator.MigrationState;
import org.livemig.it.chaos.RunStateCheck;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * Many migrations at once (issue 19; README "Many migrations at once"): hosts in their own JVMs,
 * each starting with guests-per-host running guests, and every guest moved to the next host
 * (host i -> host i+1 mod n, so each host is source and destination), all requested at once
 * through MigrationClient and run under admission control's defaults. Twice: undisturbed, then
 * with one host killed (SIGKILL) in the middle. Afterwards each guest is looked for on the live
 * hosts and checked against its oracle, the hosts' run-state logs are merged (no guest ran on two
 * hosts at once), and admission control's journal is checked for the order it promises. Prints
 * the numbers and exits 1 if any check failed.
 *
 * <p>Properties: bench.scale.hosts (5), bench.scale.guests-per-host (40), bench.scale.size-mib (16),
 * bench.scale.dirty-mbps (0.25, each guest's dirty rate, MB/s: 200 guests at 2 MB/s overload two cores), bench.scale.host-mbps (50, each host's
 * livemig.host.max-bandwidth, MB/s; 0 = none), bench.scale.limit-ms (300, the downtime limit),
 * bench.scale.kill (true: the second run, killing host 2), bench.scale.undisturbed (true: the first run),
 * bench.journal (h2 or postgres).
 */
public final class ScaleBenchmark {
  private ScaleBenchmark() {}

  /**
   * Six JVMs on a two-core machine stall each other for seconds while the guests are created
   * (Akka's default 3 s pause made the split-brain resolver down the whole cluster): a longer
   * pause, on every node. A killed host is then seen unreachable about 10 s later.
   */
  private static final String HEARTBEAT_PAUSE_KEY = "akka.cluster.failure-detector.acceptable-heartbeat-pause";
  private static final String HEARTBEAT_PAUSE = "10s";

  private record Settings(int hosts, int guestsPerHost, long sizeMib, long dirtyPagesPerSecond, long hostBytesPerSecond,
      long limitMs) {}

  /** One requested migration: guest of host i, to host i+1. */
  private record Planned(String id, String guest, String source, String destination) {}

  public static void main(String[] args) throws Exception {
    Settings s = new Settings(Integer.parseInt(Benchmark.prop("bench.scale.hosts", "5")),
        Integer.parseInt(Benchmark.prop("bench.scale.guests-per-host", "40")),
        Long.parseLong(Benchmark.prop("bench.scale.size-mib", "16")),
        (long) (Double.parseDouble(Benchmark.prop("bench.scale.dirty-mbps", "0.25")) * 1_000_000 / 4096),
        Long.parseLong(Benchmark.prop("bench.scale.host-mbps", "50")) * 1_000_000,
        Long.parseLong(Benchmark.prop("bench.scale.limit-ms", "300")));
    boolean kill = Boolean.parseBoolean(Benchmark.prop("bench.scale.kill", "true"));
    boolean undisturbed = Boolean.parseBoolean(Benchmark.prop("bench.scale.undisturbed", "true"));
    Path dir = Files.createTempDirectory("livemig-scale");
    String journal = Benchmark.journalUrl(Benchmark.prop("bench.journal", "h2"), dir);
    System.out.printf("livemig scale benchmark: %s, work dir %s%n", s, dir);
    List<ScaleReport> reports = new ArrayList<>();
    try (LivemigNode coordinator = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
        Map.of(HEARTBEAT_PAUSE_KEY, HEARTBEAT_PAUSE)))) {
      coordinator.join(coordinator.address());
      if (undisturbed) reports.add(run(coordinator, journal, dir, s, "s1", null));
      if (kill) reports.add(run(coordinator, journal, dir, s, "s2", "s2-host-" + Math.min(2, s.hosts() - 1)));
    }
    reports.forEach(r -> r.print(System.out));
    System.out.flush();
    System.exit(reports.stream().allMatch(r -> r.failures.isEmpty()) ? 0 : 1);
  }

  private static ScaleReport run(LivemigNode coordinator, String journal, Path dir, Settings s, String run,
      String victim) throws Exception {
    MigrationClient client = new MigrationClient(coordinator.system());
    List<String> hostIds = new ArrayList<>();
    for (int i = 0; i < s.hosts(); i++) hostIds.add(run + "-host-" + i);
    // Room for twice its guests: when a host's destination dies, the host keeps the guests it could
    // not send and still receives its own share from the host before it.
    List<String> hostJvm = List.of("-Xms256m", "-Xmx384m",
        "-XX:MaxDirectMemorySize=" + (2 * s.guestsPerHost() * s.sizeMib() + 256) + "m");
    System.out.println(run + ": starting " + s.hosts() + " hosts with " + s.guestsPerHost() + " guests each");
    try (HostFleet fleet = HostFleet.start(coordinator.system(), dir, coordinator.address().toString(), journal, hostIds,
        id -> hostConf(s, run, hostIds.indexOf(id)), hostJvm)) {
      List<Planned> plan = new ArrayList<>();
      for (int j = 0; j < s.guestsPerHost(); j++) { // requested round-robin over the sources
        for (int i = 0; i < s.hosts(); i++) {
          plan.add(new Planned(run + "-m-" + i + "-" + j, run + "-h" + i + "-" + j, hostIds.get(i),
              hostIds.get((i + 1) % s.hosts())));
        }
      }
      MigrationParameters params = MigrationParameters.newBuilder().setDowntimeLimitMs(s.limitMs()).build();
      double cpu0 = processCpuSeconds();
      long t0 = System.currentTimeMillis();
      List<CompletableFuture<MigrationInfo>> starts = plan.stream()
          .map(p -> client.start(p.id(), p.guest(), p.source(), p.destination(), params).toCompletableFuture()).toList();
      long issuedMs = System.currentTimeMillis() - t0;
      long[] answeredAt = new long[plan.size() + 1]; // epoch ms each start was answered, then t0
      answeredAt[plan.size()] = t0;
      for (int k = 0; k < plan.size(); k++) {
        int i = k;
        starts.get(k).thenRun(() -> answeredAt[i] = System.currentTimeMillis());
      }
      Map<String, MigrationInfo> latest = new LinkedHashMap<>();
      int queued = 0;
      int askedAgain = 0;
      for (int k = 0; k < plan.size(); k++) {
        MigrationInfo first = startAnswer(client, plan.get(k), params, starts.get(k));
        latest.put(first.getMigrationId(), first);
        if (first.getStatus() == MigrationStatus.QUEUED) queued++;
        if (!starts.get(k).isDone() || starts.get(k).isCompletedExceptionally()) {
          answeredAt[k] = System.currentTimeMillis(); // its repeat's answer
          askedAgain++;
        }
      }
      long answeredMs = System.currentTimeMillis() - t0;
      List<String> lines = new ArrayList<>();
      lines.add(plan.size() + " migrations requested in " + issuedMs + " ms, all answered after " + answeredMs
          + " ms (" + queued + " answered QUEUED, " + askedAgain + " asked again after ask-timeout)");
      System.out.println(run + ": where the starts' answers went (a start asked again counts at its repeat's answer):");
      StartBurst.breakdown(journal, plan.stream().map(Planned::id).toList(), answeredAt);
      if (victim != null) lines.add(killMidway(client, fleet, latest, victim));
      awaitAllEnded(client, latest);
      lines.add("all ended " + (System.currentTimeMillis() - t0) + " ms after the first request");
      double cpu = processCpuSeconds() - cpu0;

      Admission.Limits limits = Admission.Limits.fromConfig(coordinator.system().settings().config());
      AdmissionOrder admission = AdmissionOrder.check(journal, limits, run + "-m-");
      ScaleReport report = new ScaleReport(run + ": " + plan.size() + " migrations over " + s.hosts() + " hosts ("
          + s.guestsPerHost() + " guests of " + s.sizeMib() + " MiB each per host, " + s.dirtyPagesPerSecond()
          + " dirty pages/s), host link " + s.hostBytesPerSecond() / 1_000_000 + " MB/s, admission " + limits
          + (victim == null ? "" : ", " + victim + " killed midway"), List.copyOf(latest.values()),
          admission, s.hostBytesPerSecond());
      admission.violations.forEach(v -> report.failures.add("admission: " + v));
      report.firstRequestMs = t0;
      report.coordinatorCpuSeconds = cpu;
      report.lines.addAll(lines);
      report.peakRssMib = fleet.peakRssMib();
      checkRunStates(fleet, report);
      checkGuests(coordinator, plan, latest, victim, report);
      report.print(System.out); // now, in case a later run hangs
      return report;
    }
  }

  /** This JVM's CPU time so far: the coordinator node (and with H2, the journal's database). */
  private static double processCpuSeconds() {
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os.getProcessCpuTime() / 1e9;
  }

  private static String hostConf(Settings s, String run, int i) {
    return "bench.guests { prefix = \"" + run + "-h" + i + "\", count = " + s.guestsPerHost() + ", size-mib = "
        + s.sizeMib() + ", dirty-pages-per-second = " + s.dirtyPagesPerSecond() + " }\n"
        + "livemig.host.max-bandwidth = " + s.hostBytesPerSecond() + "\n" + HEARTBEAT_PAUSE_KEY + " = " + HEARTBEAT_PAUSE;
  }

  /** The start's answer; a start that timed out is asked again (the same id: harmless). */
  private static MigrationInfo startAnswer(MigrationClient client, Planned p, MigrationParameters params,
      CompletableFuture<MigrationInfo> first) throws Exception {
    CompletableFuture<MigrationInfo> f = first;
    for (int attempt = 1; ; attempt++) {
      try {
        return f.get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        if (attempt == 3) throw new IllegalStateException("start of " + p.id() + " not answered", e);
        System.out.println("  start of " + p.id() + " not answered (" + e + "), asked again");
        f = client.start(p.id(), p.guest(), p.source(), p.destination(), params).toCompletableFuture();
      }
    }
  }

  /**
   * Kills the victim once a quarter of the migrations ended and at least one migration out of it
   * and one into it are copying (or after half ended, whichever comes first).
   */
  private static String killMidway(MigrationClient client, HostFleet fleet, Map<String, MigrationInfo> latest,
      String victim) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(20);
    while (System.nanoTime() < deadline) {
      poll(client, latest);
      long ended = latest.values().stream().filter(i -> MigrationState.ended(i.getStatus())).count();
      boolean out = latest.values().stream().anyMatch(i -> copying(i) && i.getSourceHost().equals(victim));
      boolean in = latest.values().stream().anyMatch(i -> copying(i) && i.getDestinationHost().equals(victim));
      if ((ended >= latest.size() / 4 && out && in) || ended >= latest.size() / 2) {
        List<String> active = latest.values().stream().filter(i -> !MigrationState.ended(i.getStatus())
            && i.getStatus() != MigrationStatus.QUEUED && (i.getSourceHost().equals(victim)
            || i.getDestinationHost().equals(victim))).map(i -> i.getMigrationId() + " " + i.getStatus()).toList();
        fleet.kill(victim);
        return "killed " + victim + " (SIGKILL) after " + ended + " migrations ended, its active ones then: " + active;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("no moment to kill " + victim + " came");
  }

  private static boolean copying(MigrationInfo i) {
    return i.getStatus() == MigrationStatus.ACTIVE;
  }

  private static void awaitAllEnded(MigrationClient client, Map<String, MigrationInfo> latest) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
    while (latest.values().stream().anyMatch(i -> !MigrationState.ended(i.getStatus()))) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("migrations still running after 30 min");
      Thread.sleep(250);
      poll(client, latest);
    }
  }

  /** Asks the status of every migration not yet ended (at once: the coordinators answer in parallel). */
  private static void poll(MigrationClient client, Map<String, MigrationInfo> latest) throws Exception {
    Map<String, CompletableFuture<MigrationInfo>> asks = new HashMap<>();
    for (MigrationInfo i : latest.values()) {
      if (!MigrationState.ended(i.getStatus())) {
        asks.put(i.getMigrationId(), client.status(i.getMigrationId()).toCompletableFuture());
      }
    }
    for (var e : asks.entrySet()) {
      try {
        latest.put(e.getKey(), e.getValue().get(30, TimeUnit.SECONDS));
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException ex) {
        // a coordinator busy or moving: asked again at the next poll
      }
    }
  }

  /** No guest RUNNING on two hosts at once, in the merged run-state logs of all hosts (the killed one too). */
  private static void checkRunStates(HostFleet fleet, ScaleReport report) throws Exception {
    List<RunStateCheck.Interval> intervals = RunStateCheck.intervals(fleet.runStateLines(), fleet.observedUntilMicros());
    List<String> overlaps = RunStateCheck.overlaps(intervals);
    report.lines.add("run-state logs of " + fleet.hostIds().size() + " hosts merged: " + intervals.size()
        + " RUNNING intervals, " + overlaps.size() + " overlaps of one guest on two hosts");
    overlaps.forEach(o -> report.failures.add(o));
  }

  /**
   * Where each guest must be, by the rules: a completed migration's guest on its destination,
   * a failed one's on its source; a guest whose holder was killed is lost with it. Each guest
   * found is checked against its oracle and must be running.
   */
  private static void checkGuests(LivemigNode coordinator, List<Planned> plan, Map<String, MigrationInfo> latest,
      String victim, ScaleReport report) throws Exception {
    FleetGuests guests = FleetGuests.survey(coordinator.system());
    Map<String, Integer> outcomes = new java.util.TreeMap<>();
    for (Planned p : plan) {
      MigrationInfo i = latest.get(p.id());
      boolean completed = i.getStatus() == MigrationStatus.COMPLETED;
      String holder = completed ? p.destination() : p.source();
      String role = victim == null ? "" : p.source().equals(victim) ? "source killed, "
          : p.destination().equals(victim) ? "destination killed, " : "";
      if (victim == null || role.isEmpty()) {
        if (!completed) report.failures.add(p.id() + " ended " + i.getStatus() + ": " + i.getError());
      }
      String outcome = role + i.getStatus() + (completed ? "" : " in " + i.getFailedPhase());
      java.util.Set<String> found = guests.holders(p.guest());
      if (holder.equals(victim)) {
        outcome += ", guest lost with " + victim;
        if (!found.isEmpty()) report.failures.add(p.guest() + " should be lost with " + victim + " but is on " + found);
      } else if (!found.equals(java.util.Set.of(holder))) {
        outcome += ", guest on " + found + " instead of its " + (completed ? "destination" : "source");
        report.failures.add(p.guest() + " (" + p.id() + " " + i.getStatus() + ") is on " + found + ", expected "
            + holder);
      } else {
        GuestVerification v = guests.verify(holder, p.guest());
        outcome += v.getVerified() && v.getState().equals("RUNNING") ? ", guest verified on its "
            + (completed ? "destination" : "source") : ", guest NOT verified";
        if (!v.getVerified()) report.failures.add(p.guest() + " on " + holder + ": " + v.getMismatches()
            + " pages differ from its oracle " + v.getRefusal().getMessage());
        if (!v.getState().equals("RUNNING")) report.failures.add(p.guest() + " on " + holder + " is " + v.getState());
      }
      outcomes.merge(outcome, 1, Integer::sum);
      if (!completed && !role.isEmpty() && outcomes.get(outcome) == 1) {
        report.lines.add("e.g. " + p.id() + " (" + role + i.getStatus() + "): " + i.getError());
      }
    }
    outcomes.forEach((o, n) -> report.lines.add(n + " x " + o));
  }
}
