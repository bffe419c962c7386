package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.LivemigNode;
import org.slf4j.LoggerFactory;

/** livemig.http.auth.enabled = off: the one explicit way to an open API, and it says so at start. */
class OperatorAuthOffTest {
  @TempDir Path dir;

  @Test
  void authOffAnswersWithoutATokenAndWarns() throws Exception {
    var logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(OperatorHttp.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    Path tokens = dir.resolve("operator-tokens");
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1";
    try (LivemigNode node = LivemigNode.start(LivemigNode.localConfig("host-o", List.of("host"), journal, Map.of(
        "livemig.http.port", OperatorAuthTest.freePort(), "livemig.http.auth.enabled", "off",
        "livemig.http.auth.tokens-file", tokens.toString(), "livemig.security.tls", "off")))) {
      assertTrue(node.httpUri().startsWith("http://"), "security off: plain HTTP " + node.httpUri());
      node.join(node.address());
      org.livemig.config.ClusterWait.upMembers(node.system(), 1, Duration.ofSeconds(30));
      var r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(node.httpUri() + "/guests"))
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(logs.list.stream().anyMatch(e -> e.getLevel() == Level.WARN
          && e.getFormattedMessage().contains("without authentication")), "a warning at start");
      assertFalse(Files.exists(tokens), "no tokens are created when nothing checks them");
    } finally {
      logger.detachAppender(logs);
    }
  }
}
