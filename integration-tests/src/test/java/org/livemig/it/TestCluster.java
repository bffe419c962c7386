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
  final Map<String, LivemigNode> hosts = new HashMap<>();
  final MigrationClient client;
  private final String journal;

  TestCluster(Path dir, Map<String, Map<String, Object>> hostOverrides) throws Exception {
    this.journal = "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1";
    manager = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal, fast(Map.of())));
    manager.join(manager.address());
    for (var e : hostOverrides.entrySet()) {
      LivemigNode n = LivemigNode.start(LivemigNode.localConfig(e.getKey(), List.of("host"), journal, fast(e.getValue())));
      n.join(manager.address());
      hosts.put(e.getKey(), n);
    }
    ClusterWait.upMembers(manager.system(), 1 + hosts.size(), Duration.ofSeconds(30));
    client = new MigrationClient(manager.system());
  }

  /** Short timeouts so failure paths end quickly in tests. */
  private static Map<String, Object> fast(Map<String, Object> overrides) {
    Map<String, Object> m = new HashMap<>(Map.of(
        "livemig.coordinator.step-timeout", "5s",
        "livemig.coordinator.perform-silence-timeout", "10s",
        "livemig.migration.stall-timeout", "2s",
        "akka.cluster.split-brain-resolver.stable-after", "3s"));
    m.putAll(overrides);
    return m;
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

  MigrationInfo awaitEnd(String migrationId, Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    MigrationInfo i = null;
    while (System.nanoTime() < deadline) {
      i = client.status(migrationId).toCompletableFuture().get(10, TimeUnit.SECONDS);
      if (i.getStatus() == MigrationStatus.COMPLETED || i.getStatus() == MigrationStatus.FAILED
          || i.getStatus() == MigrationStatus.CANCELLED) {
        return i;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("migration " + migrationId + " did not end within " + max + "; last status " + i);
  }

  MigrationInfo awaitStatus(String migrationId, java.util.function.Predicate<MigrationInfo> p, Duration max)
      throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    MigrationInfo i = null;
    while (System.nanoTime() < deadline) {
      i = client.status(migrationId).toCompletableFuture().get(10, TimeUnit.SECONDS);
      if (p.test(i)) return i;
      Thread.sleep(20);
    }
    throw new AssertionError("migration " + migrationId + " never reached the expected state; last " + i);
  }

  /**
   * The invariant every scenario ends with: exactly one copy of the guest runs, on the expected
   * host, and its memory equals the oracle's expectation byte for byte.
   */
  MigratableGuest assertExactlyOneRunningOn(String expectedHost, GuestDescription d) throws Exception {
    List<String> runningOn = new ArrayList<>();
    MigratableGuest found = null;
    for (String h : hosts.keySet()) {
      if (hosts.get(h).system().whenTerminated().isCompleted()) continue;
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

  void kill(String host) {
    hosts.get(host).close();
  }

  @Override
  public void close() {
    for (LivemigNode n : hosts.values()) {
      if (!n.system().whenTerminated().isCompleted()) n.close();
    }
    manager.close();
  }
}
