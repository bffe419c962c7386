package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.http.Json;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationList;
import org.livemig.messages.MigrationStatus;

/** The operator HTTP API with real HTTP requests against a two-host cluster. */
class OperatorHttpTest {
  @TempDir static Path dir;
  static TestCluster cluster;
  static String base;
  static String token;
  static HttpClient http;

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @BeforeAll
  static void up() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of("livemig.http.port", freePort()), "host-b", Map.of()));
    base = cluster.hosts.get("host-a").httpUri();
    assertNotNull(base, "host-a serves HTTP");
    token = OperatorCredentials.operator(dir);
    http = OperatorCredentials.https(Duration.ofSeconds(5));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  static HttpResponse<String> send(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(40))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + token);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static void assertStatus(int expected, HttpResponse<String> r) {
    assertEquals(expected, r.statusCode(), r.request().method() + " " + r.request().uri() + " -> " + r.body());
  }

  static String guestJson(String id, long mib) {
    return "{\"guest_id\":\"" + id + "\",\"page_size\":4096,\"page_count\":" + (mib * 256)
        + ",\"seed\":7,\"dirty_pages_per_second\":2000,\"hot_pages\":1024,\"hot_per_mille\":800,"
        + "\"initial_fill\":\"FILL_PATTERN\"}";
  }

  @Test
  void badRequestsAreRefusedWithAReasonAndChangeNothing() throws Exception {
    var bad = send("POST", "/migrations", "{not json");
    assertStatus(400, bad);
    assertTrue(bad.body().contains("INVALID_REQUEST"), bad.body());
    assertStatus(400, send("POST", "/migrations", "{\"guest\":\"g\"}")); // unknown field
    var empty = send("POST", "/migrations", "{\"source_host\":\"host-a\",\"destination_host\":\"host-b\"}");
    assertStatus(400, empty);
    assertTrue(empty.body().contains("\"field\":\"guest_id\""), empty.body());
    assertStatus(400, send("POST", "/guests", "{\"guest_id\":\"\"}"));
    var list = Json.parse(send("GET", "/migrations", null).body(), MigrationList.newBuilder()).build();
    assertEquals(0, list.getMigrationsCount(), "nothing was started: " + list);
  }

  @Test
  void theListPagesAndRefusesBadLimitsAndTokens() throws Exception {
    for (String q : List.of("limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=99999999999")) {
      var r = send("GET", "/migrations?" + q, null);
      assertStatus(400, r);
      assertTrue(r.body().contains("\"field\":\"limit\""), q + " -> " + r.body());
    }
    for (String q : List.of("after=nonsense", "after=djE6eDpt", "after=%25%25")) {
      var r = send("GET", "/migrations?limit=2&" + q, null);
      assertStatus(400, r);
      assertTrue(r.body().contains("\"field\":\"after\"") && r.body().contains("page token"), q + " -> " + r.body());
    }
    var all = Json.parse(send("GET", "/migrations", null).body(), MigrationList.newBuilder()).build();
    assertEquals("", all.getNextPageToken(), "one page holds them all");
    List<String> paged = new java.util.ArrayList<>();
    String after = "";
    do {
      var page = Json.parse(send("GET", "/migrations?limit=1&after=" + after, null).body(), MigrationList.newBuilder())
          .build();
      page.getMigrationsList().forEach(m -> paged.add(m.getMigrationId()));
      after = page.getNextPageToken();
    } while (!after.isEmpty());
    assertEquals(all.getMigrationsList().stream().map(MigrationInfo::getMigrationId).toList(), paged);
  }

  /** Ids that would name actors, paths or log lines badly; none may change anything or stop a host. */
  static final List<String> MALFORMED_IDS = List.of("a b/c", "../etc", "x/y", "$system", "a%2Fb", "\u00fcn\u00efcode",
      "tab\tid", "new\nline", "quote\"d", "-leading", ".", "#frag", "a?b=c", "%", "semi;colon", "a:b", "star*",
      "x".repeat(129), "\u0000nul");

  @Test
  void malformedIdsAreRefusedAndEveryHostStaysRegistered() throws Exception {
    for (String bad : MALFORMED_IDS) {
      String quoted = Json.quote(bad);
      for (String field : List.of("migration_id", "guest_id", "source_host", "destination_host")) {
        Map<String, String> fields = new java.util.LinkedHashMap<>(Map.of("migration_id", "\"ok-id\"",
            "guest_id", "\"ok-guest\"", "source_host", "\"host-a\"", "destination_host", "\"host-b\""));
        fields.put(field, quoted);
        String body = "{" + String.join(",", fields.entrySet().stream().map(e -> "\"" + e.getKey() + "\":"
            + e.getValue()).toList()) + "}";
        var r = send("POST", "/migrations", body);
        assertStatus(400, r);
        assertTrue(r.body().contains("\"field\":\"" + field + "\""), field + " " + bad + " -> " + r.body());
      }
      String path = java.net.URLEncoder.encode(bad, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
      if (!path.equals(".") && !path.equals("..")) {
        assertStatus(400, send("GET", "/migrations/" + path, null));
        assertStatus(400, send("POST", "/migrations/" + path + "/cancel", null));
      }
      var guest = send("POST", "/guests", guestJson("placeholder", 1).replace("\"placeholder\"", quoted));
      assertStatus(400, guest);
      assertTrue(guest.body().contains("\"field\":\"guest_id\""), guest.body());
    }
    // The same ids sent straight to the host agents as cluster messages (no client, no HTTP).
    for (var host : cluster.hosts.values()) {
      var probe = akka.actor.testkit.typed.javadsl.TestProbe.<org.livemig.engine.host.HostAgent.Reply>create(
          host.system());
      for (String bad : MALFORMED_IDS) {
        host.hostAgent().tell(new org.livemig.engine.host.HostAgent.Control(org.livemig.messages.HostCommand
            .newBuilder().setMigrationId(bad).setEpoch(1).setStep(2).setPrepare(org.livemig.messages.PrepareRequest
                .newBuilder().setBegin(org.livemig.messages.BeginCookie.newBuilder().setGuest(
                    org.livemig.messages.GuestDescription.newBuilder().setGuestId(bad).setPageSize(4096)
                        .setPageCount(16)))).build(), probe.ref()));
        var answer = ((org.livemig.engine.host.HostAgent.Answered) probe.receiveMessage(Duration.ofSeconds(10)))
            .reply();
        assertFalse(answer.getOk(), bad);
        assertEquals(org.livemig.messages.ErrorKind.ERROR_INVALID_REQUEST, answer.getErrorKind(), answer.getError());
      }
    }
    var hosts = send("GET", "/hosts", null);
    assertStatus(200, hosts);
    for (String h : List.of("host-a", "host-b")) {
      assertTrue(hosts.body().contains("\"host_id\":\"" + h + "\""), "host " + h + " stays registered: " + hosts.body());
    }
    var list = Json.parse(send("GET", "/migrations", null).body(), MigrationList.newBuilder()).build();
    assertTrue(list.getMigrationsList().stream().noneMatch(m -> m.getMigrationId().equals("ok-id")),
        "nothing was started: " + list);
  }

  @Test
  void aGuestIsVerifiedAgainstItsOracleFromOutside() throws Exception {
    assertStatus(201, send("POST", "/guests", guestJson("verify-me", 4)));
    var ok = send("GET", "/guests/verify-me/verify", null);
    assertStatus(200, ok);
    var v = Json.parse(ok.body(), org.livemig.messages.GuestVerification.newBuilder()).build();
    assertTrue(v.getVerified(), ok.body());
    assertEquals(1024, v.getPagesChecked());
    assertEquals("host-a", v.getHost());
    assertEquals("RUNNING", v.getState(), "a running guest runs again after the check");
    var cli = new java.io.ByteArrayOutputStream();
    assertEquals(0, org.livemig.config.cli.Migratectl.run(new java.io.PrintStream(cli, true), System.err,
        Map.of("LIVEMIG_TOKEN", token), dir.resolve("none"), "--url", base, "verify", "verify-me"));
    assertTrue(cli.toString().contains("verified"), cli.toString());

    // A page changed behind the workload's back: the check says which.
    var guest = cluster.guestOn("host-a", "verify-me").orElseThrow();
    guest.pause().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    long page = 7;
    byte[] garbage = new byte[4096];
    java.util.Arrays.fill(garbage, (byte) 0x5a);
    guest.memory().writePage(page, garbage);
    var bad = Json.parse(send("GET", "/guests/verify-me/verify", null).body(),
        org.livemig.messages.GuestVerification.newBuilder()).build();
    assertFalse(bad.getVerified(), bad.toString());
    assertEquals(1, bad.getMismatches());
    assertEquals(List.of(page), bad.getFirstMismatchesList());
    assertEquals("PAUSED", bad.getState(), "a paused guest stays paused");
    assertEquals(9, org.livemig.config.cli.Migratectl.run(new java.io.PrintStream(new java.io.ByteArrayOutputStream()),
        System.err, Map.of("LIVEMIG_TOKEN", token), dir.resolve("none"), "--url", base, "verify", "verify-me"));

    assertStatus(404, send("GET", "/guests/nobody/verify", null));
    assertStatus(400, send("GET", "/guests/a%20b/verify", null));
  }

  @Test
  void unknownIdsAreNotFound() throws Exception {
    assertStatus(404, send("GET", "/migrations/no-such-id", null));
    assertStatus(404, send("POST", "/migrations/no-such-id/cancel", null));
    assertStatus(404, send("PUT", "/migrations/no-such-id/parameters", "{\"downtime_limit_ms\":100}"));
    assertStatus(404, send("POST", "/migrations/no-such-id/postcopy", null));
    assertStatus(404, send("POST", "/migrations/no-such-id/recover", null));
    var noGuest = send("POST", "/migrations", "{\"migration_id\":\"h-no-guest\",\"guest_id\":\"nobody\","
        + "\"source_host\":\"host-a\",\"destination_host\":\"host-b\"}");
    assertStatus(404, noGuest);
    assertTrue(noGuest.body().contains("UNKNOWN_GUEST"), noGuest.body());
    assertStatus(503, send("GET", "/hosts/host-z", null));
  }

  @Test
  void startListStatusConflictAndCancel() throws Exception {
    assertStatus(201, send("POST", "/guests", guestJson("http-guest", 32)));
    assertStatus(409, send("POST", "/guests", guestJson("http-guest", 32)));
    var guests = send("GET", "/guests", null);
    assertStatus(200, guests);
    assertTrue(guests.body().contains("\"guest_id\":\"http-guest\",\"state\":\"RUNNING\""), guests.body());

    String start = "{\"migration_id\":\"h-1\",\"guest_id\":\"http-guest\",\"source_host\":\"host-a\","
        + "\"destination_host\":\"host-b\",\"parameters\":{\"max_bandwidth_bytes_per_second\":4000000}}";
    var created = send("POST", "/migrations", start);
    assertStatus(201, created);
    MigrationInfo info = Json.parse(created.body(), MigrationInfo.newBuilder()).build();
    assertEquals("h-1", info.getMigrationId());
    assertEquals("host-b", info.getDestinationHost());

    var conflict = send("POST", "/migrations", start.replace("h-1", "h-2"));
    assertStatus(409, conflict);
    assertTrue(conflict.body().contains("already migrating"), conflict.body());
    assertStatus(409, send("POST", "/migrations", start.replace("http-guest", "other")));

    var status = send("GET", "/migrations/h-1", null);
    assertStatus(200, status);
    assertEquals("h-1", Json.parse(status.body(), MigrationInfo.newBuilder()).getMigrationId());
    cluster.awaitListed("h-1", m -> true, Duration.ofSeconds(10)); // the list follows a moment after the journal
    var list = Json.parse(send("GET", "/migrations", null).body(), MigrationList.newBuilder()).build();
    assertTrue(list.getMigrationsList().stream().anyMatch(m -> m.getMigrationId().equals("h-1")), list.toString());

    assertStatus(400, send("PUT", "/migrations/h-1/parameters", "[1,2"));
    var changed = send("PUT", "/migrations/h-1/parameters", "{\"downtime_limit_ms\":100}");
    assertStatus(200, changed);
    assertEquals(100, Json.parse(changed.body(), MigrationInfo.newBuilder()).getParameters().getDowntimeLimitMs());
    assertStatus(404, send("PUT", "/migrations/no-such-id/parameters", "{\"downtime_limit_ms\":100}"));

    var notPaused = send("POST", "/migrations/h-1/recover", null);
    assertStatus(409, notPaused);
    assertTrue(notPaused.body().contains("only a paused postcopy"), notPaused.body());
    assertStatus(400, send("POST", "/migrations/h-1/recover?data_host=127.0.0.1&data_port=many", null));
    assertStatus(400, send("POST", "/migrations/h-1/recover?data_host=127.0.0.1", null)); // host without port

    assertStatus(200, send("POST", "/migrations/h-1/cancel?reason=http%20test", null));
    MigrationInfo done = cluster.awaitEnd("h-1", Duration.ofSeconds(30));
    assertEquals(MigrationStatus.CANCELLED, done.getStatus());
    assertTrue(done.getError().contains("http test"), done.getError());
    assertStatus(409, send("POST", "/migrations/h-1/cancel", null));
    assertStatus(409, send("POST", "/migrations/h-1/postcopy", null));
  }

  @Test
  void postcopyOnRequest() throws Exception {
    assertStatus(201, send("POST", "/guests", guestJson("http-pc", 16)));
    var created = send("POST", "/migrations", "{\"migration_id\":\"h-pc\",\"guest_id\":\"http-pc\","
        + "\"source_host\":\"host-a\",\"destination_host\":\"host-b\",\"parameters\":"
        + "{\"max_bandwidth_bytes_per_second\":8000000,\"downtime_limit_ms\":1}}");
    assertStatus(201, created);
    var asked = send("POST", "/migrations/h-pc/postcopy", null);
    assertStatus(200, asked);
    assertTrue(Json.parse(asked.body(), MigrationInfo.newBuilder()).getParameters().getPostcopyNow(), asked.body());
    MigrationInfo done = cluster.awaitEnd("h-pc", Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertTrue(done.getPostcopy());
    assertEquals(0, done.getPostcopyResult().getDuplicatePages());
  }

  @Test
  void hostsAndClusterRoutes() throws Exception {
    var hosts = send("GET", "/hosts", null);
    assertStatus(200, hosts);
    assertTrue(hosts.body().contains("\"local_host\":\"host-a\""), hosts.body());
    assertTrue(hosts.body().contains("\"coordinator\""), hosts.body());
    assertTrue(hosts.body().contains("\"host_id\":\"host-a\"") && hosts.body().contains("\"host_id\":\"host-b\""),
        "every host is listed, not only the one serving: " + hosts.body());
    cluster.createGuest("host-b", TestCluster.guest("far-guest", 4, 100));
    // One guest id names one guest in the cluster: host-a's HTTP refuses to create host-b's guest.
    var twin = send("POST", "/guests", guestJson("far-guest", 4));
    assertStatus(409, twin);
    assertTrue(twin.body().contains("already exists on host host-b"), twin.body());
    var guests = send("GET", "/guests", null);
    assertStatus(200, guests);
    assertTrue(guests.body().contains("\"guest_id\":\"far-guest\",\"state\":\"RUNNING\",\"host\":\"host-b\""),
        "host-a's endpoint shows host-b's guest: " + guests.body());
    var b = send("GET", "/hosts/host-b", null);
    assertStatus(200, b);
    assertTrue(b.body().contains("\"host\":\"host-b\""), b.body());
    assertStatus(200, send("GET", "/cluster/members", null));
  }
}
