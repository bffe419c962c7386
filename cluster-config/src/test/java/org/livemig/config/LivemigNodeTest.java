package org.livemig.config;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A host node's data port goes with its actor system, however the system stops. */
class LivemigNodeTest {
  @TempDir
  Path dir;

  @Test
  void theDataPortClosesWhenTheActorSystemTerminates() throws Exception {
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1";
    LivemigNode node = LivemigNode.start(LivemigNode.localConfig("host-t", List.of("host"), journal, Map.of()));
    try {
      InetAddress loopback = InetAddress.getByName("127.0.0.1");
      int port = node.dataPlane().port();
      try (Socket open = new Socket(loopback, port)) {
        assertTrue(open.isConnected(), "the data port accepts while the node runs");
      }
      // Not node.close(): a downed node or a JVM shutdown hook stops the system without it.
      node.system().terminate();
      node.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertThrows(ConnectException.class, () -> new Socket(loopback, port).close(),
          "the data port must be closed once the actor system has terminated");
    } finally {
      node.close();
    }
  }
}
