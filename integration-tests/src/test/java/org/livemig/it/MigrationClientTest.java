package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.client.MigrationException;
import org.livemig.engine.client.Subscription;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationEvent;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/** The cluster manager's view: MigrationClient against a running two-host cluster. */
class MigrationClientTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of(), "host-b", Map.of()));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  private static <T> T get(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** The typed error a failed call completes with. */
  private static MigrationException failure(CompletionStage<?> s) {
    var e = assertThrows(ExecutionException.class, () -> s.toCompletableFuture().get(30, TimeUnit.SECONDS));
    assertInstanceOf(MigrationException.class, e.getCause(), String.valueOf(e.getCause()));
    return (MigrationException) e.getCause();
  }

  @Test
  void startWatchEventsAndStatusUntilCompleted() throws Exception {
    GuestDescription d = TestCluster.guest("watched", 32, 2000);
    cluster.createGuest("host-a", d);
    List<MigrationEvent> events = new CopyOnWriteArrayList<>();
    try (Subscription sub = cluster.client.subscribe(events::add)) {
      Thread.sleep(1000); // the subscription travels to the topic instances through the receptionist
      MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(20_000_000).build();
      MigrationInfo started = get(cluster.client.startAndAwaitSetup("m-watched", d.getGuestId(), "host-a", "host-b", slow));
      assertEquals("m-watched", started.getMigrationId());
      assertTrue(started.getPhase().getNumber() >= Phase.PERFORM_VALUE, started.toString());
      MigrationInfo early = cluster.awaitStatus("m-watched", i -> i.getTransferredBytes() > 0, Duration.ofSeconds(20));
      MigrationInfo later = cluster.awaitStatus("m-watched",
          i -> i.getTransferredBytes() > early.getTransferredBytes() || MigrationClientTestSupport.ended(i),
          Duration.ofSeconds(20));
      assertTrue(later.getTotalTimeMs() >= early.getTotalTimeMs());
      MigrationInfo done = cluster.awaitEnd("m-watched", Duration.ofSeconds(60));
      assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
      assertEquals(32L << 20, done.getTotalBytes());
      assertTrue(done.getDowntimeMs() >= 0 && done.getRoundHistoryCount() > 0, done.toString());
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (events.stream().noneMatch(e -> e.getKind() == MigrationEvent.Kind.COMPLETED) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
    }
    List<MigrationEvent> mine = events.stream().filter(e -> e.getInfo().getMigrationId().equals("m-watched")).toList();
    List<MigrationEvent.Kind> kinds = mine.stream().map(MigrationEvent::getKind).distinct().toList();
    assertEquals(MigrationEvent.Kind.STARTED, mine.get(0).getKind(), kinds.toString());
    assertTrue(kinds.containsAll(List.of(MigrationEvent.Kind.PHASE_CHANGED, MigrationEvent.Kind.PROGRESS,
        MigrationEvent.Kind.COMPLETED)), kinds.toString());
    assertEquals(MigrationEvent.Kind.COMPLETED, mine.get(mine.size() - 1).getKind());
    cluster.awaitListed("m-watched", i -> i.getStatus() == MigrationStatus.COMPLETED, Duration.ofSeconds(10));
    cluster.assertExactlyOneRunningOn("host-b", d);
  }

  @Test
  void eachRefusalHasItsOwnType() throws Exception {
    assertInstanceOf(MigrationException.UnknownMigration.class, failure(cluster.client.status("no-such-migration")));
    assertInstanceOf(MigrationException.UnknownMigration.class, failure(cluster.client.cancel("no-such-migration", "x")));

    var invalid = failure(cluster.client.start("m-invalid", "", "host-a", "host-b", MigrationParameters.getDefaultInstance()));
    assertInstanceOf(MigrationException.InvalidRequest.class, invalid);
    assertEquals("guest_id", ((MigrationException.InvalidRequest) invalid).field());

    assertInstanceOf(MigrationException.UnknownGuest.class, failure(cluster.client.startAndAwaitSetup(
        "m-no-guest", "no-such-guest", "host-a", "host-b", MigrationParameters.getDefaultInstance())));

    GuestDescription d = TestCluster.guest("busy", 32, 2000);
    cluster.createGuest("host-a", d);
    assertInstanceOf(MigrationException.HostUnreachable.class, failure(cluster.client.startAndAwaitSetup(
        "m-no-host", d.getGuestId(), "host-a", "host-z", MigrationParameters.getDefaultInstance())));
    cluster.awaitEnd("m-no-host", Duration.ofSeconds(30));

    MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(4_000_000).build();
    get(cluster.client.startAndAwaitSetup("m-busy", d.getGuestId(), "host-a", "host-b", slow));
    var conflict = failure(cluster.client.startAndAwaitSetup("m-busy-2", d.getGuestId(), "host-a", "host-b", slow));
    assertInstanceOf(MigrationException.Conflict.class, conflict);
    assertTrue(conflict.getMessage().contains("already migrating"), conflict.getMessage());
    assertInstanceOf(MigrationException.Conflict.class,
        failure(cluster.client.start("m-busy", "other-guest", "host-a", "host-b", slow)), "same id, other request");
    MigrationInfo changed = get(cluster.client.setParameters("m-busy", 2_000_000, Duration.ofMillis(100)));
    assertEquals(2_000_000, changed.getParameters().getMaxBandwidthBytesPerSecond());
    assertEquals(100, changed.getParameters().getDowntimeLimitMs());
    assertInstanceOf(MigrationException.InvalidRequest.class,
        failure(cluster.client.setParameters("m-busy", 0, null)), "nothing to change");

    get(cluster.client.cancel("m-busy", "test over"));
    assertEquals(MigrationStatus.CANCELLED, cluster.awaitEnd("m-busy", Duration.ofSeconds(30)).getStatus());
    assertInstanceOf(MigrationException.Conflict.class, failure(cluster.client.cancel("m-busy", "again")));
    cluster.assertExactlyOneRunningOn("host-a", d);
  }
}
