package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.javadsl.AskPattern;
import akka.pattern.StatusReply;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.client.MigrationClient;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;

/**
 * A real cluster inside the test JVM: a coordinator node and host nodes, each its own
 * ActorSystem talking over Artery TCP on loopback, with an H2 journal file.
 */
final class TestCluster implements AutoCloseable {
  final LivemigNode manager;
  final List<LivemigNode> coordinators = new ArrayList<>();
  final Map<String, LivemigNode> hosts = new HashMap<>();
  MigrationClient client;
  private LivemigNode clientNode;
  final String journal;
  /**
   * Crashed coordinators and killed hosts: terminated, or still stopping (Artery's TLS shutdown can
   * stall, akka/akka-core#29162) with their actors stopped. Never asked anything again.
   */
  private final java.util.Set<LivemigNode> crashed = java.util.concurrent.ConcurrentHashMap.newKeySet();

  TestCluster(Path dir, Map<String, Map<String, Object>> hostOverrides) throws Exception {
    this(dir, 1, hostOverrides, null);
  }

  /**
   * coordinators nodes with the coordinator role, then the hosts; journalUrl null = an H2 file
   * in dir. Coordinator nodes can be crashed (terminated without leaving the cluster).
   */
  TestCluster(Path dir, int coordinatorCount, Map<String, Map<String, Object>> hostOverrides, String journalUrl)
      throws Exception {
    this(dir, coordinatorCount, Map.of(), hostOverrides, journalUrl);
  }

  /** One coordinator node with coordinatorOverrides (e.g. livemig.http.port), and the hosts. */
  TestCluster(Path dir, Map<String, Object> coordinatorOverrides, Map<String, Map<String, Object>> hostOverrides)
      throws Exception {
    this(dir, 1, coordinatorOverrides, hostOverrides, null);
  }

  /** coordinatorCount nodes with coordinatorOverrides each, the hosts, an H2 file journal in dir. */
  static TestCluster withCoordinators(Path dir, int coordinatorCount, Map<String, Object> coordinatorOverrides,
      Map<String, Map<String, Object>> hostOverrides) throws Exception {
    return new TestCluster(dir, coordinatorCount, coordinatorOverrides, hostOverrides, null);
  }

  private TestCluster(Path dir, int coordinatorCount, Map<String, Object> coordinatorOverrides,
      Map<String, Map<String, Object>> hostOverrides, String journalUrl) throws Exception {
    this.journal = journalUrl != null ? journalUrl : "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1";
    for (int i = 0; i < coordinatorCount; i++) {
      Map<String, Object> overrides = new HashMap<>(Map.of("akka.coordinated-shutdown.run-by-actor-system-terminate",
          "off", "livemig.http.auth.tokens-file", OperatorCredentials.tokensFile(dir).toString()));
      overrides.putAll(coordinatorOverrides);
      LivemigNode c = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
          fast(overrides)));
      c.join(coordinators.isEmpty() ? c.address() : coordinators.get(0).address());
      coordinators.add(c);
    }
    manager = coordinators.isEmpty() ? null : coordinators.get(0);
    for (var e : new java.util.TreeMap<>(hostOverrides).entrySet()) {
      // A host serving HTTP creates the tokens in dir (OperatorCredentials), not in the working directory.
      Map<String, Object> overrides = new HashMap<>(Map.of("livemig.http.auth.tokens-file",
          OperatorCredentials.tokensFile(dir).toString()));
      overrides.putAll(e.getValue());
      LivemigNode n = LivemigNode.start(LivemigNode.localConfig(e.getKey(), List.of("host"), journal, fast(overrides)));
      LivemigNode seed = manager != null ? manager : hosts.isEmpty() ? n : hosts.values().iterator().next();
      n.join(seed.address());
      hosts.put(e.getKey(), n);
    }
    // Every node, not only the leader, must see every member Up: a node crashed while the
    // others' views still differ (the leader had moved them Up, a late joiner had not heard of
    // a host yet) left the survivors unable to agree, and the resolver downed a healthy node.
    List<LivemigNode> all = new ArrayList<>(coordinators);
    all.addAll(hosts.values());
    for (LivemigNode n : all) ClusterWait.upMembers(n.system(), all.size(), Duration.ofSeconds(30));
    // A host node holds the client: it survives any coordinator node's crash.
    clientNode = hosts.isEmpty() ? manager : hosts.values().iterator().next();
    client = new MigrationClient(clientNode.system());
  }

  /**
   * host-a, and host-b whose data port is reached only through proxy (it advertises the proxy's
   * port in its Prepare cookie), so a test can cut or hang the data link.
   */
  static Map<String, Map<String, Object>> hostBBehind(LinkProxy proxy) {
    return Map.of("host-a", Map.of(), "host-b", Map.of("livemig.host.data-plane.port", proxy.targetPort(),
        "livemig.host.data-plane.advertised-port", proxy.port()));
  }

  /** Short timeouts so failure paths end quickly in tests. */
  private static Map<String, Object> fast(Map<String, Object> overrides) {
    Map<String, Object> m = new HashMap<>(Map.of(
        "livemig.coordinator.step-timeout", "5s",
        "livemig.coordinator.perform-silence-timeout", "10s",
        "livemig.migration.stall-timeout", "2s",
        "livemig.migration.drain-timeout", "1s", // below the stall timeout, as a start requires
        "akka.cluster.split-brain-resolver.stable-after", "3s",
        // With stable-after this short, a load spike on the shared 2-core machine during a
        // deliberate node crash made the resolver down every node (hosts included, seen once in
        // CoordinatorCrashTest); the tests are about migrations, not that resolver policy, which
        // production keeps on.
        "akka.cluster.split-brain-resolver.down-all-when-unstable", "off"));
    m.putAll(overrides);
    return m;
  }

  /** Waits (30 s at most) until the guest's first disk has acknowledged this many writes. */
  static void awaitDiskWrites(MigratableGuest g, long writes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (g.disks().get(0).getWrites() < writes) {
      if (System.nanoTime() > deadline) throw new AssertionError("guest wrote only " + g.disks() + ", expected " + writes);
      Thread.sleep(10);
    }
  }

  static GuestDescription guest(String id, long mib, long dirtyPagesPerSecond) {
    return GuestDescription.newBuilder().setGuestId(id).setPageSize(4096).setPageCount(mib * 256).setSeed(id.hashCode())
        .setDirtyPagesPerSecond(dirtyPagesPerSecond).setHotPages(Math.min(2048, mib * 64)).setHotPerMille(800)
        .setInitialFill(InitialFill.FILL_PATTERN).build();
  }

  HostAgent.GuestView createGuest(String host, GuestDescription d) throws Exception {
    LivemigNode n = hosts.get(host);
    StatusReply<HostAgent.GuestView> r = AskPattern.<HostAgent.Command, StatusReply<HostAgent.GuestView>>ask(
        n.hostAgent(), reply -> new HostAgent.CreateGuest(d, true, reply), Duration.ofSeconds(30),
        n.system().scheduler()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    return r.getValue();
  }

  Optional<MigratableGuest> guestOn(String host, String guestId) throws Exception {
    LivemigNode n = hosts.get(host);
    return AskPattern.<HostAgent.Command, Optional<MigratableGuest>>ask(n.hostAgent(),
        r -> new HostAgent.GetGuest(guestId, r), Duration.ofSeconds(10), n.system().scheduler())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  Map<String, Integer> cleanupRuns(String host) throws Exception {
    LivemigNode n = hosts.get(host);
    return AskPattern.<HostAgent.Command, Map<String, Integer>>ask(n.hostAgent(), HostAgent.GetCleanupRuns::new,
        Duration.ofSeconds(10), n.system().scheduler()).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** A status ask; while a coordinator fails over an ask may time out, which is not an answer. */
  private MigrationInfo statusOrNull(String migrationId) throws InterruptedException {
    try {
      return client.status(migrationId).toCompletableFuture().get(15, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      System.out.println("status of " + migrationId + " not available now: " + e);
      return null;
    }
  }

  MigrationInfo awaitEnd(String migrationId, Duration max) throws Exception {
    return awaitStatus(migrationId, i -> i.getStatus() == MigrationStatus.COMPLETED
        || i.getStatus() == MigrationStatus.FAILED || i.getStatus() == MigrationStatus.CANCELLED, max);
  }

  MigrationInfo awaitStatus(String migrationId, java.util.function.Predicate<MigrationInfo> p, Duration max)
      throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    MigrationInfo i = null;
    while (System.nanoTime() < deadline) {
      MigrationInfo now = statusOrNull(migrationId);
      if (now == null) continue;
      i = now;
      if (p.test(i)) return i;
      Thread.sleep(20);
    }
    throw new AssertionError("migration " + migrationId + " never reached the expected state; last " + i);
  }

  /**
   * The migration as the list shows it once it matches p: the list follows each persisted change
   * after its coordinator's write to the table, a moment later than status().
   */
  MigrationInfo awaitListed(String migrationId, java.util.function.Predicate<MigrationInfo> p, Duration max)
      throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    List<MigrationInfo> all = List.of();
    while (System.nanoTime() < deadline) {
      all = client.list().toCompletableFuture().get(15, TimeUnit.SECONDS);
      for (MigrationInfo i : all) if (i.getMigrationId().equals(migrationId) && p.test(i)) return i;
      Thread.sleep(20);
    }
    throw new AssertionError("the list never showed " + migrationId + " as expected: " + all);
  }

  /**
   * The invariant every scenario ends with: exactly one copy of the guest runs, on the expected
   * host, and its memory equals the oracle's expectation byte for byte.
   */
  MigratableGuest assertExactlyOneRunningOn(String expectedHost, GuestDescription d) throws Exception {
    List<String> runningOn = new ArrayList<>();
    MigratableGuest found = null;
    for (String h : hosts.keySet()) {
      if (gone(hosts.get(h))) continue;
      Optional<MigratableGuest> g = guestOn(h, d.getGuestId());
      if (g.isPresent() && g.get().state() == RunState.RUNNING) {
        runningOn.add(h);
        if (h.equals(expectedHost)) found = g.get();
      }
    }
    assertEquals(List.of(expectedHost), runningOn, "exactly one running copy of " + d.getGuestId());
    found.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
    GuestOracle.Verification v = new GuestOracle(d).verify(found.memory(), found.steps());
    assertTrue(v.matches(), "memory matches the oracle after " + found.steps() + " steps: " + v);
    assertTrue(found.steps() > 0, "the guest did run its workload");
    found.run(found.ownerToken());
    return found;
  }

  /** Stops a host node (it leaves the cluster); the client moves to a node that stays. */
  void kill(String host) {
    LivemigNode n = hosts.get(host);
    if (clientNode == n) {
      clientNode = manager != null ? manager : hosts.entrySet().stream().filter(e -> !e.getKey().equals(host))
          .findFirst().orElseThrow().getValue();
      client = new MigrationClient(clientNode.system());
    }
    crashed.add(n);
    n.close(CLOSE_GRACE);
  }

  /** The coordinator node that runs the migration's coordinator right now, if any. */
  Optional<LivemigNode> coordinatorOf(String migrationId) throws Exception {
    for (LivemigNode c : coordinators) {
      if (gone(c)) continue;
      var state = AskPattern.<akka.cluster.sharding.typed.ClusterShardingQuery,
          akka.cluster.sharding.ShardRegion.CurrentShardRegionState>ask(
          akka.cluster.sharding.typed.javadsl.ClusterSharding.get(c.system()).shardState(),
          r -> new akka.cluster.sharding.typed.GetShardRegionState(
              org.livemig.engine.coordinator.MigrationCoordinator.TYPE_KEY, r),
          Duration.ofSeconds(5), c.system().scheduler()).toCompletableFuture().get(5, TimeUnit.SECONDS);
      for (var shard : state.getShards()) {
        if (shard.getEntityIds().contains(migrationId)) return Optional.of(c);
      }
    }
    return Optional.empty();
  }

  /**
   * The node stops at once (no leaving). It counts as crashed once it has terminated or every
   * other live node no longer hears it: its own termination can stall in Artery's TLS stream
   * shutdown, which has no deadline in Akka 2.6 (akka/akka-core#29162); a crashed process would
   * be gone, so what the survivors see is what matters. Crashed nodes are never asked again.
   */
  void crash(LivemigNode node) throws Exception {
    // Only coordinator nodes stop without leaving (coordinated shutdown off): for them "lost by the
    // others" means stopped, where a host would leave gracefully while its actors still ran.
    if (!coordinators.contains(node)) throw new IllegalArgumentException("only a coordinator node can crash here");
    akka.actor.Address gone = node.address();
    node.system().terminate();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!node.system().whenTerminated().isCompleted() && !lostByEveryOther(node, gone) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    crashed.add(node);
    if (node.system().whenTerminated().isCompleted()) return;
    if (lostByEveryOther(node, gone)) {
      System.out.println("crashed node " + gone + " has not terminated (remoting shutdown stalled); every other node lost it");
      return;
    }
    for (var t : Thread.getAllStackTraces().entrySet()) {
      System.out.println("at the crash timeout: " + t.getKey() + java.util.Arrays.toString(t.getValue()));
    }
    throw new AssertionError("node " + gone + " neither terminated nor lost by the others within 60 s");
  }

  /** Terminated, or crashed or killed and still stopping: never asked anything again. */
  private boolean gone(LivemigNode n) {
    return crashed.contains(n) || n.system().whenTerminated().isCompleted();
  }

  private boolean lostByEveryOther(LivemigNode node, akka.actor.Address gone) {
    List<LivemigNode> all = new ArrayList<>(coordinators);
    all.addAll(hosts.values());
    for (LivemigNode n : all) {
      if (n == node || gone(n)) continue;
      var state = akka.cluster.typed.Cluster.get(n.system()).state();
      boolean member = false;
      for (akka.cluster.Member m : state.getMembers()) member |= m.address().equals(gone);
      boolean unreachable = false;
      for (akka.cluster.Member m : state.getUnreachable()) unreachable |= m.address().equals(gone);
      if (member && !unreachable) return false;
    }
    return true;
  }

  /**
   * A node stops in 1-2 s; one whose Artery TLS shutdown stalls (LivemigNode.closeAll) never
   * completes its termination, its actors stopped by then: waiting longer saves nothing.
   */
  static final Duration CLOSE_GRACE = Duration.ofSeconds(8);

  @Override
  public void close() {
    for (LivemigNode n : hosts.values()) {
      if (!gone(n)) n.close(CLOSE_GRACE);
    }
    for (LivemigNode c : coordinators) {
      if (!gone(c)) c.close(CLOSE_GRACE);
    }
  }
}
