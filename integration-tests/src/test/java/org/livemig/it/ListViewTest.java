package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.coordinator.MigrationListView;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationList;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * The migration list the coordinators keep: a migration waiting for an admission slot is listed
 * QUEUED, pages of one or two give every migration once, newest first, and a row left behind
 * (as by a crash between the journal's write and the row's) is caught up when the coordinator
 * recovers, and a missing one (a journal from before the list) by the backfill.
 */
class ListViewTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = TestCluster.withCoordinators(dir, 1, Map.of("livemig.admission.max-outbound-per-host", 1,
        "livemig.coordinator.passivate-after-end", "1s"), Map.of("host-a", Map.of(), "host-b", Map.of()));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  private static String start(String id, GuestDescription d, String from, String to, long bandwidth) throws Exception {
    return cluster.client.start(id, d.getGuestId(), from, to, MigrationParameters.newBuilder()
        .setMaxBandwidthBytesPerSecond(bandwidth).build()).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
  }

  private static MigrationList page(int limit, String after) throws Exception {
    return cluster.client.list(limit, after).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void queuedRunningAndEndedMigrationsArePagedNewestFirstAndCaughtUpAfterRecovery() throws Exception {
    GuestDescription slow = TestCluster.guest("lv-slow", 8, 100);
    GuestDescription small = TestCluster.guest("lv-small", 2, 100);
    cluster.createGuest("host-a", slow);
    cluster.createGuest("host-a", small);

    // 8 MiB at 4 MB/s holds host-a's one outbound slot while the next waits.
    start("lv-1", slow, "host-a", "host-b", 4_000_000);
    cluster.awaitStatus("lv-1", i -> i.getPhase() == Phase.PERFORM, Duration.ofSeconds(20));
    start("lv-2", small, "host-a", "host-b", 0);
    MigrationInfo queued = cluster.awaitListed("lv-2", i -> i.getStatus() == MigrationStatus.QUEUED,
        Duration.ofSeconds(10));
    assertEquals(Phase.PHASE_NONE, queued.getPhase());
    assertEquals("lv-small", queued.getGuestId());
    assertEquals("host-a", queued.getSourceHost());
    assertEquals("host-b", queued.getDestinationHost());
    cluster.awaitListed("lv-1", i -> i.getStatus() == MigrationStatus.ACTIVE, Duration.ofSeconds(10));

    assertEquals(MigrationStatus.COMPLETED, cluster.awaitEnd("lv-1", Duration.ofSeconds(30)).getStatus());
    assertEquals(MigrationStatus.COMPLETED, cluster.awaitEnd("lv-2", Duration.ofSeconds(30)).getStatus());
    start("lv-3", small, "host-b", "host-a", 0);
    assertEquals(MigrationStatus.COMPLETED, cluster.awaitEnd("lv-3", Duration.ofSeconds(30)).getStatus());
    // Refused by the source's host (no such guest there): listed FAILED with the reason.
    start("lv-4", small, "host-b", "host-a", 0);
    MigrationInfo refused = cluster.awaitEnd("lv-4", Duration.ofSeconds(30));
    assertEquals(MigrationStatus.FAILED, refused.getStatus());

    List<String> ids = List.of("lv-1", "lv-2", "lv-3", "lv-4");
    for (String id : ids) {
      MigrationInfo exact = cluster.client.status(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
      MigrationInfo listed = cluster.awaitListed(id, i -> i.getStatus() == exact.getStatus(), Duration.ofSeconds(10));
      assertEquals(exact.getStartedAtEpochMs(), listed.getStartedAtEpochMs(), id);
      assertEquals(exact.getEndedAtEpochMs(), listed.getEndedAtEpochMs(), id);
      assertTrue(listed.getEndedAtEpochMs() >= listed.getStartedAtEpochMs(), id);
      assertEquals(exact.getDowntimeMs(), listed.getDowntimeMs(), id);
      assertEquals(exact.getError(), listed.getError(), id);
      assertEquals(exact.getErrorKind(), listed.getErrorKind(), id);
    }
    assertFalse(refused.getError().isEmpty());

    List<MigrationInfo> all = cluster.client.list().toCompletableFuture().get(10, TimeUnit.SECONDS);
    List<MigrationInfo> newestFirst = new ArrayList<>(all);
    newestFirst.sort(Comparator.comparingLong(MigrationInfo::getStartedAtEpochMs).reversed());
    assertEquals(newestFirst.stream().map(MigrationInfo::getStartedAtEpochMs).toList(),
        all.stream().map(MigrationInfo::getStartedAtEpochMs).toList(), "newest first");
    assertEquals(List.of("lv-4", "lv-3", "lv-2", "lv-1"), all.stream().map(MigrationInfo::getMigrationId).toList());
    for (int limit : new int[] {1, 2}) {
      List<String> paged = new ArrayList<>();
      String after = "";
      int pages = 0;
      do {
        MigrationList p = page(limit, after);
        assertTrue(p.getMigrationsCount() <= limit);
        p.getMigrationsList().forEach(i -> paged.add(i.getMigrationId()));
        after = p.getNextPageToken();
        pages++;
      } while (!after.isEmpty());
      assertEquals(List.of("lv-4", "lv-3", "lv-2", "lv-1"), paged, "every migration once, pages of " + limit);
      assertEquals(4 / limit, pages);
      assertEquals(4, new HashSet<>(paged).size());
    }

    // A crash after lv-3's end was journalled but before its row was written leaves an older
    // row: the next incarnation writes the row again as it recovers.
    try (Connection c = DriverManager.getConnection(cluster.journal, "sa", "")) {
      assertEquals(1, c.createStatement().executeUpdate("UPDATE livemig_migrations SET status = 'ACTIVE', "
          + "phase = 'PERFORM', ended_at_ms = 0, seq_nr = 1 WHERE migration_id = 'lv-3'"));
    }
    cluster.awaitListed("lv-3", i -> i.getStatus() == MigrationStatus.ACTIVE, Duration.ofSeconds(5));
    awaitPassivated("lv-3");
    cluster.client.status("lv-3").toCompletableFuture().get(10, TimeUnit.SECONDS); // wakes it: it replays
    MigrationInfo caughtUp = cluster.awaitListed("lv-3", i -> i.getStatus() == MigrationStatus.COMPLETED,
        Duration.ofSeconds(10));
    assertEquals(Phase.CONFIRM, caughtUp.getPhase());
    assertTrue(caughtUp.getEndedAtEpochMs() > 0);

    // A journal from before the list: a migration without a row is listed again once a
    // coordinator node's backfill (at its start) woke its coordinator.
    awaitPassivated("lv-1");
    try (Connection c = DriverManager.getConnection(cluster.journal, "sa", "")) {
      assertEquals(1, c.createStatement().executeUpdate("DELETE FROM livemig_migrations WHERE migration_id = 'lv-1'"));
    }
    assertEquals(3, cluster.client.list().toCompletableFuture().get(10, TimeUnit.SECONDS).size());
    MigrationListView.get(cluster.manager.system()).backfill();
    cluster.awaitListed("lv-1", i -> i.getStatus() == MigrationStatus.COMPLETED, Duration.ofSeconds(10));
  }

  private static void awaitPassivated(String id) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (cluster.coordinatorOf(id).isPresent()) {
      if (System.nanoTime() > deadline) throw new AssertionError(id + "'s coordinator never passivated");
      Thread.sleep(50);
    }
  }
}
