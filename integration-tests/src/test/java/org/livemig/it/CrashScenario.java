package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.typed.javadsl.AskPattern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
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
 * The scenario shared by the crash tests. The node running a migration's coordinator crashes while a phase is pending. The coordinator
 * starts again on the other coordinator node by itself (remembered entity), replays its
 * journal, takes over with a new epoch and drives the migration to the end the table in the
 * README gives: roll back in Begin, continue in Perform, complete after Finish.
 */
abstract class CrashScenario {
  @TempDir Path dir;
  TestCluster cluster;

  @AfterEach
  void down() {
    if (cluster != null) cluster.close();
  }

  static void setFaults(LivemigNode n, HostSettings.Faults faults) throws Exception {
    AskPattern.<HostAgent.Command, akka.Done>ask(n.hostAgent(), r -> new HostAgent.SetFaults(faults, r),
        Duration.ofSeconds(5), n.system().scheduler()).toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** journalUrl null = the H2 file; else a shared database every node reads. */
  void crashAndRecover(String phase, String journalUrl) throws Exception {
    cluster = new TestCluster(dir, 2, Map.of("host-a", Map.of(), "host-b", Map.of()), journalUrl);
    GuestDescription d = TestCluster.guest("crash-" + phase.toLowerCase(), 16, 3000);
    cluster.createGuest("host-a", d);
    MigrationParameters params = MigrationParameters.getDefaultInstance();
    if (phase.equals("PERFORM")) {
      params = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(4_000_000).build(); // ~4 s of copy
    } else {
      String host = phase.equals("BEGIN") || phase.equals("CONFIRM") ? "host-a" : "host-b";
      setFaults(cluster.hosts.get(host), HostSettings.Faults.hold(phase, Duration.ofSeconds(6)));
    }
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", params).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    Phase expected = Phase.valueOf(phase);
    MigrationInfo before = cluster.awaitStatus(id, i -> i.getPhase() == expected, Duration.ofSeconds(20));
    LivemigNode running = cluster.coordinatorOf(id).orElseThrow();
    cluster.crash(running);

    // Nobody asks anything until the hosts show the migration ended: the remembered coordinator
    // must come back on the survivor and finish by itself.
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!(cluster.cleanupRuns("host-a").containsKey(id) && cluster.cleanupRuns("host-b").containsKey(id))
        && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    assertTrue(cluster.cleanupRuns("host-a").containsKey(id), "the migration ended on the source without a query");
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(90));
    LivemigNode survivor = cluster.coordinatorOf(id).orElseThrow();
    assertNotSame(running, survivor, "the coordinator runs on the surviving node now");
    assertTrue(done.getEpoch() > before.getEpoch(), "the new incarnation took a new epoch: " + done.getEpoch());
    if (phase.equals("BEGIN") || phase.equals("PREPARE")) {
      assertEquals(MigrationStatus.FAILED, done.getStatus(), done.getError());
      assertEquals(ResumeOwner.SOURCE, done.getResumeOwner());
      assertTrue(done.getError().contains("coordinator restarted in " + phase), done.getError());
      cluster.assertExactlyOneRunningOn("host-a", d);
    } else {
      assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
      assertEquals(ResumeOwner.DESTINATION, done.getResumeOwner());
      cluster.assertExactlyOneRunningOn("host-b", d);
      assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
    }
    assertEquals(1, cluster.cleanupRuns("host-a").get(id), "cleanup once on the source");
    assertEquals(1, cluster.cleanupRuns("host-b").get(id), "cleanup once on the destination");
  }
}
