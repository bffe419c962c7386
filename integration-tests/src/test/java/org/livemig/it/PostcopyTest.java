package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;


import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.host.HostSettings;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;

/**
 * Postcopy through a proxy between the source and the destination's data endpoint, while the
 * guest runs on the destination with a working set that keeps faulting: the link is cut, hung,
 * down when the postcopy channel opens, broken again during the recovery handshake; recoveries go
 * over the same route, a new address or a wrong one. Every scenario ends with the guest running
 * only on the destination, its memory equal to the oracle's, and no page written twice there.
 */
class PostcopyTest {
  @TempDir static Path dir;
  static TestCluster cluster;
  static LinkProxy proxy;
  static int dataPort;

  @BeforeAll
  static void up() throws Exception {
    proxy = LinkProxy.onFreePorts();
    dataPort = proxy.targetPort();
    cluster = new TestCluster(dir, TestCluster.hostBBehind(proxy));
  }

  @AfterAll
  static void down() throws Exception {
    if (cluster != null) cluster.close();
    if (proxy != null) proxy.close();
  }

  @AfterEach
  void healLink() {
    proxy.heal();
  }

  /**
   * A 16 MiB guest dirtying 12 MB/s, switched to postcopy after its first round; 4 MB/s keeps the
   * background push going for seconds, so the link can break in the middle of it.
   */
  private static String startPostcopy(GuestDescription d) throws Exception {
    cluster.createGuest("host-a", d);
    MigrationParameters p = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(4_000_000)
        .setPostcopyAfterRounds(1).setPostcopyKeepaliveMs(500).build();
    return cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
  }

  /** Started, in postcopy, and its postcopy channel pushing for a moment. */
  private static String startMidPush(GuestDescription d) throws Exception {
    String id = startPostcopy(d);
    awaitPostcopy(id, MigrationStatus.POSTCOPY_ACTIVE);
    Thread.sleep(300); // POSTCOPY_ACTIVE starts at the switchover: let the channel connect and push
    return id;
  }

  private static MigrationInfo awaitPostcopy(String id, MigrationStatus status) throws Exception {
    return cluster.awaitStatus(id, i -> i.getStatus() == status, Duration.ofSeconds(30));
  }

  /** While paused, the destination guest runs but its accesses to missing pages wait. */
  private static void assertFaultsBlock(GuestDescription d, MigrationInfo paused) throws Exception {
    assertTrue(paused.getPostcopyPagesMissing() > 0, "pages are missing while paused: " + paused);
    MigratableGuest g = cluster.guestOn("host-b", d.getGuestId()).orElseThrow();
    assertEquals(RunState.RUNNING, g.state());
    Thread.sleep(300);
    long steps = g.steps();
    Thread.sleep(1000);
    assertEquals(steps, g.steps(), "the workload waits on a missing page while postcopy is paused");
    MigratableGuest source = cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
    assertEquals(RunState.PAUSED, source.state(), "the source never resumes once the destination runs");
  }

  /** Completed, one running copy matching the oracle, no page received twice, cleanup once per host. */
  private static List<CoordinatorEvent> assertCompleted(String id, GuestDescription d) throws Exception {
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertEquals(ResumeOwner.DESTINATION, done.getResumeOwner());
    assertTrue(done.getPostcopy());
    cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    assertEquals(1, cluster.cleanupRuns("host-a").get(id), "cleanup once on the source");
    assertEquals(1, cluster.cleanupRuns("host-b").get(id), "cleanup once on the destination");
    List<CoordinatorEvent> events = JournalEvents.of(dir, id);
    var completed = events.stream().filter(CoordinatorEvent::hasPostcopyCompleted).findFirst().orElseThrow()
        .getPostcopyCompleted().getResult();
    assertEquals(0, completed.getDuplicatePages(), "no page the destination had was sent to it again");
    var confirm = events.stream().filter(e -> e.hasPhaseCompleted() && e.getPhaseCompleted().hasConfirm()).findFirst()
        .orElseThrow().getPhaseCompleted().getConfirm();
    long breaks = events.stream().filter(CoordinatorEvent::hasPostcopyPaused).count();
    // Only pages lost in flight at a break go twice: at most what the socket buffers and one batch
    // hold (well under 2048 pages of 4 KiB: a few MiB) per break, and none without a break.
    assertTrue(confirm.getPostcopyPagesResent() <= 2048 * breaks, "resent " + confirm.getPostcopyPagesResent()
        + " pages over " + breaks + " break(s)");
    assertEquals(completed.getPagesReceived(), confirm.getPostcopyPagesSent() - confirm.getPostcopyPagesResent(),
        "every page sent once arrived once");
    assertTrue(completed.getFaults() > 0, "the guest faulted on missing pages: " + completed);
    return events;
  }

  private static List<CoordinatorEvent.EventCase> postcopyEvents(List<CoordinatorEvent> events) {
    return events.stream().map(CoordinatorEvent::getEventCase).filter(c -> c.name().startsWith("POSTCOPY")
        || c == CoordinatorEvent.EventCase.RECOVERY_STARTED).toList();
  }

  @Test
  void startPostcopyOnCommandCompletesALiveGuestThatWouldNotConverge() throws Exception {
    GuestDescription d = TestCluster.guest("pc-command", 16, 3000);
    cluster.createGuest("host-a", d);
    // 1 ms downtime cannot be met at 12 MB/s of dirtying: only postcopy ends this migration soon.
    MigrationParameters p = MigrationParameters.newBuilder().setDowntimeLimitMs(1).setMaxBandwidthBytesPerSecond(20_000_000)
        .build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM, Duration.ofSeconds(20));
    MigrationInfo asked = cluster.client.startPostcopy(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertTrue(asked.getParameters().getPostcopyNow());
    List<CoordinatorEvent> events = assertCompleted(id, d);
    assertEquals(List.of(CoordinatorEvent.EventCase.POSTCOPY_STARTED, CoordinatorEvent.EventCase.POSTCOPY_COMPLETED),
        postcopyEvents(events));
    var conflict = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(conflict.getCause().getMessage().contains("already ended"), conflict.getCause().getMessage());
  }

  @Test
  void precopyThatCannotConvergeSwitchesToPostcopyWhenAllowed() throws Exception {
    GuestDescription d = TestCluster.guest("pc-no-converge", 16, 3000);
    cluster.createGuest("host-a", d);
    // Throttled to the maximum from the first round and still far above 1 ms: after three rounds
    // at maximum throttle, postcopy instead of a long switchover.
    MigrationParameters p = MigrationParameters.newBuilder().setDowntimeLimitMs(1).setMaxRoundsBeforeThrottle(1)
        .setMaxBandwidthBytesPerSecond(8_000_000)
        .setThrottleInitialPercent(50).setThrottleMaxPercent(50).setPostcopyIfNotConverging(true).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture().get(10, TimeUnit.SECONDS)
        .getMigrationId();
    List<CoordinatorEvent> events = assertCompleted(id, d);
    long rounds = events.stream().filter(e -> e.hasPhaseCompleted() && e.getPhaseCompleted().hasPerform())
        .findFirst().orElseThrow().getPhaseCompleted().getPerform().getRoundsCount();
    assertTrue(rounds >= 4, "three rounds at maximum throttle came first: " + rounds);
    assertTrue(events.stream().anyMatch(CoordinatorEvent::hasPostcopyStarted));
  }

  @Test
  void linkCutPausesBothSidesAndRecoveryOverTheSameRouteCompletes() throws Exception {
    GuestDescription d = TestCluster.guest("pc-cut", 16, 3000);
    String id = startMidPush(d);
    proxy.cut();
    MigrationInfo paused = awaitPostcopy(id, MigrationStatus.POSTCOPY_PAUSED);
    assertFaultsBlock(d, paused);
    assertFalse(paused.getPostcopyPausedReason().isEmpty(), "the pause says why");
    cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    List<CoordinatorEvent> events = assertCompleted(id, d);
    assertEquals(List.of(CoordinatorEvent.EventCase.POSTCOPY_STARTED, CoordinatorEvent.EventCase.POSTCOPY_PAUSED,
        CoordinatorEvent.EventCase.RECOVERY_STARTED, CoordinatorEvent.EventCase.POSTCOPY_RESUMED,
        CoordinatorEvent.EventCase.POSTCOPY_COMPLETED), postcopyEvents(events));
  }

  @Test
  void hungLinkPausesByKeepaliveAndRecoversOverANewAddress() throws Exception {
    GuestDescription d = TestCluster.guest("pc-hang", 16, 3000);
    String id = startMidPush(d);
    proxy.blackhole();
    MigrationInfo paused = awaitPostcopy(id, MigrationStatus.POSTCOPY_PAUSED);
    assertFaultsBlock(d, paused);
    // The old route stays hung; the destination's own port is another way in.
    cluster.client.recover(id, "127.0.0.1", dataPort).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertCompleted(id, d);
  }

  @Test
  void routeDownWhenThePostcopyChannelOpensPausesBeforeTheFirstPage() throws Exception {
    GuestDescription d = TestCluster.guest("pc-early", 16, 3000);
    String id = startPostcopy(d);
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getTransferredBytes() > 0, Duration.ofSeconds(20));
    proxy.refuseNew(); // the precopy channels are up; the postcopy channel will not get through
    MigrationInfo paused = awaitPostcopy(id, MigrationStatus.POSTCOPY_PAUSED);
    assertFaultsBlock(d, paused);
    proxy.heal();
    cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertCompleted(id, d);
  }

  @Test
  void aCutAfterTheLastPageChangesNothing() throws Exception {
    GuestDescription d = TestCluster.guest("pc-late-cut", 16, 3000);
    // The destination's PagesComplete answer is held, so the cut lands after the last page arrived
    // and before the source is destroyed.
    CrashScenario.setFaults(cluster.hosts.get("host-b"), HostSettings.Faults.hold("PAGES_COMPLETE", Duration.ofSeconds(3)));
    try {
      String id = startPostcopy(d);
      cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_ACTIVE && i.getPostcopyPagesMissing() == 0
          && i.getPostcopy(), Duration.ofSeconds(30));
      proxy.cut();
      List<CoordinatorEvent> events = assertCompleted(id, d);
      assertEquals(List.of(CoordinatorEvent.EventCase.POSTCOPY_STARTED, CoordinatorEvent.EventCase.POSTCOPY_COMPLETED),
          postcopyEvents(events), "nothing paused");
    } finally {
      CrashScenario.setFaults(cluster.hosts.get("host-b"), HostSettings.Faults.none());
    }
  }

  @Test
  void failedHandshakeAndWrongChannelPauseAgainAndTwoRecoveriesStillComplete() throws Exception {
    GuestDescription d = TestCluster.guest("pc-double", 16, 3000);
    String id = startMidPush(d);
    proxy.cut();
    awaitPostcopy(id, MigrationStatus.POSTCOPY_PAUSED);

    // Double failure during the handshake: RECV_BITMAP never comes back.
    proxy.blackholeReturn();
    cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo again = cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_PAUSED
        && i.getRecoveries() == 1, Duration.ofSeconds(30));
    assertTrue(again.getPostcopyPagesMissing() > 0);
    proxy.heal();

    // A wrong channel at reconnect: the source's own host, which knows nothing of this migration.
    // Its certificate names host-a, not the destination: the source sends it nothing, not even the token.
    int wrongPort = cluster.hosts.get("host-a").dataPlane().port();
    cluster.client.recover(id, "127.0.0.1", wrongPort).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo wrong = cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_PAUSED
        && i.getRecoveries() == 2, Duration.ofSeconds(30));
    assertTrue(wrong.getPostcopyPausedReason().contains("is host-a, not the expected host-b"), wrong.getPostcopyPausedReason());
    assertTrue(cluster.hosts.get("host-a").dataPlane().refusalReasons().stream().noneMatch(r -> r.contains(id)),
        "the wrong host never saw a header of this migration: " + cluster.hosts.get("host-a").dataPlane().refusalReasons());

    // Recovery that works, then a second break and a second working recovery.
    cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    awaitPostcopy(id, MigrationStatus.POSTCOPY_ACTIVE);
    proxy.cut();
    MigrationInfo second = cluster.awaitStatus(id, i -> i.getStatus() == MigrationStatus.POSTCOPY_PAUSED
        || i.getStatus() == MigrationStatus.COMPLETED, Duration.ofSeconds(30));
    if (second.getStatus() == MigrationStatus.POSTCOPY_PAUSED) {
      cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    List<CoordinatorEvent> events = assertCompleted(id, d);
    assertTrue(events.stream().filter(CoordinatorEvent::hasRecoveryStarted).count() >= 3, postcopyEvents(events).toString());
    assertTrue(events.stream().filter(CoordinatorEvent::hasPostcopyResumed).count() >= 1, postcopyEvents(events).toString());
  }

  @Test
  void recoverIsRefusedUnlessPaused() throws Exception {
    GuestDescription d = TestCluster.guest("pc-refuse", 16, 3000);
    String id = startPostcopy(d);
    awaitPostcopy(id, MigrationStatus.POSTCOPY_ACTIVE);
    var e = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> cluster.client.recover(id).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("only a paused postcopy"), e.getCause().getMessage());
    var bad = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> cluster.client.recover(id, "127.0.0.1", 70000).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(bad.getCause().getMessage().contains("data_port"), bad.getCause().getMessage());
    var late = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> cluster.client.startPostcopy(id).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(late.getCause().getMessage().contains("already in postcopy"), late.getCause().getMessage());
    assertCompleted(id, d);
  }
}
