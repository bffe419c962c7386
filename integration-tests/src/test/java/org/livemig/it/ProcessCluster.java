package org.livemig.it;

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
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.livemig.config.LivemigNode;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.persistence.JournalSchema;

/**
 * Coordinators c1 and c2 and hosts host-a and host-b, each in its own JVM (HostMain with its
 * file, as operators run them), with the operator API on each. One H2 journal file in server mode
 * (AUTO_SERVER) holds the coordinators' journal and the hosts' ledgers; this JVM opens it first and
 * keeps it open, so its server lives through any node's kill -9. Each host has a datastore
 * "local" of its own (dir/a, dir/b). A node killed with kill -9 can start again with its file:
 * a new incarnation with the same id, ledger and datastores.
 */
final class ProcessCluster implements AutoCloseable {
  static final List<String> NODES = List.of("c1", "c2", "host-a", "host-b");

  final Path dir;
  private final Connection journalServer;
  private final Map<String, Integer> artery = new LinkedHashMap<>();
  private final Map<String, Integer> httpPorts = new LinkedHashMap<>();
  /** Each node's settings but its seed nodes. */
  private final Map<String, List<String>> settings = new LinkedHashMap<>();
  private final Map<String, HostProcess> processes = new LinkedHashMap<>();
  private HttpClient http;

  ProcessCluster(Path dir) throws Exception {
    this(dir, Map.of());
  }

  /** With extra settings for some nodes (appended to their files, so they win). */
  ProcessCluster(Path dir, Map<String, List<String>> extra) throws Exception {
    this.dir = dir;
    LivemigNode.journalServerOnLoopback();
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE";
    journalServer = DriverManager.getConnection(journal, "sa", "");
    // The schema step before the nodes: four JVMs at once on a fresh H2 file race in it (H2 has no
    // advisory lock; the README's multi-host example starts the first node alone for this).
    JournalSchema.ensure(journal, "sa", "");
    for (String n : NODES) {
      artery.put(n, LinkProxy.freePort());
      httpPorts.put(n, LinkProxy.freePort());
    }
    for (String n : NODES) {
      List<String> conf = new ArrayList<>(List.of(
          "include \"livemig-node.conf\"",
          "akka.remote.artery.canonical.port = " + artery.get(n),
          "akka.remote.artery.bind.bind-timeout = 30s", // 3 s timed out on a loaded machine
          // A dead node is downed some 10 s after its death (heartbeat pause, then stable-after) and its
          // shards move a second after (TakeoverBenchmark's settings). Patient for a test: shorter
          // pauses downed healthy nodes of a loaded 2-core machine while their JVMs started. The
          // fence's lease stays below stable-after, as HostMain requires.
          "akka.cluster.failure-detector.acceptable-heartbeat-pause = 5s",
          "akka.cluster.split-brain-resolver.stable-after = 5s",
          "akka.cluster.down-removal-margin = 1s",
          "akka.cluster.sharding.retry-interval = 200ms",
          "livemig.host.fence-lease = 4s",
          "livemig.coordinator.step-timeout = 5s",
          "livemig.coordinator.ask-timeout = 5s",
          "livemig.migration.stall-timeout = 3s",
          "livemig.migration.drain-timeout = 2s",
          "livemig.journal.url = \"" + journal + "\"",
          "livemig.http.port = " + httpPorts.get(n),
          "livemig.http.auth.tokens-file = \"" + OperatorCredentials.tokensFile(dir) + "\""));
      if (n.startsWith("c")) {
        conf.add("akka.cluster.roles = [coordinator]");
      } else {
        Files.createDirectories(datastore(n));
        conf.addAll(List.of("akka.cluster.roles = [host]", "livemig.host.id = \"" + n + "\"",
            "livemig.host.datastores.local = \"" + datastore(n) + "\"",
            "livemig.host.run-state-log = \"" + runStateLog(n) + "\"",
            "livemig.host.replication.output-log = \"" + outputLog(n) + "\""));
      }
      conf.addAll(extra.getOrDefault(n, List.of()));
      settings.put(n, conf);
    }
    // All at once, c1 the only seed: it forms the cluster, the others join it (several seeds at
    // once went wrong on a loaded machine: a joining node was quarantined and downed itself).
    try {
      long t0 = System.nanoTime();
      List<CompletableFuture<HostProcess>> starting = new ArrayList<>();
      for (String n : NODES) starting.add(CompletableFuture.supplyAsync(() -> startProcess(n, List.of("c1"))));
      for (int i = 0; i < NODES.size(); i++) processes.put(NODES.get(i), starting.get(i).get(180, TimeUnit.SECONDS));
      System.out.println("4 nodes started in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
      awaitMembers(NODES.size(), Duration.ofSeconds(60));
    } catch (Exception | AssertionError e) {
      close();
      throw e;
    }
  }

  private Path conf(String node) {
    return dir.resolve(node + ".conf");
  }

  /** A host's datastore "local". */
  Path datastore(String host) {
    return dir.resolve(host.equals("host-a") ? "a" : "b");
  }

  /** A host's run-state log: every guest's transitions, written as they happen (survives kill -9). */
  Path runStateLog(String host) {
    return dir.resolve(host + "-run-states.log");
  }

  /** A host's released guest output ("guest number step" per line), as the guests' clients received it. */
  Path outputLog(String host) {
    return dir.resolve(host + "-outputs.log");
  }

  /** The file of a guest's disk in a host's datastore "local". */
  Path diskFile(String host, String guest, String disk) {
    return datastore(host).resolve(guest).resolve(disk + ".img");
  }

  /** Starts a node with its settings and these seed nodes (the first one forms a cluster if it is node itself). */
  private HostProcess startProcess(String node, List<String> seeds) {
    try {
      List<String> conf = new ArrayList<>(settings.get(node));
      conf.add("akka.cluster.seed-nodes = [" + String.join(", ", seeds.stream()
          .map(n -> "\"akka://livemig@127.0.0.1:" + artery.get(n) + "\"").toList()) + "]");
      conf.add("");
      Files.writeString(conf(node), String.join("\n", conf));
      // Coordinators log at INFO: their lines name the migrations they run. Hosts too: what they delete.
      // C1 only and the serial GC: a node's start costs less CPU on a shared 2-core machine.
      return HostProcess.start(conf(node), node, Map.of("LIVEMIG_LOG_LEVEL", "INFO",
          "JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"));
    } catch (Exception e) {
      throw new IllegalStateException(node + " did not start: " + e.getMessage(), e);
    }
  }

  HostProcess process(String node) {
    return processes.get(node);
  }

  boolean alive(String node) {
    return processes.get(node).process().isAlive();
  }

  /** kill -9, then waits until the process is gone. */
  void kill(String node) throws Exception {
    Process kill = new ProcessBuilder("kill", "-9", Long.toString(processes.get(node).pid())).start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) throw new IllegalStateException("kill -9 " + node);
    if (!processes.get(node).process().waitFor(10, TimeUnit.SECONDS)) throw new IllegalStateException(node + " lives");
  }

  /**
   * A new incarnation of a killed node, with its settings (same id, ledger, datastores), joining
   * through the nodes alive; returns once it has joined (its start line).
   */
  /** Starts a killed node again and waits until every node is Up (the old incarnation removed, the new one joined). */
  void restart(String node) throws Exception {
    if (alive(node)) throw new IllegalStateException(node + " still runs");
    processes.put(node, startProcess(node, NODES.stream().filter(n -> !n.equals(node) && alive(n)).toList()));
    awaitMembers(NODES.size(), Duration.ofSeconds(60));
  }

  /** The coordinator JVM whose log names the migration's sharded entity (.../sharding/Migration/<shard>/<id>]). */
  String coordinatorOf(String migrationId) {
    return coordinatorOf("Migration", migrationId);
  }

  /** The coordinator JVM whose log names the sharded entity of this type (Migration, Protection) and id. */
  String coordinatorOf(String entityType, String id) {
    for (String n : List.of("c1", "c2")) {
      if (alive(n) && processes.get(n).log().stream().anyMatch(l -> l.contains("/sharding/" + entityType + "/")
          && l.contains("/" + id + "]"))) {
        return n;
      }
    }
    throw new IllegalStateException("no live coordinator JVM logged " + entityType + " " + id);
  }

  private HttpClient http() {
    if (http == null) http = OperatorCredentials.https(Duration.ofSeconds(3));
    return http;
  }

  HttpResponse<String> get(String node, String path) throws IOException, InterruptedException {
    return http().send(request(node, path).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String node, String path, String json) throws IOException, InterruptedException {
    return http().send(request(node, path).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> delete(String node, String path) throws IOException, InterruptedException {
    return http().send(request(node, path).DELETE().build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpRequest.Builder request(String node, String path) throws IOException {
    return HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + httpPorts.get(node) + path))
        .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + OperatorCredentials.operator(dir));
  }

  /** The migration's status from the first live node that answers; null while none does (a shard moving). */
  MigrationInfo status(String migrationId) throws InterruptedException {
    for (String n : NODES) {
      if (!alive(n)) continue;
      try {
        HttpResponse<String> r = get(n, "/migrations/" + migrationId);
        if (r.statusCode() != 200) continue;
        MigrationInfo.Builder b = MigrationInfo.newBuilder();
        JsonFormat.parser().ignoringUnknownFields().merge(r.body(), b);
        return b.build();
      } catch (IOException e) {
        // this node does not answer now: ask the next
      }
    }
    return null;
  }

  MigrationInfo awaitStatus(String migrationId, Predicate<MigrationInfo> p, Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    MigrationInfo last = null;
    while (System.nanoTime() < deadline) {
      MigrationInfo i = status(migrationId);
      if (i != null) {
        last = i;
        if (p.test(i)) return i;
      }
      Thread.sleep(50); // polling other processes: no event reaches this JVM
    }
    throw new AssertionError("migration " + migrationId + " never reached the expected state; last " + last);
  }

  MigrationInfo awaitEnd(String migrationId, Duration max) throws Exception {
    return awaitStatus(migrationId, i -> i.getStatus() == MigrationStatus.COMPLETED
        || i.getStatus() == MigrationStatus.FAILED || i.getStatus() == MigrationStatus.CANCELLED, max);
  }

  /** The guest's state on a host as that host lists it ("none" if it lists no such guest). */
  String stateOn(String host, String guest) throws Exception {
    Matcher m = Pattern.compile("\"guest_id\":\"" + Pattern.quote(guest) + "\",\"state\":\"(\\w+)\",\"host\":\""
        + Pattern.quote(host) + "\"").matcher(get(host, "/guests").body());
    return m.find() ? m.group(1) : "none";
  }

  /** Until at least members nodes are Up as c1 or c2 sees it. */
  void awaitMembers(int members, Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    String body = "";
    while (System.nanoTime() < deadline) {
      for (String c : List.of("c1", "c2")) {
        if (!alive(c)) continue;
        try {
          HttpResponse<String> r = get(c, "/hosts");
          body = r.body();
          if (r.statusCode() == 200 && body.split("\"status\":\"Up\"", -1).length - 1 >= members) return;
        } catch (IOException e) {
          body = "no answer: " + e; // a JVM just started can take a while for its first TLS handshake
        }
      }
      Thread.sleep(200); // polling the cluster's view from outside
    }
    throw new AssertionError(members + " members Up within " + within + ": " + body + "\n" + logs(40));
  }

  /**
   * Whether a child process runs a node file of this cluster: read from /proc, since the JDK gives
   * no arguments for a command line as long as a test classpath.
   */
  private boolean startedHere(ProcessHandle p) {
    try {
      return Files.readString(Path.of("/proc/" + p.pid() + "/cmdline")).contains(dir + "/");
    } catch (IOException ended) {
      return false;
    }
  }

  /** The last lines of every node's output, for a failure's message. */
  String logs(int lines) {
    StringBuilder b = new StringBuilder();
    processes.forEach((n, p) -> {
      List<String> log = p.log();
      b.append("---- ").append(n).append(" (last ").append(lines).append(" lines) ----\n");
      log.subList(Math.max(0, log.size() - lines), log.size()).forEach(l -> b.append(l).append('\n'));
    });
    return b.toString();
  }

  @Override
  public void close() throws Exception {
    // Every JVM started with a file of this cluster, also one still starting (not yet in processes).
    List<ProcessHandle> mine = ProcessHandle.current().children().filter(this::startedHere).toList();
    mine.forEach(ProcessHandle::destroyForcibly);
    for (ProcessHandle p : mine) p.onExit().get(30, TimeUnit.SECONDS);
    journalServer.close();
  }
}
