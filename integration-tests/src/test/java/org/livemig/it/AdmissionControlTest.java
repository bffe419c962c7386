package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * With one outbound migration per host, three migrations from host-a run one at a time: the
 * later ones wait QUEUED, a queued one can be cancelled without any host hearing of it, and the
 * next one starts when the first ends. Then a queued migration's coordinator node crashes (with
 * it, maybe the admission singleton): its next incarnation asks again and it runs once, in turn.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AdmissionControlTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = TestCluster.withCoordinators(dir, 2, Map.of("livemig.admission.max-outbound-per-host", 1),
        Map.of("host-a", Map.of(), "host-b", Map.of()));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  private static String start(GuestDescription d, String destination, long bandwidth) throws Exception {
    return cluster.client.start(d.getGuestId(), "host-a", destination, MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(bandwidth).build()).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
  }

  private static MigrationInfo status(String id) throws Exception {
    return cluster.client.status(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  @Order(1)
  void migrationsBeyondTheHostsLimitQueueAndStartInTurn() throws Exception {
    GuestDescription first = TestCluster.guest("vm-first", 16, 200);
    GuestDescription second = TestCluster.guest("vm-second", 8, 200);
    GuestDescription third = TestCluster.guest("vm-third", 8, 200);
    for (GuestDescription d : new GuestDescription[] {first, second, third}) cluster.createGuest("host-a", d);

    // Slow (8 MB/s for 16 MiB): still copying while the others are asked for.
    String m1 = start(first, "host-b", 8_000_000);
    cluster.awaitStatus(m1, i -> i.getPhase() == Phase.PERFORM, Duration.ofSeconds(20));
    String m2 = start(second, "host-b", 8_000_000); // host-b's inbound slots (2) are not the limit
    String m3 = start(third, "host-b", 8_000_000);

    assertEquals(MigrationStatus.ACTIVE, status(m1).getStatus());
    assertEquals(MigrationStatus.QUEUED, status(m2).getStatus(), "host-a's one outbound slot is taken");
    assertEquals(MigrationStatus.QUEUED, status(m3).getStatus());

    MigrationInfo cancelled = cluster.client.cancel(m3, "not now").toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(MigrationStatus.CANCELLED, cancelled.getStatus(), "nothing to roll back: it ends at once");
    assertTrue(cancelled.getError().contains("cancelled while queued"), cancelled.getError());

    MigrationInfo done1 = cluster.awaitEnd(m1, Duration.ofSeconds(30));
    assertEquals(MigrationStatus.COMPLETED, done1.getStatus(), done1.getError());
    MigrationInfo done2 = cluster.awaitEnd(m2, Duration.ofSeconds(30));
    assertEquals(MigrationStatus.COMPLETED, done2.getStatus(), done2.getError());
    assertTrue(done2.getStartedAtEpochMs() > 0);
    assertEquals(MigrationStatus.CANCELLED, status(m3).getStatus(), "the cancelled one never started");

    cluster.assertExactlyOneRunningOn("host-b", first);
    cluster.assertExactlyOneRunningOn("host-b", second);
    cluster.assertExactlyOneRunningOn("host-a", third);
    assertFalse(cluster.cleanupRuns("host-a").containsKey(m3), "the source never heard of the cancelled one");
    assertFalse(cluster.cleanupRuns("host-b").containsKey(m3), "nor its destination");
    assertTrue(cluster.guestOn("host-b", third.getGuestId()).isEmpty(), "nothing was created on the destination");
  }

  @Test
  @Order(2)
  void aQueuedMigrationOutlivesTheCrashOfItsCoordinatorsNode() throws Exception {
    GuestDescription running = TestCluster.guest("vm-running", 16, 200);
    GuestDescription waiting = TestCluster.guest("vm-waiting", 8, 200);
    for (GuestDescription d : new GuestDescription[] {running, waiting}) cluster.createGuest("host-a", d);

    // 16 MiB at 2 MB/s: host-a's slot stays taken past the crash and the takeover.
    String m1 = start(running, "host-b", 2_000_000);
    cluster.awaitStatus(m1, i -> i.getPhase() == Phase.PERFORM, Duration.ofSeconds(20));
    String m2 = start(waiting, "host-b", 0);
    assertEquals(MigrationStatus.QUEUED, status(m2).getStatus());
    cluster.awaitListed(m2, i -> i.getStatus() == MigrationStatus.QUEUED, Duration.ofSeconds(10));

    cluster.crash(cluster.coordinatorOf(m2).orElseThrow());

    MigrationInfo done1 = cluster.awaitEnd(m1, Duration.ofSeconds(90));
    assertEquals(MigrationStatus.COMPLETED, done1.getStatus(), done1.getError());
    MigrationInfo done2 = cluster.awaitEnd(m2, Duration.ofSeconds(90));
    assertEquals(MigrationStatus.COMPLETED, done2.getStatus(), done2.getError());
    assertTrue(done2.getStartedAtEpochMs() >= done1.getStartedAtEpochMs(), "in turn");
    cluster.assertExactlyOneRunningOn("host-b", running);
    cluster.assertExactlyOneRunningOn("host-b", waiting);
    assertEquals(1, cluster.cleanupRuns("host-a").get(m2), "the queued one ran once: one cleanup on its source");
    assertEquals(1, cluster.cleanupRuns("host-b").get(m2), "and one on its destination");
    // The list, written after the crash by the incarnation on the surviving node, shows the end.
    MigrationInfo listed = cluster.awaitListed(m2, i -> i.getStatus() == MigrationStatus.COMPLETED,
        Duration.ofSeconds(10));
    assertEquals(done2.getEndedAtEpochMs(), listed.getEndedAtEpochMs());
    cluster.awaitListed(m1, i -> i.getStatus() == MigrationStatus.COMPLETED, Duration.ofSeconds(10));
  }
}
