package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host started as the shipped examples start it (HostMain, a file, the H2 journal shared with
 * AUTO_SERVER) listens on loopback only: Artery, the data port, the operator HTTP and the
 * journal's server that AUTO_SERVER starts in the first JVM to open the file.
 */
class LoopbackOnlyTest {
  @TempDir Path dir;
  Process host;

  @AfterEach
  void down() {
    if (host != null) host.destroyForcibly();
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aHostFromTheShippedExampleListensOnLoopbackOnly() throws Exception {
    int artery = freePort();
    Path conf = dir.resolve("host-l.conf");
    Files.writeString(conf, String.join("\n",
        "include \"livemig-node.conf\"",
        "livemig.host.id = \"host-l\"",
        "livemig.host.data-plane.port = 0",
        "livemig.http.port = " + freePort(),
        "livemig.http.auth.tokens-file = \"" + OperatorCredentials.tokensFile(dir) + "\"",
        "akka.remote.artery.canonical.port = " + artery,
        "akka.cluster.seed-nodes = [\"akka://livemig@127.0.0.1:" + artery + "\"]",
        "livemig.journal.url = \"jdbc:h2:file:" + dir.resolve("journal") + ";AUTO_SERVER=TRUE\"", ""));
    host = HostProcess.start(conf, "host-l").process();

    Process ss = new ProcessBuilder("ss", "-ltnpH").redirectErrorStream(true).start();
    String all = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(ss.waitFor(10, TimeUnit.SECONDS) && ss.exitValue() == 0, "ss ran: " + all);
    List<String> mine = all.lines().filter(l -> l.contains("pid=" + host.pid() + ",")).toList();
    // Artery, the data port, HTTP and the journal's AUTO_SERVER.
    assertTrue(mine.size() >= 4, "the host's listening sockets: " + mine);
    for (String l : mine) {
      String local = l.trim().split("\\s+")[3];
      assertTrue(local.startsWith("127.0.0.1:") || local.startsWith("[::ffff:127.0.0.1]:"),
          "listens beyond loopback: " + l);
    }
  }
}
