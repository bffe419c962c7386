package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;

/**
 * Checkpointed replication with every node in its own JVM ({@link ProcessCluster}), driven and
 * checked from outside as an operator would: the operator API, the hosts' run-state logs (which
 * copy ran when) and their output logs (what the guest's clients received).
 *
 * <p>One story on one cluster: a guest on host-a is protected to host-b; host-a's JVM halts (as
 * kill -9) right after the secondary acknowledged checkpoint 200, before host-a released the
 * outputs it covers (livemig.host.faults.replication: the output commit's edge), and the guest
 * fails over to host-b from that checkpoint; host-a comes back and the guest, now on host-b, is
 * protected to it; the JVM running the protection's coordinator is killed and the replication
 * goes on under a new incarnation; host-a is killed again and the protection degrades, the guest
 * running on; unprotect ends it. ProtectionFaultPointTest halts the primary at the other points
 * of a checkpoint's cycle.
 */
class ProtectionProcessTest {
  private static final long HALT_AT = 200; // 5 s of checkpoints at 25 ms: the checks before it take about one

  @TempDir static Path dir;
  static ProcessCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = new ProcessCluster(dir, Map.of("host-a", List.of("livemig.host.faults.replication.halt-at = acknowledged",
        "livemig.host.faults.replication.halt-at-checkpoint = " + HALT_AT)));
  }

  @AfterAll
  static void down() throws Exception {
    if (cluster != null) cluster.close();
  }

  @Test
  void aProtectedGuestSurvivesItsHostsDeathFromItsLastWholeCheckpoint() throws Exception {
    ProtectedGuest g = new ProtectedGuest(cluster, "pg");
    g.create();

    // Refused, nothing changed: the same host twice, a bad interval; never protected: 404.
    assertEquals(400, g.protect("host-a", "host-a", 50).statusCode());
    assertEquals(400, g.protect("host-a", "host-b", 1).statusCode());
    assertEquals(404, cluster.get("c1", "/guests/pg/protection").statusCode());

    HttpResponse<String> r = g.protect("host-a", "host-b", 25);
    assertEquals(202, r.statusCode(), r.body());
    ProtectionInfo replicating = g.await(i -> i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 10,
        Duration.ofSeconds(60));
    assertTrue(replicating.getSyncBytes() > 0, replicating.toString());
    assertEquals("none", cluster.stateOn("host-b", "pg"), "the copy is not a guest of host-b while replicated");
    assertTrue(g.runLines("host-b").isEmpty(), "the secondary's copy never ran: " + g.runLines("host-b"));

    // A protected guest does not migrate: its host refuses Begin (409), the guest stays put.
    HttpResponse<String> m = cluster.post("c1", "/migrations", "{\"migration_id\":\"m-protected\",\"guest_id\":\"pg\","
        + "\"source_host\":\"host-a\",\"destination_host\":\"host-b\"}");
    assertEquals(409, m.statusCode(), m.body());
    assertTrue(m.body().contains("is protected"), m.body());
    g.awaitRunningOn("host-a"); // a checkpoint pauses it for a moment every 25 ms

    // host-a dies with checkpoint 200 acknowledged and its outputs held: host-b runs from it.
    HostProcess primary = cluster.process("host-a");
    assertTrue(primary.process().waitFor(120, TimeUnit.SECONDS), "host-a halts after checkpoint " + HALT_AT);
    long diedAt = System.currentTimeMillis();
    assertEquals(137, primary.process().exitValue());
    ProtectionInfo over = g.await(i -> i.getState() == ProtectionState.FAILED_OVER, Duration.ofSeconds(90));
    System.out.println("failover: " + (over.getFailedOverAtEpochMs() - diedAt) + " ms from the primary's death to "
        + "the guest running on host-b (checkpoint " + over.getFailoverCheckpoint() + ", step " + over.getFailoverSteps()
        + ", outputs up to " + over.getFailoverOutputsUpto() + ")");
    assertEquals(HALT_AT, over.getFailoverCheckpoint(), over.toString());
    // Decided by the primary's lease, not by the cluster removing host-a (patient here: ~14 s).
    assertTrue(over.getReason().contains("its lease ran out"), over.getReason());
    g.assertFailedOverToB(over, diedAt * 1000);

    // host-a back: the guest, now on host-b, is protected to it (once the restarted host-a has said
    // it holds no copy of the old primary: the lease failover stops it besides).
    cluster.restart("host-a");
    assertEquals(202, g.protectOnceEnded("host-b", "host-a", 50).statusCode());
    ProtectionInfo again = g.await(i -> i.getGeneration() == over.getGeneration() + 1
        && i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 5, Duration.ofSeconds(60));

    // The coordinator's JVM dies: a new incarnation continues the replication under a new epoch.
    String coordinator = cluster.coordinatorOf("Protection", "pg");
    cluster.kill(coordinator);
    g.await(i -> i.getEpoch() > again.getEpoch() && i.getCheckpoints() > again.getCheckpoints() + 10
        && i.getState() == ProtectionState.REPLICATING, Duration.ofSeconds(90));
    // Not started again: three of the four nodes stay a majority when host-a goes too.
    String alive = coordinator.equals("c1") ? "c2" : "c1";

    // host-a (the secondary now) dies: degraded, the guest runs on and its outputs flow again.
    cluster.kill("host-a");
    ProtectionInfo degraded = g.await(i -> i.getState() == ProtectionState.DEGRADED, Duration.ofSeconds(90));
    assertTrue(degraded.getReason().contains("host-a"), degraded.getReason());
    assertEquals("RUNNING", cluster.stateOn("host-b", "pg"));
    long outputsOfB = g.outputs("host-b").size();
    g.awaitOutputs("host-b", outputsOfB + 5);
    assertEquals(409, cluster.post(alive, "/guests/pg/failover", "").statusCode(), "nothing to fail over to");

    HttpResponse<String> ended = g.unprotect();
    assertEquals(200, ended.statusCode(), ended.body());
    assertEquals(ProtectionState.UNPROTECTED, g.status().getState());
    g.assertMatchesItsOracle("host-b");
  }
}
