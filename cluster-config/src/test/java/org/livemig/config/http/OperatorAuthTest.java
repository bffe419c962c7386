package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;
import org.livemig.config.cli.Migratectl;
import org.slf4j.LoggerFactory;

/**
 * Every route of a node's operator HTTP, Akka Management's included, over real HTTP on loopback:
 * who gets in with which token, and migratectl's side of it. One node (host and coordinator) whose
 * tokens file does not exist yet, as on a first start.
 */
class OperatorAuthTest {
  @TempDir static Path dir;
  static LivemigNode node;
  static String base;
  static String operator;
  static String readOnly;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static HttpClient http; // trusts the node's development CA, made at its start

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @BeforeAll
  static void up() throws Exception {
    var httpLogger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("org.livemig.config.http");
    httpLogger.setLevel(Level.DEBUG);
    logs.start();
    httpLogger.addAppender(logs);
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1";
    node = LivemigNode.start(LivemigNode.localConfig("host-t", List.of("host", "coordinator"), journal, Map.of(
        "livemig.http.port", freePort(), "livemig.http.auth.tokens-file", dir.resolve("keys/operator-tokens").toString(),
        "livemig.security.key-dir", dir.resolve("pki").toString())));
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
        .sslContext(org.livemig.engine.security.TlsCredentials.trusting(dir.resolve("pki/ca.crt"))).build();
    node.join(node.address());
    ClusterWait.upMembers(node.system(), 1, Duration.ofSeconds(30));
    base = node.httpUri();
    var creds = OperatorTokensTest.credentials(dir.resolve("keys/operator-credentials"));
    operator = creds.get(0)[1];
    readOnly = creds.get(1)[1];
  }

  @AfterAll
  static void down() {
    if (node != null) node.close();
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("org.livemig.config.http")).detachAppender(logs);
  }

  static HttpResponse<String> send(String method, String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) b.header("Authorization", "Bearer " + token);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static void assertStatus(int expected, HttpResponse<String> r) {
    assertEquals(expected, r.statusCode(), r.request().method() + " " + r.request().uri() + " -> " + r.body());
  }

  @Test
  void theFirstStartWroteHashesOnlyAndNamedTheFileInTheLog() throws Exception {
    String stored = Files.readString(dir.resolve("keys/operator-tokens"));
    assertFalse(stored.contains(operator) || stored.contains(readOnly), "no plaintext token on disk: " + stored);
    assertTrue(stored.contains(OperatorTokens.hex(operator)) && stored.contains(OperatorTokens.hex(readOnly)), stored);
    assertTrue(logs.list.stream().anyMatch(e -> e.getLevel() == Level.WARN
        && e.getFormattedMessage().contains(dir.resolve("keys/operator-credentials").toString())),
        "the log says where the credentials are");
  }

  @Test
  void everyRoleReadsAndOnlyTheOperatorChanges() throws Exception {
    for (String token : List.of(readOnly, operator)) {
      assertStatus(200, send("GET", "/migrations", token));
      assertStatus(200, send("GET", "/hosts", token));
      assertStatus(200, send("GET", "/guests", token));
      assertStatus(200, send("GET", "/metrics", token)); // what Prometheus' credentials_file holds
    }
    assertStatus(403, send("POST", "/metrics", readOnly));
    var refused = send("POST", "/migrations/no-such-id/cancel", readOnly);
    assertStatus(403, refused);
    assertTrue(refused.body().contains("\"error\":\"FORBIDDEN\"") && refused.body().contains("needs operator"),
        refused.body());
    assertStatus(404, send("POST", "/migrations/no-such-id/cancel", operator)); // past auth: the route answers
    assertStatus(403, send("POST", "/migrations/no-such-id/recover", readOnly));
    assertStatus(403, send("PUT", "/migrations/no-such-id/parameters", readOnly));
    assertStatus(403, send("POST", "/migrations", readOnly));
    assertStatus(400, send("POST", "/migrations", operator)); // an empty body reaches the route
    assertStatus(403, send("POST", "/guests", readOnly));
    assertStatus(403, send("GET", "/guests/some-guest/verify", readOnly)); // it pauses the guest
    assertStatus(404, send("GET", "/guests/some-guest/verify", operator));
  }

  @Test
  void withoutAValidTokenNothingIsAnswered() throws Exception {
    for (String path : List.of("/migrations", "/hosts", "/cluster/members", "/alive", "/metrics")) {
      var none = send("GET", path, null);
      assertStatus(401, none);
      assertEquals("Bearer realm=\"livemig\"", none.headers().firstValue("WWW-Authenticate").orElse(null), path);
      var wrong = send("GET", path, operator + "x");
      assertStatus(401, wrong);
      String challenge = wrong.headers().firstValue("WWW-Authenticate").orElse("");
      assertTrue(challenge.matches("Bearer realm=\"livemig\", ?error=\"?invalid_token\"?"), challenge);
    }
    assertStatus(401, send("POST", "/migrations/no-such-id/cancel", null));
    var basic = HttpRequest.newBuilder(URI.create(base + "/migrations")).header("Authorization", "Basic "
        + java.util.Base64.getEncoder().encodeToString(("operator:" + operator).getBytes(StandardCharsets.UTF_8))).build();
    assertStatus(401, http.send(basic, HttpResponse.BodyHandlers.ofString()));
    assertStatus(401, send("GET", "/migrations", OperatorTokens.hex(operator))); // the stored hash is no token
  }

  @Test
  void akkaManagementsClusterRoutesNeedTheOperator() throws Exception {
    String self = URLEncoder.encode(node.address().toString(), StandardCharsets.UTF_8);
    assertStatus(403, send("GET", "/cluster/members", readOnly));
    var members = send("GET", "/cluster/members", operator);
    assertStatus(200, members);
    assertTrue(members.body().contains(node.address().toString()), members.body());
    assertStatus(401, send("DELETE", "/cluster/members/" + self, null));
    assertStatus(403, send("DELETE", "/cluster/members/" + self, readOnly));
    assertStatus(403, send("PUT", "/cluster/members/" + self + "?operation=Down", readOnly));
    assertStatus(403, send("GET", "/cluster/shards/any", readOnly));
    // The operator reaches the route: a member that does not exist is Akka Management's 404.
    String stranger = URLEncoder.encode("akka://livemig@127.0.0.1:1", StandardCharsets.UTF_8);
    assertStatus(404, send("DELETE", "/cluster/members/" + stranger, operator));
    assertStatus(404, send("PUT", "/cluster/members/" + stranger + "?operation=Down", operator));
    var stillUp = send("GET", "/cluster/members/" + self, operator);
    assertStatus(200, stillUp);
    assertTrue(stillUp.body().contains("\"status\":\"Up\""), "refused requests changed nothing: " + stillUp.body());
  }

  record Run(int exit, String out, String err) {}

  static Run ctl(Map<String, String> env, Path defaultCredentials, String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    String[] all = new String[args.length + 4];
    all[0] = "--url";
    all[1] = base;
    all[2] = "--ca-file";
    all[3] = dir.resolve("pki/ca.crt").toString();
    System.arraycopy(args, 0, all, 4, args.length);
    int exit = Migratectl.run(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), env, defaultCredentials, all);
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void migratectlFindsItsTokenAndSaysWhenItHasNone() throws Exception {
    Path nowhere = dir.resolve("no-such-credentials");
    Run viaEnv = ctl(Map.of("LIVEMIG_TOKEN", operator), nowhere, "list");
    assertEquals(Migratectl.EXIT_OK, viaEnv.exit(), viaEnv.err());
    assertTrue(viaEnv.out().startsWith("ID "), viaEnv.out());

    Path roFile = Files.writeString(dir.resolve("read-only.token"), readOnly + "\n");
    assertEquals(Migratectl.EXIT_OK, ctl(Map.of(), nowhere, "--token-file", roFile.toString(), "hosts").exit());
    Run forbidden = ctl(Map.of(), nowhere, "--token-file", roFile.toString(), "cancel", "no-such-id");
    assertEquals(Migratectl.EXIT_AUTH, forbidden.exit(), forbidden.err());
    assertEquals(1, forbidden.err().lines().count(), forbidden.err());
    assertTrue(forbidden.err().startsWith("migratectl: forbidden: token 'read-only-1' has the read-only role"),
        forbidden.err());
    // --token-file wins over the environment; the node's credentials file works as written (its first line).
    assertEquals(Migratectl.EXIT_AUTH, ctl(Map.of("LIVEMIG_TOKEN", operator), nowhere, "--token-file",
        roFile.toString(), "cancel", "no-such-id").exit());
    Path written = dir.resolve("keys/operator-credentials");
    assertEquals(Migratectl.EXIT_NOT_FOUND, ctl(Map.of(), written, "cancel", "no-such-id").exit(),
        "by default the operator token of the node's credentials file");

    Run none = ctl(Map.of(), nowhere, "list");
    assertEquals(Migratectl.EXIT_AUTH, none.exit(), none.err());
    assertEquals(1, none.err().lines().count(), none.err());
    assertTrue(none.err().contains("needs a token; give --token-file FILE or set LIVEMIG_TOKEN"), none.err());
    Run wrong = ctl(Map.of("LIVEMIG_TOKEN", "not-a-token"), nowhere, "list");
    assertEquals(Migratectl.EXIT_AUTH, wrong.exit());
    assertTrue(wrong.err().contains("the token from $LIVEMIG_TOKEN is not valid"), wrong.err());
    assertFalse(wrong.err().contains("not-a-token"), "the token is not printed: " + wrong.err());
    Run missingFile = ctl(Map.of(), nowhere, "--token-file", dir.resolve("nope").toString(), "list");
    assertEquals(Migratectl.EXIT_USAGE, missingFile.exit());
    assertTrue(missingFile.err().contains("cannot read token file"), missingFile.err());
    Run hashes = ctl(Map.of(), nowhere, "--token-file", dir.resolve("keys/operator-tokens").toString(), "list");
    assertEquals(Migratectl.EXIT_USAGE, hashes.exit());
    assertTrue(hashes.err().contains("use operator-credentials"), hashes.err());
  }

  @Test
  void noTokenEverReachesTheLog() throws Exception {
    assertStatus(200, send("GET", "/migrations", readOnly));
    assertStatus(404, send("POST", "/migrations/logged-id/cancel", operator));
    assertStatus(401, send("GET", "/migrations", "guessed-token"));
    assertTrue(logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains("POST /migrations/logged-id/cancel by "
        + "'operator-1' (operator)")), "a change is logged with the token's name");
    for (ILoggingEvent e : logs.list) {
      String line = e.getFormattedMessage() + " " + e.getMDCPropertyMap();
      for (String secret : List.of(operator, readOnly, "guessed-token")) assertFalse(line.contains(secret), line);
    }
  }

  /** Requests until the answer is expected (the file is looked at no more than once a second). */
  static void awaitStatus(int expected, String method, String path, String token) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    HttpResponse<String> r = send(method, path, token);
    while (r.statusCode() != expected && System.nanoTime() < deadline) {
      Thread.sleep(100); // the condition is the server's answer; nothing to be told of
      r = send(method, path, token);
    }
    assertStatus(expected, r);
  }

  @Test
  void tokensAddedToOrRemovedFromTheFileCountWithoutARestartAndABrokenFileLetsNobodyIn() throws Exception {
    Path file = dir.resolve("keys/operator-tokens");
    String before = Files.readString(file);
    String carol = OperatorTokens.newToken();
    try {
      assertStatus(401, send("GET", "/migrations", carol));
      Files.writeString(file, before + OperatorTokens.line(OperatorTokens.Role.READ_ONLY, carol, "carol") + "\n");
      awaitStatus(200, "GET", "/migrations", carol);
      assertStatus(403, send("POST", "/migrations/x/cancel", carol)); // with the role its line gives
      Files.writeString(file, before + "operator nothex carol\n"); // broken: nobody gets in until it is fixed
      awaitStatus(401, "GET", "/migrations", readOnly);
      assertTrue(brokenFileLogged(), "a broken file is named in the log");
      assertStatus(401, send("GET", "/migrations", carol));
      Files.writeString(file, before + OperatorTokens.line(OperatorTokens.Role.READ_ONLY, carol, "carol") + "\n");
      awaitStatus(200, "GET", "/migrations", carol);
      Files.delete(file); // gone: no token either
      awaitStatus(401, "GET", "/migrations", carol);
      Files.writeString(file, before); // back, without carol's line: revoked
      awaitStatus(200, "GET", "/migrations", readOnly);
      assertStatus(401, send("GET", "/migrations", carol));
    } finally {
      Files.writeString(file, before);
    }
  }

  private static boolean brokenFileLogged() {
    return logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains("the changed operator tokens file does not "
        + "load") && e.getFormattedMessage().contains("line 4"));
  }

  @Test
  void aRotatedCertificateIsServedFromTheNextConnection() throws Exception {
    Path pki = dir.resolve("pki");
    java.math.BigInteger old = served();
    assertEquals(old, fileSerial(pki));
    Files.delete(org.livemig.engine.security.DevPki.certFile(pki, "host-t"));
    Files.delete(org.livemig.engine.security.DevPki.keyFile(pki, "host-t"));
    org.livemig.engine.security.DevPki.ensure(pki, "host-t"); // a new key and certificate from the same CA
    java.math.BigInteger rotated = fileSerial(pki);
    assertNotEquals(old, rotated);
    assertEquals(rotated, served(), "a new connection is served the new certificate, without a restart");
  }

  /** The serial of the certificate the server presents to a new connection. */
  private static java.math.BigInteger served() throws Exception {
    HttpClient fresh = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
        .sslContext(org.livemig.engine.security.TlsCredentials.trusting(dir.resolve("pki/ca.crt"))).build();
    HttpResponse<String> r = fresh.send(HttpRequest.newBuilder(URI.create(base + "/alive")).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + readOnly).build(), HttpResponse.BodyHandlers.ofString());
    assertStatus(200, r);
    return ((java.security.cert.X509Certificate) r.sslSession().orElseThrow().getPeerCertificates()[0]).getSerialNumber();
  }

  private static java.math.BigInteger fileSerial(Path pki) throws Exception {
    try (var in = Files.newInputStream(org.livemig.engine.security.DevPki.certFile(pki, "host-t"))) {
      return ((java.security.cert.X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
          .generateCertificate(in)).getSerialNumber();
    }
  }
}
