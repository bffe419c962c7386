package org.livemig.it.chaos;

import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.common.EpochMicros;
import org.livemig.it.HostProcess;
import org.livemig.it.Iptables;
import org.livemig.it.OperatorCredentials;
import org.livemig.messages.MigrationInfo;

/**
 * Four nodes, each in its own JVM started as operators start one (HostMain with its file):
 * coordinators c1 (the seed) and c2, hosts host-a and host-b. The coordinators share a
 * PostgreSQL journal in a schema of their own, reached through a proxy that can block it; each
 * host keeps its ledger in its own H2 file and appends its guests' run-state transitions to its
 * run-state log. The data link from host-a to host-b goes through a proxy (host-b advertises the
 * proxy's port). Faults come from outside: signals, the proxies, and iptables rules that drop
 * what the cluster sends to one node's Artery port (loopback only; removed on close).
 */
final class ChaosCluster implements AutoCloseable {
  static final String PG_URL = "jdbc:postgresql://127.0.0.1:5432/test";
  static final List<String> COORDINATORS = List.of("c1", "c2");
  static final List<String> HOSTS = List.of("host-a", "host-b");

  /** One node: its ports, files and process; diedAt is when its process was seen dead (0 = alive). */
  static final class Node {
    final String name;
    final int artery;
    final int http;
    final Path runStateLog;
    HostProcess process;
    volatile long diedAtMicros;
    volatile boolean frozen;
    String partitionRule;

    Node(String name, int artery, int http, Path runStateLog) {
      this.name = name;
      this.artery = artery;
      this.http = http;
      this.runStateLog = runStateLog;
    }

    boolean alive() {
      if (diedAtMicros == 0 && !process.process().isAlive()) diedAtMicros = EpochMicros.now();
      return diedAtMicros == 0;
    }

    List<String> log() {
      return process.log();
    }
  }

  final Path dir;
  final Map<String, Node> nodes = new LinkedHashMap<>();
  final LinkProxy dataLink;
  final LinkProxy journalLink;
  private final String schema;
  private HttpClient http; // once the first node has made the CA

  /**
   * A cluster for one cell. Ports are chosen free and bound later by the nodes; one taken in
   * between (seen once in a matrix run: "Address already in use") costs one more start on fresh
   * ports in a fresh directory, said in the output, never a cell.
   */
  static ChaosCluster start(Path dir, long seed, Map<String, List<String>> hostFaults) throws Exception {
    try {
      return new ChaosCluster(dir, seed, hostFaults);
    } catch (Exception | AssertionError e) {
      if (!String.valueOf(e.getMessage()).contains("Address already in use")) throw e;
      System.out.println("a port was taken before its node bound it; the cell's cluster starts again on fresh ports");
      return new ChaosCluster(java.nio.file.Files.createDirectories(dir.resolve("second-start")), seed, hostFaults);
    }
  }

  /** hostFaults: extra settings of host-a and host-b (the hold-phase hook), by host. */
  private ChaosCluster(Path dir, long seed, Map<String, List<String>> hostFaults) throws Exception {
    this.dir = dir;
    schema = "chaos_" + Long.toUnsignedString(seed, 36) + "_" + Long.toUnsignedString(System.nanoTime(), 36);
    try (Connection c = DriverManager.getConnection(PG_URL, "postgres", "")) {
      c.createStatement().execute("CREATE SCHEMA " + schema);
    }
    journalLink = LinkProxy.inFrontOf(5432);
    int destinationDataPort = LinkProxy.freePort();
    dataLink = new LinkProxy(0, destinationDataPort, 0);
    for (String n : List.of("c1", "c2", "host-a", "host-b")) {
      nodes.put(n, new Node(n, LinkProxy.freePort(), LinkProxy.freePort(), dir.resolve(n + ".runstate")));
    }
    String seedAddress = "akka://livemig@127.0.0.1:" + nodes.get("c1").artery;
    List<CompletableFuture<HostProcess>> starting = new ArrayList<>();
    for (Node n : nodes.values()) {
      List<String> conf = new ArrayList<>(List.of(
          "include \"livemig-node.conf\"",
          "akka.remote.artery.canonical.port = " + n.artery,
          "akka.cluster.seed-nodes = [\"" + seedAddress + "\"]",
          // Faster than shipped, same proportions: the lease runs out well before the majority downs.
          "akka.cluster.split-brain-resolver.stable-after = 5s",
          "akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s",
          "livemig.host.fence-lease = 2s",
          "livemig.coordinator.step-timeout = 5s",
          "livemig.coordinator.ask-timeout = 5s",
          "livemig.migration.stall-timeout = 5s",
          "livemig.migration.drain-timeout = 2s",
          "livemig.http.port = " + n.http,
          "livemig.http.auth.tokens-file = \"" + OperatorCredentials.tokensFile(dir) + "\""));
      if (COORDINATORS.contains(n.name)) {
        conf.addAll(List.of(
            "akka.cluster.roles = [coordinator]",
            "livemig.journal.url = \"jdbc:postgresql://127.0.0.1:" + journalLink.port() + "/test?currentSchema="
                + schema + "\"",
            "livemig.journal.user = \"postgres\"",
            "livemig.journal.driver = \"org.postgresql.Driver\"",
            "livemig.journal.slick-profile = \"slick.jdbc.PostgresProfile$\""));
      } else {
        conf.addAll(List.of(
            "akka.cluster.roles = [host]",
            "livemig.host.id = \"" + n.name + "\"",
            "livemig.host.run-state-log = \"" + n.runStateLog + "\"",
            "livemig.journal.url = \"jdbc:h2:file:" + dir.resolve(n.name + "-ledger") + "\""));
        if (n.name.equals("host-b")) {
          conf.add("livemig.host.data-plane.port = " + destinationDataPort);
          conf.add("livemig.host.data-plane.advertised-port = " + dataLink.port());
        }
        conf.addAll(hostFaults.getOrDefault(n.name, List.of()));
      }
      conf.add("");
      Path file = dir.resolve(n.name + ".conf");
      Files.writeString(file, String.join("\n", conf));
      // Coordinators log at INFO: their lines name the migrations they run.
      Map<String, String> env = COORDINATORS.contains(n.name) ? Map.of("LIVEMIG_LOG_LEVEL", "INFO") : Map.of();
      starting.add(CompletableFuture.supplyAsync(() -> {
        try {
          return HostProcess.start(file, n.name, env);
        } catch (Exception e) {
          throw new IllegalStateException(n.name + " did not start: " + e.getMessage(), e);
        }
      }));
    }
    try {
      int i = 0;
      for (Node n : nodes.values()) n.process = starting.get(i++).get(120, TimeUnit.SECONDS);
      awaitCluster(Duration.ofSeconds(90));
    } catch (Exception | AssertionError e) {
      for (CompletableFuture<HostProcess> f : starting) f.thenAccept(p -> p.process().destroyForcibly());
      close();
      throw e;
    }
  }

  /** True when the shared PostgreSQL server answers (the harness needs it for the coordinators' journal). */
  static String postgresProblem() {
    try (Connection c = DriverManager.getConnection(PG_URL, "postgres", "")) {
      c.isValid(2);
      return null;
    } catch (SQLException e) {
      return "PostgreSQL at " + PG_URL + " unreachable: " + e.getMessage();
    }
  }

  Node node(String name) {
    return nodes.get(name);
  }

  String url(String node, String path) {
    return "https://127.0.0.1:" + nodes.get(node).http + path;
  }

  private HttpClient http() {
    if (http == null) http = OperatorCredentials.https(Duration.ofSeconds(2));
    return http;
  }

  HttpResponse<String> get(String node, String path) throws IOException, InterruptedException {
    return http().send(HttpRequest.newBuilder(URI.create(url(node, path))).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + OperatorCredentials.operator(dir)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String node, String path, String json) throws IOException, InterruptedException {
    return http().send(HttpRequest.newBuilder(URI.create(url(node, path))).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + OperatorCredentials.operator(dir)).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The migration's status from any node that answers (none while every one is frozen or the shard moves). */
  MigrationInfo status(String migrationId) {
    for (Node n : nodes.values()) {
      if (!n.alive() || n.frozen) continue;
      try {
        HttpResponse<String> r = get(n.name, "/migrations/" + migrationId);
        if (r.statusCode() != 200) continue;
        MigrationInfo.Builder b = MigrationInfo.newBuilder();
        JsonFormat.parser().ignoringUnknownFields().merge(r.body(), b);
        return b.build();
      } catch (IOException e) {
        // this node does not answer now: ask the next
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    return null;
  }

  /** Until all four members are Up and both hosts are registered, as c1 sees it. */
  private void awaitCluster(Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    while (true) {
      String body;
      try {
        HttpResponse<String> r = get("c1", "/hosts");
        String hosts = r.body();
        body = hosts;
        int up = r.statusCode() == 200 ? hosts.split("\"status\":\"Up\"", -1).length - 1 : 0;
        if (up >= nodes.size() && HOSTS.stream().allMatch(h -> hosts.contains("\"host_id\":\"" + h + "\""))) return;
      } catch (IOException e) {
        // A JVM just started on a loaded machine can take longer than the connect timeout for its
        // first TLS handshake: not formed yet, ask again until the deadline.
        body = "no answer: " + e;
      }
      if (System.nanoTime() > deadline) throw new AssertionError("cluster formed within " + within + ": " + body);
      Thread.sleep(200); // polling the cluster's own view from outside: no event reaches this JVM
    }
  }

  /**
   * Whether the other nodes have downed this one: a coordinator that answers (alive, not frozen,
   * not this node) lists it as Down, or no more (removed). False while none of them answers.
   */
  boolean downedByTheOthers(String node) throws InterruptedException {
    Pattern member = Pattern.compile("\"address\":\"" + Pattern.quote("akka://livemig@127.0.0.1:" + nodes.get(node).artery)
        + "\",\"status\":\"(\\w+)\"");
    for (String name : COORDINATORS) {
      Node n = nodes.get(name);
      if (name.equals(node) || !n.alive() || n.frozen) continue;
      try {
        HttpResponse<String> r = get(name, "/hosts");
        if (r.statusCode() != 200) continue;
        Matcher m = member.matcher(r.body());
        return !m.find() || m.group(1).equals("Down") || m.group(1).equals("Removed");
      } catch (IOException e) {
        // this coordinator does not answer now: ask the next
      }
    }
    return false;
  }

  /** Sends a signal (KILL, STOP, CONT) to a node's JVM; after KILL, waits until it is dead. */
  void signal(String node, String signal) throws Exception {
    Node n = nodes.get(node);
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(n.process.pid())).start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new IllegalStateException("kill -" + signal + " " + node + " failed");
    }
    if (signal.equals("STOP")) n.frozen = true;
    if (signal.equals("CONT")) n.frozen = false;
    if (signal.equals("KILL")) {
      if (!n.process.process().waitFor(10, TimeUnit.SECONDS)) throw new IllegalStateException(node + " survived kill -9");
      n.alive();
    }
  }

  /** Drops everything sent to the node's Artery port: the cluster and the node stop hearing each other. */
  void partition(String node) throws Exception {
    Node n = nodes.get(node);
    n.partitionRule = "-p tcp -d 127.0.0.1 --dport " + n.artery + " -j DROP";
    Iptables.output("-I", n.partitionRule);
  }

  void heal(String node) throws Exception {
    Node n = nodes.get(node);
    if (n.partitionRule == null) return;
    Iptables.output("-D", n.partitionRule);
    n.partitionRule = null;
  }

  /** Every host's run-state log lines (the files survive the processes). */
  List<String> runStateLines() throws IOException {
    List<String> lines = new ArrayList<>();
    for (String h : HOSTS) {
      Path f = nodes.get(h).runStateLog;
      if (Files.exists(f)) lines.addAll(Files.readAllLines(f));
    }
    return lines;
  }

  /** Per host, when its observation ends: when it was seen dead, or now. */
  Map<String, Long> observedUntil() {
    Map<String, Long> until = new LinkedHashMap<>();
    long now = EpochMicros.now();
    for (String h : HOSTS) until.put(h, nodes.get(h).alive() ? now : nodes.get(h).diedAtMicros);
    return until;
  }

  @Override
  public void close() throws Exception {
    List<Exception> problems = new ArrayList<>();
    for (Node n : nodes.values()) {
      try {
        heal(n.name);
        if (n.process != null && n.frozen) signal(n.name, "CONT");
      } catch (Exception e) {
        problems.add(e);
      }
      if (n.process != null) n.process.process().destroyForcibly();
    }
    for (Node n : nodes.values()) if (n.process != null) n.process.process().waitFor(30, TimeUnit.SECONDS);
    dataLink.close();
    journalLink.close();
    try (Connection c = DriverManager.getConnection(PG_URL, "postgres", "")) {
      c.createStatement().execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
    if (!problems.isEmpty()) throw problems.get(0);
  }
}
