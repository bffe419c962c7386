package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.it.PrometheusText.Sample;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * GET /metrics over HTTPS as Prometheus scrapes it (the read-only token), on a cluster whose every
 * node serves it: the coordinator node shows the migrations it coordinates, each host node its host.
 */
class MetricsTest {
  @TempDir static Path dir;
  static TestCluster cluster;
  static String coordinator;
  static String hostA;
  static String hostB;
  static String token;
  static HttpClient http;

  @BeforeAll
  static void up() throws Exception {
    cluster = new TestCluster(dir, Map.of("livemig.http.port", OperatorHttpTest.freePort()), Map.of(
        "host-a", Map.of("livemig.http.port", OperatorHttpTest.freePort()),
        "host-b", Map.of("livemig.http.port", OperatorHttpTest.freePort())));
    coordinator = cluster.manager.httpUri();
    hostA = cluster.hosts.get("host-a").httpUri();
    hostB = cluster.hosts.get("host-b").httpUri();
    token = OperatorCredentials.readOnly(dir);
    http = OperatorCredentials.https(Duration.ofSeconds(5));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  static HttpResponse<String> get(String base, String bearer) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/metrics")).timeout(Duration.ofSeconds(20));
    if (bearer != null) b.header("Authorization", "Bearer " + bearer);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** One whole scrape, every line checked. */
  static List<Sample> scrape(String base) throws Exception {
    HttpResponse<String> r = get(base, token);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"), r.headers().toString());
    return PrometheusText.parse(r.body());
  }

  static Optional<Double> value(List<Sample> samples, String name, Map<String, String> labels) {
    return samples.stream().filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet()))
        .map(Sample::value).findFirst();
  }

  /** Scrapes until the samples satisfy p (each scrape parsed whole); the last scrape then. */
  static List<Sample> awaitScrape(String base, Predicate<List<Sample>> p, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    List<Sample> last;
    do {
      last = scrape(base);
      if (p.test(last)) return last;
      Thread.sleep(50); // polling the server: there is nothing to wait on in this JVM but its answer
    } while (System.nanoTime() < deadline);
    throw new AssertionError("never " + what + "; last scrape of " + base + ": " + last);
  }

  @Test
  void aRunningMigrationIsMeasuredWhileItRunsAndCountedOnceWhenItEnds() throws Exception {
    String id = "m-metrics";
    Map<String, String> mine = Map.of("migration_id", id);
    long size = 32L << 20;
    cluster.createGuest("host-a", TestCluster.guest("metrics-guest", 32, 500));
    double completedBefore = value(scrape(coordinator), "livemig_migrations_total", Map.of("outcome", "completed"))
        .orElseThrow(() -> new AssertionError("the outcome counters are there from the start at 0"));

    // Capped at 2 MB/s: the first pass alone takes some 16 s, lifted once the gauges were seen to move.
    cluster.client.startAndAwaitSetup(id, "metrics-guest", "host-a", "host-b", MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(2_000_000).build()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    List<Sample> first = awaitScrape(coordinator, s -> value(s, "livemig_migration_data_processed_bytes", mine)
        .orElse(0.0) > 0, "a processed byte of " + id);
    assertEquals(size, value(first, "livemig_migration_data_total_bytes", mine).orElseThrow());
    double processed = value(first, "livemig_migration_data_processed_bytes", mine).orElseThrow();
    double remaining = value(first, "livemig_migration_data_remaining_bytes", mine).orElseThrow();
    assertTrue(remaining < size && remaining > 0, "remaining " + remaining + " of " + size);
    assertTrue(value(first, "livemig_migration_memory_transfer_rate_bytes_per_second", mine).orElseThrow() >= 0);
    assertEquals(0, value(first, "livemig_migration_throttle_ratio", mine).orElseThrow());
    Sample labelled = first.stream().filter(s -> s.name().equals("livemig_migration_data_total_bytes")
        && id.equals(s.labels().get("migration_id"))).findFirst().orElseThrow();
    assertEquals(Map.of("migration_id", id, "guest_id", "metrics-guest", "source_host", "host-a",
        "destination_host", "host-b"), labelled.labels());
    assertEquals(1, value(first, "livemig_migrations_in_phase", Map.of("phase", "perform")).orElseThrow());
    awaitScrape(coordinator, s -> value(s, "livemig_migration_data_processed_bytes", mine).orElse(0.0) > processed,
        "more bytes processed than " + processed);
    assertEquals(MigrationStatus.ACTIVE, cluster.client.status(id).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getStatus(), "the growth was seen while it still copied");

    // Each host node shows its own host and no migration: only the coordinator's node reports one.
    List<Sample> a = scrape(hostA);
    assertEquals(1, value(a, "livemig_host_guests", Map.of("host", "host-a")).orElseThrow());
    assertEquals(size, value(a, "livemig_host_memory_reserved_bytes", Map.of("host", "host-a")).orElseThrow());
    awaitScrape(hostB, s -> value(s, "livemig_host_data_channels", Map.of("host", "host-b")).orElse(0.0) >= 1,
        "a data channel open on host-b");
    for (String host : List.of(hostA, hostB)) {
      assertTrue(scrape(host).stream().noneMatch(s -> id.equals(s.labels().get("migration_id"))), host);
    }

    cluster.client.setParameters(id, 1_000_000_000L, Duration.ZERO).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    List<Sample> after = awaitScrape(coordinator, s -> value(s, "livemig_migrations_total",
        Map.of("outcome", "completed")).orElse(0.0) > completedBefore, "the completed counter up");
    assertEquals(completedBefore + 1, value(after, "livemig_migrations_total", Map.of("outcome", "completed"))
        .orElseThrow());
    assertTrue(after.stream().noneMatch(s -> id.equals(s.labels().get("migration_id"))),
        "an ended migration's gauges are gone");
    assertTrue(value(after, "livemig_migrations_downtime_seconds_count", Map.of()).orElseThrow() >= 1);
    assertTrue(value(after, "livemig_migrations_duration_seconds_count", Map.of("outcome", "completed"))
        .orElseThrow() >= 1);
    for (String host : List.of(hostA, hostB)) {
      assertEquals(0, value(scrape(host), "livemig_migrations_total", Map.of("outcome", "completed")).orElseThrow(),
          "a host node that coordinated nothing counts nothing: " + host);
    }
    awaitScrape(hostB, s -> value(s, "livemig_host_guests", Map.of("host", "host-b")).orElse(0.0) == 1,
        "the guest on host-b");
    assertTrue(value(after, "jvm_memory_used_bytes", Map.of("area", "heap")).orElseThrow() > 0, "JVM metrics too");
  }

  @Test
  void withoutATokenThereAreNoMetrics() throws Exception {
    HttpResponse<String> none = get(coordinator, null);
    assertEquals(401, none.statusCode(), none.body());
    assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), none.headers().toString());
    assertEquals(401, get(coordinator, "not-a-token").statusCode());
    assertFalse(none.body().contains("livemig_"), none.body());
  }
}
