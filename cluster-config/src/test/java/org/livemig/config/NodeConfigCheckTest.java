package org.livemig.config;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.ServerSocket;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A bad host config is refused with a sentence naming the problem. */
class NodeConfigCheckTest {
  private static List<String> check(String file) {
    Config own = ConfigFactory.parseString(file);
    Config config = ConfigFactory.load(own.withFallback(ConfigFactory.parseResources("livemig-node.conf")));
    return NodeConfigCheck.problems(own, config);
  }

  @Test
  void aGoodConfigHasNoProblems() {
    assertEquals(List.of(), check("livemig.host.id = a\nakka.remote.artery.canonical.port = 0"));
  }

  @Test
  void problemsAreNamed() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      List<String> p = check("livemig.host.id = a\nlivemig.migration.downtime-limt = 100ms\n"
          + "livemig.host.data-plane.bind-host = \"no-such-host.invalid\"\n"
          + "akka.remote.artery.canonical.port = " + busy.getLocalPort() + "\nlivemig.http.port = 70000");
      String all = String.join("\n", p);
      assertTrue(all.contains("unknown setting livemig.migration.downtime-limt"), all);
      assertTrue(all.contains("livemig.host.data-plane.bind-host = no-such-host.invalid does not resolve"), all);
      assertTrue(all.contains("akka.remote.artery.canonical.port = " + busy.getLocalPort()), all);
      assertTrue(all.contains("livemig.http.port = 70000 is not a port"), all);
    }
  }

  @Test
  void datastoresAreNamesOfTheOperatorsChoosingAndMustBeDirectories(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    String ok = dir.toString().replace("\\", "/");
    assertEquals(List.of(), check("livemig.host.id = a\nakka.remote.artery.canonical.port = 0\n"
        + "livemig.host.datastores.shared = \"" + ok + "\"\nlivemig.host.datastores.local = \"" + ok + "\""));
    String all = String.join("\n", check("livemig.host.id = a\nakka.remote.artery.canonical.port = 0\n"
        + "livemig.host.datastores.nfs = \"" + ok + "/not-mounted\""));
    assertTrue(all.contains("livemig.host.datastores.nfs = " + ok + "/not-mounted is not a directory"), all);
  }

  @Test
  void aMalformedTokensFileIsNamedBeforeTheNodeStarts(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    var file = java.nio.file.Files.writeString(dir.resolve("tokens"), "operator not-a-hash alice\n");
    String all = String.join("\n", check("livemig.host.id = a\nakka.remote.artery.canonical.port = 0\n"
        + "livemig.http.port = " + freePort() + "\nlivemig.http.auth.tokens-file = \"" + file + "\""));
    assertTrue(all.contains("livemig.http.auth.tokens-file: " + file + " line 1: the second field must be a SHA-256"),
        all);
    assertFalse(all.contains("not-a-hash"), "a token pasted by mistake is not echoed: " + all);
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aFenceLeaseNotShorterThanTheResolversWaitIsRefused() {
    String all = String.join("\n", check("livemig.host.id = a\nakka.remote.artery.canonical.port = 0\n"
        + "livemig.host.fence-lease = 30s\nakka.cluster.split-brain-resolver.stable-after = 20s"));
    assertTrue(all.contains("livemig.host.fence-lease = 30000 ms must be shorter than"), all);
  }

  @Test
  void theFastTakeoverSettingsAreAcceptedAndKeepTheLeaseShorterThanTheResolversWait() {
    String file = "livemig.host.id = a\nakka.remote.artery.canonical.port = 0\ninclude \"livemig-fast-takeover.conf\"";
    assertEquals(List.of(), check(file));
    Config fast = ConfigFactory.load(ConfigFactory.parseString(file)
        .withFallback(ConfigFactory.parseResources("livemig-node.conf")));
    assertEquals(1500, fast.getDuration("akka.cluster.split-brain-resolver.stable-after").toMillis());
    assertEquals(1000, fast.getDuration("livemig.host.fence-lease").toMillis());
  }

  @Test
  void anUnreachableJournalIsNamed() {
    List<String> p = check("livemig.host.id = a\nakka.remote.artery.canonical.port = 0\n"
        + "include \"livemig-journal-postgres.conf\"\nlivemig.journal.url = \"jdbc:postgresql://127.0.0.1:1/none\"");
    String all = String.join("\n", p);
    assertTrue(all.contains("livemig.journal.url = jdbc:postgresql://127.0.0.1:1/none is unreachable"), all);
  }
}
