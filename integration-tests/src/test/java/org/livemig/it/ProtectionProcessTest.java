package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
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
 * <p>One story on one cluster: a guest on host-a is protected to host-b; the JVM running its
 * protection coordinator is killed and the replication goes on under a new incarnation; host-a
 * is killed with kill -9 and the guest fails over to host-b, from its last whole checkpoint;
 * host-a comes back and the guest, now on host-b, is protected to it; host-a dies again and the
 * protection degrades, the guest running on; unprotect ends it. ProtectionFaultPointTest kills
 * the primary at each point of a checkpoint's cycle.
 */
class ProtectionProcessTest {
  @TempDir static Path dir;
  static ProcessCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    cluster = new ProcessCluster(dir);
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

    HttpResponse<String> r = g.protect("host-a", "host-b", 50);
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
    assertEquals("RUNNING", cluster.stateOn("host-a", "pg"));

    // The coordinator's JVM dies: a new incarnation continues the replication under a new epoch.
    String coordinator = cluster.coordinatorOf("Protection", "pg");
    cluster.kill(coordinator);
    ProtectionInfo taken = g.await(i -> i.getEpoch() > replicating.getEpoch()
        && i.getCheckpoints() > replicating.getCheckpoints() + 10 && i.getState() == ProtectionState.REPLICATING,
        Duration.ofSeconds(90));
    cluster.restart(coordinator);

    // host-a dies at whatever point of a checkpoint: the guest resumes on host-b from its last whole one.
    long before = g.await(i -> i.getCheckpoints() > taken.getCheckpoints(), Duration.ofSeconds(30)).getCheckpoints();
    long killedAt = System.currentTimeMillis();
    cluster.kill("host-a");
    ProtectionInfo over = g.await(i -> i.getState() == ProtectionState.FAILED_OVER, Duration.ofSeconds(90));
    System.out.println("failover: " + (over.getFailedOverAtEpochMs() - killedAt) + " ms from kill -9 of the primary to "
        + "the guest running on host-b (checkpoint " + over.getFailoverCheckpoint() + ", step " + over.getFailoverSteps()
        + ", outputs up to " + over.getFailoverOutputsUpto() + ")");
    assertTrue(over.getFailoverCheckpoint() >= before, over.toString());
    g.assertFailedOverToB(over, killedAt * 1000);

    // host-a back: the guest, now on host-b, is protected to it; host-a dies again: degraded, the guest runs on.
    cluster.restart("host-a");
    assertEquals(202, g.protect("host-b", "host-a", 50).statusCode());
    g.await(i -> i.getGeneration() == over.getGeneration() + 1 && i.getState() == ProtectionState.REPLICATING
        && i.getCheckpoints() >= 5, Duration.ofSeconds(60));
    cluster.kill("host-a");
    ProtectionInfo degraded = g.await(i -> i.getState() == ProtectionState.DEGRADED, Duration.ofSeconds(90));
    assertTrue(degraded.getReason().contains("host-a"), degraded.getReason());
    assertEquals("RUNNING", cluster.stateOn("host-b", "pg"));
    long outputsOfB = g.outputs("host-b").size();
    g.awaitOutputs("host-b", outputsOfB + 5); // released again: nothing holds them once degraded
    assertEquals(409, cluster.post("c1", "/guests/pg/failover", "").statusCode(), "nothing to fail over to");

    HttpResponse<String> ended = g.unprotect();
    assertEquals(200, ended.statusCode(), ended.body());
    assertEquals(ProtectionState.UNPROTECTED, g.status().getState());
    g.assertMatchesItsOracle("host-b");
  }
}
