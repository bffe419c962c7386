package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.typed.javadsl.AskPattern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.livemig.config.LivemigNode;
import org.livemig.engine.host.HostAgent;
import org.livemig.engine.host.HostSettings;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;

/**
 * Every failure before the destination may run the guest leaves the source running: the
 * destination refuses Prepare, Finish finds the copy incomplete, or an operator cancels in Begin,
 * Prepare or Perform. Once Finish (which runs a whole copy) is out, silence and cancels do not
 * roll back. Each run ends with exactly one running guest, matching the oracle, and cleanup run
 * exactly once on each host.
 */
class RollbackTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = new TestCluster(dir, Map.of(
        "host-a", Map.of(),
        "host-b", Map.of("livemig.host.memory-capacity", "60MiB")));
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  @AfterEach
  void noFaults() throws Exception {
    for (String h : cluster.hosts.keySet()) setFaults(h, HostSettings.Faults.none());
  }

  static void setFaults(String host, HostSettings.Faults faults) throws Exception {
    LivemigNode n = cluster.hosts.get(host);
    AskPattern.<HostAgent.Command, akka.Done>ask(n.hostAgent(), r -> new HostAgent.SetFaults(faults, r),
        Duration.ofSeconds(5), n.system().scheduler()).toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  private MigrationInfo start(GuestDescription d, MigrationParameters p) throws Exception {
    return cluster.client.start(d.getGuestId(), "host-a", "host-b", p).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private void assertRolledBack(MigrationInfo done, GuestDescription d, MigrationStatus status) throws Exception {
    assertEquals(status, done.getStatus(), done.getError());
    assertEquals(ResumeOwner.SOURCE, done.getResumeOwner());
    cluster.assertExactlyOneRunningOn("host-a", d);
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "no destination copy is left");
    assertEquals(1, cluster.cleanupRuns("host-a").get(done.getMigrationId()), "cleanup once on the source");
    assertEquals(1, cluster.cleanupRuns("host-b").get(done.getMigrationId()), "cleanup once on the destination");
  }

  @Test
  void destinationRefusesPrepareAndTheSourceKeepsRunning() throws Exception {
    GuestDescription d = TestCluster.guest("too-big", 64, 2000); // host-b holds at most 60 MiB
    cluster.createGuest("host-a", d);
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.getDefaultInstance()).getMigrationId(),
        Duration.ofSeconds(30));
    assertRolledBack(done, d, MigrationStatus.FAILED);
    assertTrue(done.getError().startsWith("PREPARE: "), done.getError());
    assertTrue(done.getError().contains("not enough memory on host-b"), done.getError());
  }

  @Test
  void finishFindsTheCopyIncompleteAndTheSourceResumes() throws Exception {
    GuestDescription d = TestCluster.guest("finish-fails", 16, 3000);
    cluster.createGuest("host-a", d);
    setFaults("host-b", HostSettings.Faults.failingFinish());
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.getDefaultInstance()).getMigrationId(),
        Duration.ofSeconds(30));
    assertRolledBack(done, d, MigrationStatus.FAILED);
    assertTrue(done.getError().startsWith("FINISH: "), done.getError());
    assertTrue(done.getError().contains("copy incomplete"), done.getError());
  }

  @Test
  void aFinishAnsweredAfterItsTimeoutIsAwaitedNotRolledBack() throws Exception {
    // host-b holds Finish past the coordinator's timer (step timeout 5 s + host lookup 5 s). Finish
    // went out after the switchover marker, so it runs the guest once the copy is whole: silence
    // is no answer, as the guest may already run on host-b and resuming the source would leave
    // two. The coordinator asks again and the migration completes on host-b.
    MigrationInfo done = completesOnBWhileItHolds("late-finish", "FINISH", Duration.ofSeconds(12),
        Duration.ofSeconds(60));
    assertTrue(done.getDowntimeMs() >= 12_000, "the guest ran nowhere while Finish was held: " + done.getDowntimeMs());
  }

  @Test
  void aPrecopySwitchoverDoesNotWaitForActivate() throws Exception {
    // The destination runs the guest as soon as its copy is whole (Finish went out after the
    // switchover marker): Activate is not on the path, so holding it changes nothing.
    MigrationInfo done = completesOnBWhileItHolds("no-activate", "ACTIVATE", Duration.ofSeconds(60),
        Duration.ofSeconds(30));
    assertTrue(done.getDowntimeMs() < 5_000, "downtime " + done.getDowntimeMs() + " ms");
  }

  /** A 4 MiB guest migrates to host-b while host-b holds its answer to phase; it must complete there. */
  private MigrationInfo completesOnBWhileItHolds(String guestId, String phase, Duration hold, Duration within)
      throws Exception {
    GuestDescription d = TestCluster.guest(guestId, 4, 3000);
    cluster.createGuest("host-a", d);
    setFaults("host-b", HostSettings.Faults.hold(phase, hold));
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.getDefaultInstance()).getMigrationId(), within);
    assertCompletedOnB(done, d);
    return done;
  }

  private void assertCompletedOnB(MigrationInfo done, GuestDescription d) throws Exception {
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    assertEquals(ResumeOwner.DESTINATION, done.getResumeOwner());
    cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    assertEquals(1, cluster.cleanupRuns("host-a").get(done.getMigrationId()), "cleanup once on the source");
    assertEquals(1, cluster.cleanupRuns("host-b").get(done.getMigrationId()), "cleanup once on the destination");
  }

  @Test
  void cancelAfterFinishWentOutIsRefusedAndTheMigrationCompletes() throws Exception {
    // Finish carries the permission to run: once it is out, only the destination's answer can
    // say the guest does not run there, so a cancel is refused with the reason.
    GuestDescription d = TestCluster.guest("cancel-finish", 4, 3000);
    cluster.createGuest("host-a", d);
    setFaults("host-b", HostSettings.Faults.hold("FINISH", Duration.ofSeconds(3)));
    String id = start(d, MigrationParameters.getDefaultInstance()).getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.FINISH, Duration.ofSeconds(20));
    var e = assertThrows(Exception.class, () -> cluster.client.cancel(id, "operator changed plans")
        .toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(e.getMessage().contains("too late to cancel"), e.getMessage());
    assertCompletedOnB(cluster.awaitEnd(id, Duration.ofSeconds(30)), d);
  }

  /** The host answering the phase holds its answer, so the cancel lands inside that phase. */
  @ParameterizedTest
  @ValueSource(strings = {"BEGIN", "PREPARE"})
  void cancelWhileAPhaseIsPending(String phase) throws Exception {
    GuestDescription d = TestCluster.guest("cancel-" + phase.toLowerCase(), 16, 3000);
    cluster.createGuest("host-a", d);
    setFaults(phase.equals("BEGIN") ? "host-a" : "host-b", HostSettings.Faults.hold(phase, Duration.ofSeconds(3)));
    String id = start(d, MigrationParameters.getDefaultInstance()).getMigrationId();
    Phase expected = Phase.valueOf(phase);
    cluster.awaitStatus(id, i -> i.getPhase() == expected, Duration.ofSeconds(20));
    MigrationInfo cancelling = cluster.client.cancel(id, "operator changed plans").toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
    assertEquals(ResumeOwner.SOURCE, cancelling.getResumeOwner());
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(30));
    assertRolledBack(done, d, MigrationStatus.CANCELLED);
    assertTrue(done.getError().startsWith(phase + ": cancelled: operator changed plans"), done.getError());
  }

  @Test
  void cancelDuringPrecopy() throws Exception {
    GuestDescription d = TestCluster.guest("cancel-perform", 32, 3000);
    cluster.createGuest("host-a", d);
    // 8 MB/s makes the first round last about four seconds.
    MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(8_000_000).build();
    String id = start(d, slow).getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getStatus() == MigrationStatus.ACTIVE,
        Duration.ofSeconds(20));
    Thread.sleep(500); // pages are on the wire
    cluster.client.cancel(id, "maintenance window closed").toCompletableFuture().get(10, TimeUnit.SECONDS);
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(30));
    assertRolledBack(done, d, MigrationStatus.CANCELLED);
    assertTrue(done.getError().startsWith("PERFORM: cancelled"), done.getError());
  }

  /** The client asks the host, which names the migration; its coordinator decides that nobody resumes the guest. */
  @Test
  void powerOffDuringPrecopyCancelsTheMigrationWithTheGuestOff() throws Exception {
    GuestDescription d = TestCluster.guest("off-perform", 32, 3000);
    cluster.createGuest("host-a", d);
    var source = cluster.guestOn("host-a", d.getGuestId()).orElseThrow();
    MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(8_000_000).build();
    String id = start(d, slow).getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getTransferredBytes() > 0, Duration.ofSeconds(20));
    var answer = cluster.client.powerOff(d.getGuestId(), "host retired").toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(id, answer.getMigrationId(), answer.toString());
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(30));

    assertEquals(MigrationStatus.CANCELLED, done.getStatus(), done.getError());
    assertEquals(org.livemig.messages.ErrorKind.ERROR_POWERED_OFF, done.getErrorKind(), done.getError());
    assertTrue(done.getError().startsWith("PERFORM: cancelled: host retired"), done.getError());
    assertEquals(org.livemig.engine.guest.RunState.DESTROYED, source.state(), "nobody resumed it");
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "no destination copy is left");
    assertEquals(1, cluster.cleanupRuns("host-a").get(id), "cleanup once on the source");
    assertEquals(1, cluster.cleanupRuns("host-b").get(id), "cleanup once on the destination");
    // A powered-off guest cannot be migrated: nothing would run anywhere.
    MigrationInfo again = cluster.awaitEnd(start(d, MigrationParameters.getDefaultInstance()).getMigrationId(),
        Duration.ofSeconds(30));
    assertEquals(MigrationStatus.FAILED, again.getStatus(), again.getError());
    assertEquals(org.livemig.engine.guest.RunState.DESTROYED, source.state());
  }

  @Test
  void cancelAfterTheEndIsRefusedWithAReason() throws Exception {
    GuestDescription d = TestCluster.guest("done-then-cancel", 8, 1000);
    cluster.createGuest("host-a", d);
    MigrationInfo done = cluster.awaitEnd(start(d, MigrationParameters.getDefaultInstance()).getMigrationId(),
        Duration.ofSeconds(30));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    var e = assertThrows(Exception.class, () -> cluster.client.cancel(done.getMigrationId(), "late")
        .toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertTrue(e.getMessage().contains("already ended: COMPLETED"), e.getMessage());
    cluster.assertExactlyOneRunningOn("host-b", d);
  }
}
