package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * Coordinators in their own JVMs (HostMain, one config file each); the one running the
 * migration's coordinator gets kill -9 in Perform. The coordinator continues in the other JVM
 * from the shared journal (H2 in server mode across processes) and the migration completes.
 */
class CoordinatorProcessKillTest {
  @TempDir Path dir;
  final List<Process> processes = new ArrayList<>();
  TestCluster hosts;

  @AfterEach
  void down() {
    for (Process p : processes) p.destroyForcibly();
    if (hosts != null) hosts.close();
  }

  private Process coordinatorJvm(String name, String seed, String journal) throws Exception {
    Path conf = dir.resolve(name + ".conf");
    Files.writeString(conf, String.join("\n",
        "include \"livemig-node.conf\"",
        "akka.cluster.roles = [coordinator]",
        "akka.remote.artery.canonical.port = 0",
        "akka.cluster.seed-nodes = [\"" + seed + "\"]",
        "akka.cluster.split-brain-resolver.stable-after = 3s",
        "livemig.coordinator.step-timeout = 5s",
        "livemig.journal.url = \"" + journal + "\"", ""));
    Process p = HostProcess.start(conf, name).process();
    processes.add(p);
    return p;
  }

  @Test
  void coordinatorJvmKilledWithSigkillDuringPerform() throws Exception {
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE";
    hosts = new TestCluster(dir, 0, Map.of("host-a", Map.of(), "host-b", Map.of()), journal);
    LivemigNode seedNode = hosts.hosts.get("host-a");
    String seed = seedNode.address().toString();
    Process first = coordinatorJvm("coordinator-1", seed, journal);
    ClusterWait.upMembers(seedNode.system(), 3, Duration.ofSeconds(60));

    GuestDescription d = TestCluster.guest("sigkill", 16, 3000);
    hosts.createGuest("host-a", d);
    MigrationClient client = new MigrationClient(seedNode.system());
    String id = client.start(d.getGuestId(), "host-a", "host-b",
        MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(4_000_000).build())
        .toCompletableFuture().get(30, TimeUnit.SECONDS).getMigrationId();
    hosts.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM, Duration.ofSeconds(30));
    coordinatorJvm("coordinator-2", seed, journal); // the only coordinator now is in the first JVM
    ClusterWait.upMembers(seedNode.system(), 4, Duration.ofSeconds(60));

    new ProcessBuilder("kill", "-9", Long.toString(first.pid())).start().waitFor(10, TimeUnit.SECONDS);
    assertTrue(first.waitFor(10, TimeUnit.SECONDS), "the first coordinator JVM is dead");

    MigrationInfo done = hosts.awaitEnd(id, Duration.ofSeconds(120));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getEpoch() >= 2, "a new incarnation finished the job: epoch " + done.getEpoch());
    hosts.assertExactlyOneRunningOn("host-b", d);
    assertEquals(1, hosts.cleanupRuns("host-a").get(id));
    assertEquals(1, hosts.cleanupRuns("host-b").get(id));
  }
}
