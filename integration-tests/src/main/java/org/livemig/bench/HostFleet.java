package org.livemig.bench;

import akka.actor.typed.ActorSystem;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.StreamSupport;

/**
 * Several BenchHost JVMs joined to the driver's coordinator node (the scale benchmark's five
 * hosts), each with its own run-state log; one can be killed with SIGKILL mid-run. Closing stops
 * the rest (SIGTERM) and waits for the cluster to see every host gone.
 */
final class HostFleet implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(300); // five JVMs filling guests on two cores

  private final ActorSystem<?> coordinator;
  private final Path dir;
  private final Map<String, Process> hosts = new LinkedHashMap<>();
  private final Map<String, Long> killedAtMicros = new HashMap<>();

  private HostFleet(ActorSystem<?> coordinator, Path dir) {
    this.coordinator = coordinator;
    this.dir = dir;
  }

  /** Launches every host (hostConf: its extra config lines) and returns once all are Up in the cluster. */
  static HostFleet start(ActorSystem<?> coordinator, Path dir, String seed, String journal, List<String> hostIds,
      Function<String, String> hostConf, List<String> jvmOptions) throws IOException, InterruptedException {
    HostFleet fleet = new HostFleet(coordinator, dir);
    try {
      for (String id : hostIds) {
        String conf = hostConf.apply(id) + "\nlivemig.host.run-state-log = \"" + fleet.runStateLog(id) + "\"";
        fleet.hosts.put(id, HostPair.launch(dir, id, seed, journal, conf, jvmOptions));
      }
      for (String id : hostIds) fleet.awaitUp(id);
      fleet.awaitHostsUp(hostIds.size());
      return fleet;
    } catch (IOException | InterruptedException | RuntimeException e) {
      fleet.close();
      throw e;
    }
  }

  Path runStateLog(String hostId) {
    return dir.resolve(hostId + ".run-state");
  }

  List<String> hostIds() {
    return List.copyOf(hosts.keySet());
  }

  /** kill -9: the host's guests die with it, its run-state log ends where the kernel stopped it. */
  void kill(String hostId) throws InterruptedException {
    Process p = hosts.get(hostId);
    p.destroyForcibly(); // SIGKILL on Linux
    p.waitFor();
    killedAtMicros.put(hostId, System.currentTimeMillis() * 1000);
  }

  boolean killed(String hostId) {
    return killedAtMicros.containsKey(hostId);
  }

  /** Every host's run-state lines (killed ones included). */
  List<String> runStateLines() throws IOException {
    List<String> lines = new ArrayList<>();
    for (String id : hosts.keySet()) {
      Path log = runStateLog(id);
      if (Files.exists(log)) lines.addAll(Files.readAllLines(log));
    }
    return lines;
  }

  /** Where each host's observation ends: its kill for a killed one, now for the others. */
  Map<String, Long> observedUntilMicros() {
    Map<String, Long> until = new HashMap<>();
    long now = System.currentTimeMillis() * 1000;
    for (String id : hosts.keySet()) until.put(id, killedAtMicros.getOrDefault(id, now));
    return until;
  }

  /** Peak resident memory (VmHWM) of each live host in MiB; a killed host is left out. */
  Map<String, Long> peakRssMib() {
    Map<String, Long> peaks = new LinkedHashMap<>();
    for (var e : hosts.entrySet()) {
      if (killed(e.getKey())) continue;
      try {
        peaks.put(e.getKey(), HostMemory.peakRssKib(e.getValue().pid()) / 1024);
      } catch (IOException | NumberFormatException ex) {
        System.err.println("scale: cannot read the peak RSS of " + e.getKey() + ": " + ex);
      }
    }
    return peaks;
  }

  private void awaitUp(String hostId) throws IOException, InterruptedException {
    Path log = dir.resolve(hostId + ".log");
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains("bench host ")) return;
      if (!hosts.get(hostId).isAlive()) throw new IllegalStateException("bench host exited; see " + log);
      Thread.sleep(200);
    }
    throw new IllegalStateException("bench host " + hostId + " not up within " + START_TIMEOUT + "; see " + log);
  }

  private long hostMembers(boolean upOnly) {
    return StreamSupport.stream(Cluster.get(coordinator).state().getMembers().spliterator(), false)
        .filter(m -> m.hasRole("host") && (!upOnly || m.status() == MemberStatus.up())).count();
  }

  private void awaitHostsUp(int n) throws InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (hostMembers(true) == n && Cluster.get(coordinator).state().getUnreachable().isEmpty()) return;
      Thread.sleep(100);
    }
    throw new IllegalStateException("hosts not Up in the cluster within " + START_TIMEOUT);
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : hosts.values()) p.destroy();
    for (Process p : hosts.values()) {
      if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
    }
    // A killed host leaves only when the split-brain resolver downs it (stable-after, 20 s).
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (System.nanoTime() < deadline && hostMembers(false) > 0) Thread.sleep(200);
  }
}
