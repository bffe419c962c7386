package org.livemig.bench;

import akka.actor.typed.ActorSystem;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;

/**
 * host-a and host-b of one benchmark case, each a BenchHost JVM joined to the driver's
 * coordinator node; host-a starts with the case's guest. Closing stops both (SIGTERM: they
 * leave the cluster) and waits for the cluster to see them gone.
 */
final class HostPair implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

  private final ActorSystem<?> coordinator;
  private final Process a;
  private final Process b;

  HostPair(ActorSystem<?> coordinator, Process a, Process b) {
    this.coordinator = coordinator;
    this.a = a;
    this.b = b;
  }

  /** Launches both hosts and returns once both are Up in the cluster. */
  static HostPair start(ActorSystem<?> coordinator, Path dir, String seed, String journal, String guestConf,
      List<String> jvmOptions) throws IOException, InterruptedException {
    return start(coordinator, dir, seed, journal, guestConf, "", jvmOptions);
  }

  /** hostBConf: extra config lines for host-b (e.g. its data port behind a proxy). */
  static HostPair start(ActorSystem<?> coordinator, Path dir, String seed, String journal, String guestConf,
      String hostBConf, List<String> jvmOptions) throws IOException, InterruptedException {
    Process a = launch(dir, "host-a", seed, journal, guestConf, jvmOptions);
    Process b = launch(dir, "host-b", seed, journal, hostBConf, jvmOptions);
    HostPair pair = new HostPair(coordinator, a, b);
    try {
      pair.awaitLine(dir.resolve("host-a.log"), a);
      pair.awaitLine(dir.resolve("host-b.log"), b);
      pair.awaitHostsUp(2);
      return pair;
    } catch (IOException | InterruptedException | RuntimeException e) {
      pair.close();
      throw e;
    }
  }

  static Process launch(Path dir, String hostId, String seed, String journal, String extra,
      List<String> jvmOptions) throws IOException {
    Path conf = dir.resolve(hostId + ".conf");
    Files.writeString(conf, String.join("\n",
        journal.startsWith("jdbc:postgresql:") ? "include classpath(\"livemig-journal-postgres.conf\")" : "",
        "livemig.host.id = \"" + hostId + "\"",
        "livemig.host.data-plane.port = 0",
        "akka.remote.artery.canonical.port = 0",
        "akka.cluster.roles = [\"host\"]",
        "akka.cluster.seed-nodes = [\"" + seed + "\"]",
        "livemig.journal.url = \"" + journal + "\"",
        extra, ""));
    List<String> cmd = new java.util.ArrayList<>(List.of(javaBin()));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), BenchHost.class.getName(), conf.toString()));
    Path log = dir.resolve(hostId + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putIfAbsent("LIVEMIG_LOG_LEVEL", "INFO"); // the host logs show every round's timing
    return pb.start();
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private void awaitLine(Path log, Process p) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains("bench host ")) return;
      if (!p.isAlive()) throw new IllegalStateException("bench host exited; see " + log);
      Thread.sleep(100);
    }
    throw new IllegalStateException("bench host not up within " + START_TIMEOUT + "; see " + log);
  }

  private void awaitHostsUp(int n) throws InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      var state = Cluster.get(coordinator).state();
      long hosts = StreamSupport.stream(state.getMembers().spliterator(), false)
          .filter(m -> m.status() == MemberStatus.up() && m.hasRole("host")).count();
      if (hosts == n && state.getUnreachable().isEmpty()) return;
      Thread.sleep(100);
    }
    throw new IllegalStateException("hosts not Up in the cluster within " + START_TIMEOUT);
  }

  /** Process ids of host-a and host-b. */
  long[] pids() {
    return new long[] {a.pid(), b.pid()};
  }

  /** CPU seconds (user and system) host-a and host-b have used so far, together. */
  double cpuSeconds() throws IOException {
    return HostMemory.cpuSeconds(a.pid()) + HostMemory.cpuSeconds(b.pid());
  }

  /** Peak resident memory of host-a and host-b in MiB (VmHWM), -1 where unknown. */
  long[] peakRssMib() {
    return new long[] {peakRssMib(a), peakRssMib(b)};
  }

  private static long peakRssMib(Process p) {
    try {
      return HostMemory.peakRssKib(p.pid()) / 1024;
    } catch (IOException | NumberFormatException e) {
      System.err.println("bench: cannot read peak RSS of pid " + p.pid() + ": " + e);
      return -1;
    }
  }

  @Override
  public void close() throws InterruptedException {
    a.destroy();
    b.destroy();
    for (Process p : List.of(a, b)) {
      if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) { // the next pair must not count these as Up
      boolean gone = StreamSupport.stream(Cluster.get(coordinator).state().getMembers().spliterator(), false)
          .noneMatch(m -> m.hasRole("host"));
      if (gone) return;
      Thread.sleep(100);
    }
  }
}
