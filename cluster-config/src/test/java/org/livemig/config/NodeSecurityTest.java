package org.livemig.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Nodes with certificates from the cluster's CA form a cluster over TLS; a node with another CA's cannot join. */
class NodeSecurityTest {
  @TempDir
  Path dir;

  private Map<String, Object> in(Path keyDir) {
    return Map.of("livemig.security.key-dir", keyDir.toString());
  }

  @Test
  void nodesOfOneCaFormAClusterOverTlsAndAStrangerCannotJoin() throws Exception {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    var root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.addAppender(logs);
    Path keys = dir.resolve("cluster-keys");
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1;AUTO_SERVER=TRUE";
    try (LivemigNode a = LivemigNode.start(LivemigNode.localConfig("host-a", List.of("host", "coordinator"), journal, in(keys)));
        LivemigNode b = LivemigNode.start(LivemigNode.localConfig("host-b", List.of("host"), journal, in(keys)))) {
      assertEquals("tls-tcp", a.system().settings().config().getString("akka.remote.artery.transport"));
      a.join(a.address());
      b.join(a.address());
      ClusterWait.upMembers(a.system(), 2, Duration.ofSeconds(60));

      // Same port layout, same config, but certificates from a CA of its own.
      try (LivemigNode stranger = LivemigNode.start(LivemigNode.localConfig("host-x", List.of("host"),
          "jdbc:h2:file:" + dir.resolve("stranger-journal") + ";DB_CLOSE_DELAY=-1", in(dir.resolve("stranger-keys"))))) {
        stranger.join(a.address());
        // Wait for the proof that it tried: a failed TLS handshake, logged by either side.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!handshakeFailed(logs) && System.nanoTime() < deadline) Thread.sleep(50);
        assertTrue(handshakeFailed(logs), "no TLS handshake failure was logged");
        assertEquals(List.of("host-a", "host-b").size(), upMembers(a), "the stranger is no member");
        assertTrue(Cluster.get(stranger.system()).selfMember().status() != MemberStatus.up(), "the stranger joined nobody");
      }
    } finally {
      root.detachAppender(logs);
    }
  }

  private static long upMembers(LivemigNode n) {
    return StreamSupport.stream(Cluster.get(n.system()).state().getMembers().spliterator(), false)
        .filter(m -> m.status() == MemberStatus.up()).count();
  }

  private static boolean handshakeFailed(ListAppender<ILoggingEvent> logs) {
    synchronized (logs) {
      return List.copyOf(logs.list).stream().anyMatch(e -> e.getLevel().isGreaterOrEqual(Level.WARN)
          && (text(e).contains("SSLHandshakeException") || text(e).contains("PKIX") || text(e).contains("certificate_unknown")
              || text(e).contains("bad_certificate")));
    }
  }

  private static String text(ILoggingEvent e) {
    String t = e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getClassName() + " " + e.getThrowableProxy().getMessage();
    return e.getFormattedMessage() + " " + t;
  }
}
