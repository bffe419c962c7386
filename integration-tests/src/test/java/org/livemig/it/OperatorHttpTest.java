package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
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
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

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
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  static HttpResponse<String> send(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(40))
        .header("Content-Type", "application/json");
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
