package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.AddressFromURIString;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;

/** A HostMain process whose node the cluster downs exits: no host lives on outside the cluster. */
class HostMainDownedTest {
  @TempDir Path dir;
  TestCluster cluster;
  Process host;

  @AfterEach
  void down() {
    if (host != null) host.destroyForcibly();
    if (cluster != null) cluster.close();
  }

  @Test
  void aDownedHostMainExits() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of()));
    LivemigNode seed = cluster.hosts.get("host-a");
    Path conf = dir.resolve("host-d.conf");
    Files.writeString(conf, String.join("\n",
        "include \"livemig-node.conf\"",
        "livemig.host.id = \"host-d\"",
        "livemig.host.data-plane.port = 0",
        "akka.cluster.roles = [host]",
        "akka.remote.artery.canonical.port = 0",
        "akka.cluster.seed-nodes = [\"" + seed.address() + "\"]",
        "livemig.journal.url = \"jdbc:h2:file:" + dir.resolve("host-d-ledger") + "\"", ""));
    HostProcess started = HostProcess.start(conf, "host-d");
    host = started.process();
    String address = started.address();
    ClusterWait.upMembers(seed.system(), 3, Duration.ofSeconds(60)); // the coordinator node, host-a, host-d

    Cluster.get(seed.system()).manager().tell(new Down(AddressFromURIString.parse(address)));
    assertTrue(host.waitFor(60, TimeUnit.SECONDS), "the downed host's JVM exits");
  }
}
