package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * A real partition: host-b runs in its own JVM on 127.0.0.2, and iptables drops everything the
 * cluster sends to its Artery port, so each side sees the other unreachable. While host-b is the
 * source of a migration, its fence lease runs out: it pauses the migrating guest (whose
 * ownership the majority may now decide) and leaves a guest no migration touches running. The
 * majority ends the migration once host-b is downed; the destination's copy never ran.
 * Traffic stays on loopback; the rule is removed afterwards.
 */
class PartitionFencingTest {
  @TempDir Path dir;
  TestCluster cluster;
  Process hostB;
  String rule;

  @AfterEach
  void down() throws Exception {
    if (rule != null) Iptables.output("-D", rule);
    if (hostB != null) hostB.destroyForcibly();
    if (cluster != null) cluster.close();
  }

  private static int freePort(String host) throws Exception {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(host, 0));
      return s.getLocalPort();
    }
  }

  private String get(String url) throws Exception {
    return OperatorCredentials.https(Duration.ofSeconds(10)).send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + OperatorCredentials.readOnly(dir)).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private String post(String url, String body) throws Exception {
    var r = OperatorCredentials.https(Duration.ofSeconds(10)).send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + OperatorCredentials.operator(dir))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(201, r.statusCode(), r.body());
    return r.body();
  }

  static String guestJson(String id, long mib, long dirtyPagesPerSecond) {
    return "{\"guest_id\":\"" + id + "\",\"page_size\":4096,\"page_count\":" + (mib * 256) + ",\"seed\":11,"
        + "\"dirty_pages_per_second\":" + dirtyPagesPerSecond + ",\"hot_pages\":64,\"hot_per_mille\":800,"
        + "\"initial_fill\":\"FILL_PATTERN\"}";
  }

  @Test
  void aSourceCutOffFromTheMajorityFencesItsMigratingGuest() throws Exception {
    boolean ci = "true".equals(System.getenv("CI"));
    if (!Iptables.works()) {
      assertFalse(ci, "iptables is required under CI=true (.ci/run installs it)");
      Assumptions.abort("iptables is not available here");
    }
    cluster = new TestCluster(dir, Map.of("host-a", Map.of()));
    LivemigNode seed = cluster.manager;
    int arteryB = freePort("127.0.0.2");
    int httpB = freePort("127.0.0.1");
    Path conf = dir.resolve("host-b.conf");
    Files.writeString(conf, String.join("\n",
        "include \"livemig-node.conf\"",
        "livemig.host.id = \"host-b\"",
        "akka.cluster.roles = [host]",
        "akka.remote.artery.canonical.hostname = \"127.0.0.2\"",
        "akka.remote.artery.canonical.port = " + arteryB,
        "akka.cluster.seed-nodes = [\"" + seed.address() + "\"]",
        // Its own side must not down the majority before the fence is seen (the majority downs it).
        "akka.cluster.split-brain-resolver.stable-after = 20s",
        "livemig.host.fence-lease = 1s",
        "livemig.host.data-plane.bind-host = \"127.0.0.2\"",
        "livemig.host.data-plane.port = 0",
        "livemig.http.port = " + httpB,
        "livemig.http.auth.tokens-file = \"" + OperatorCredentials.tokensFile(dir) + "\"",
        "livemig.journal.url = \"jdbc:h2:file:" + dir.resolve("host-b-ledger") + "\"", ""));
    HostProcess b = HostProcess.start(conf, "host-b");
    hostB = b.process();
    List<String> hostBLog = b.log();
    ClusterWait.upMembers(seed.system(), 3, Duration.ofSeconds(60));
    String httpBase = "https://127.0.0.1:" + httpB;
    post(httpBase + "/guests", guestJson("b-moving", 16, 1000));
    post(httpBase + "/guests", guestJson("b-staying", 1, 100));

    // A slow copy from host-b, so that it is still in Perform when the partition comes.
    String id = cluster.client.start("b-moving", "host-b", "host-a", MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(2_000_000).build()).toCompletableFuture().get(30, TimeUnit.SECONDS)
        .getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getTransferredBytes() > 0, Duration.ofSeconds(30));

    rule = "-d 127.0.0.2 -p tcp --dport " + arteryB + " -j DROP";
    Iptables.output("-I", rule);

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (hostBLog.stream().noneMatch(l -> l.contains("fenced itself"))) {
      assertTrue(System.nanoTime() < deadline, "host-b fences itself within 30 s of the partition: " + hostBLog);
      Thread.onSpinWait();
    }
    String fenced = hostBLog.stream().filter(l -> l.contains("fenced itself")).findFirst().orElseThrow();
    assertTrue(fenced.contains("[b-moving]"), "only the migrating guest is paused: " + fenced);
    String guests = get(httpBase + "/guests");
    assertTrue(guests.contains("\"guest_id\":\"b-moving\",\"state\":\"PAUSED\""), guests);
    assertTrue(guests.contains("\"guest_id\":\"b-staying\",\"state\":\"RUNNING\""), guests);

    // The majority downs host-b (stable-after 3s here) and ends the migration; the copy on
    // host-a never ran.
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.FAILED, done.getStatus(), done.toString());
    var onA = cluster.guestOn("host-a", "b-moving");
    assertTrue(onA.isEmpty() || onA.get().state() != org.livemig.engine.guest.RunState.RUNNING,
        "the destination's copy does not run");
  }
}
