package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.AddressFromURIString;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Down;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
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
    host = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-cp", System.getProperty("java.class.path"), "org.livemig.config.HostMain", conf.toString())
        .redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(host.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && !line.startsWith("livemig node ")) { }
    assertNotNull(line, "the host printed its start line");
    Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "host-d-out");
    drain.setDaemon(true);
    drain.start();
    String address = line.split(" ")[2];
    ClusterWait.upMembers(seed.system(), 3, Duration.ofSeconds(60)); // the coordinator node, host-a, host-d

    Cluster.get(seed.system()).manager().tell(new Down(AddressFromURIString.parse(address)));
    assertTrue(host.waitFor(60, TimeUnit.SECONDS), "the downed host's JVM exits");
  }
}
