package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.it.chaos.RunStateCheck;
import org.livemig.messages.GuestVerification;
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
 * protection degrades, the guest running on; unprotect ends it.
 */
class ProtectionProcessTest {
  private static final String GUEST = "pg";
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
    // 16 MiB, 2,000 pages dirtied a second: some 20 outputs a second (one every 100 steps).
    HttpResponse<String> created = cluster.post("host-a", "/guests", "{\"guest_id\":\"" + GUEST + "\",\"page_size\":4096,"
        + "\"page_count\":4096,\"seed\":41,\"dirty_pages_per_second\":2000,\"hot_pages\":512,\"hot_per_mille\":700,"
        + "\"initial_fill\":\"FILL_PATTERN\"}");
    assertEquals(201, created.statusCode(), created.body());

    // Refused, nothing changed: the same host twice, a bad interval.
    assertEquals(400, protect("host-a", "host-a", 50).statusCode());
    assertEquals(400, protect("host-a", "host-b", 1).statusCode());
    assertEquals(404, cluster.get("c1", "/guests/" + GUEST + "/protection").statusCode());

    HttpResponse<String> r = protect("host-a", "host-b", 50);
    assertEquals(202, r.statusCode(), r.body());
    ProtectionInfo replicating = await(i -> i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 10,
        Duration.ofSeconds(60));
    assertTrue(replicating.getSyncBytes() > 0, replicating.toString());
    assertEquals("none", cluster.stateOn("host-b", GUEST), "the copy is not a guest of host-b while replicated");
    assertTrue(runLines("host-b").isEmpty(), "the secondary's copy never ran: " + runLines("host-b"));
    // A protected guest does not migrate: its host refuses Begin (409), the guest stays put.
    HttpResponse<String> m = cluster.post("c1", "/migrations", "{\"migration_id\":\"m-protected\",\"guest_id\":\""
        + GUEST + "\",\"source_host\":\"host-a\",\"destination_host\":\"host-b\"}");
    assertEquals(409, m.statusCode(), m.body());
    assertTrue(m.body().contains("is protected"), m.body());
    assertEquals("RUNNING", cluster.stateOn("host-a", GUEST));

    // The coordinator's JVM dies: a new incarnation continues the replication under a new epoch.
    String coordinator = cluster.coordinatorOf("Protection", GUEST);
    cluster.kill(coordinator);
    ProtectionInfo taken = await(i -> i.getEpoch() > replicating.getEpoch()
        && i.getCheckpoints() > replicating.getCheckpoints() + 10 && i.getState() == ProtectionState.REPLICATING,
        Duration.ofSeconds(90));
    cluster.restart(coordinator);

    // host-a dies: the guest resumes on host-b from its last whole checkpoint.
    long before = await(i -> i.getCheckpoints() > taken.getCheckpoints(), Duration.ofSeconds(30)).getCheckpoints();
    long killedAt = System.currentTimeMillis();
    cluster.kill("host-a");
    long killedMicros = killedAt * 1000;
    ProtectionInfo over = await(i -> i.getState() == ProtectionState.FAILED_OVER, Duration.ofSeconds(90));
    System.out.println("failover: " + (over.getFailedOverAtEpochMs() - killedAt) + " ms from kill -9 of the primary to "
        + "the guest running on host-b (checkpoint " + over.getFailoverCheckpoint() + ", step " + over.getFailoverSteps()
        + ", outputs up to " + over.getFailoverOutputsUpto() + ")");
    assertTrue(over.getFailoverCheckpoint() >= before, over.toString());
    assertEquals("RUNNING", cluster.stateOn("host-b", GUEST));
    assertMatchesItsOracle("host-b");
    List<RunStateCheck.Interval> runs = RunStateCheck.intervals(allRunLines(), Map.of("host-a", killedMicros));
    assertEquals(List.of(), RunStateCheck.overlaps(runs), "one copy at a time: " + runs);

    // Every output host-a released is in the state host-b resumed from; host-b continues after it.
    List<long[]> releasedByA = outputs("host-a");
    assertTrue(releasedByA.size() > 10, "host-a released outputs while replicated: " + releasedByA.size());
    assertConsecutiveFrom(1, releasedByA, "host-a's released outputs");
    long lastOfA = releasedByA.get(releasedByA.size() - 1)[0];
    assertTrue(lastOfA <= over.getFailoverOutputsUpto(), "host-a released output " + lastOfA
        + ", beyond the checkpoint host-b resumed from (outputs up to " + over.getFailoverOutputsUpto() + ")");
    awaitOutputs("host-b", 5);
    List<long[]> byB = outputs("host-b");
    assertConsecutiveFrom(over.getFailoverOutputsUpto() + 1, byB, "host-b's outputs after the failover");
    assertTrue(byB.get(0)[1] > over.getFailoverSteps(), "host-b's first output comes from a step after the checkpoint");

    // host-a back: the guest, now on host-b, is protected to it; host-a dies again: degraded, the guest runs on.
    cluster.restart("host-a");
    assertEquals(202, protect("host-b", "host-a", 50).statusCode());
    ProtectionInfo again = await(i -> i.getGeneration() == over.getGeneration() + 1
        && i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 5, Duration.ofSeconds(60));
    cluster.kill("host-a");
    ProtectionInfo degraded = await(i -> i.getState() == ProtectionState.DEGRADED, Duration.ofSeconds(90));
    assertTrue(degraded.getReason().contains("host-a"), degraded.getReason());
    assertEquals("RUNNING", cluster.stateOn("host-b", GUEST));
    long outputsOfB = outputs("host-b").size();
    awaitOutputs("host-b", outputsOfB + 5); // released again: nothing holds them once degraded
    assertEquals(409, cluster.post("c1", "/guests/" + GUEST + "/failover", "").statusCode(), "nothing to fail over to");

    HttpResponse<String> ended = delete("/guests/" + GUEST + "/protection");
    assertEquals(200, ended.statusCode(), ended.body());
    assertEquals(ProtectionState.UNPROTECTED, status().getState());
    assertMatchesItsOracle("host-b");
    assertTrue(again.getGeneration() > 1);
  }

  private static HttpResponse<String> protect(String primary, String secondary, int intervalMs) throws Exception {
    return cluster.post("c1", "/guests/" + GUEST + "/protection", "{\"primary_host\":\"" + primary
        + "\",\"secondary_host\":\"" + secondary + "\",\"interval_ms\":" + intervalMs + "}");
  }

  private static HttpResponse<String> delete(String path) throws Exception {
    for (String n : List.of("c1", "c2")) {
      if (!cluster.alive(n)) continue;
      return cluster.delete(n, path);
    }
    throw new IllegalStateException("no coordinator alive");
  }

  private static ProtectionInfo status() throws InterruptedException {
    for (String n : List.of("c1", "c2", "host-b", "host-a")) {
      if (!cluster.alive(n)) continue;
      try {
        HttpResponse<String> r = cluster.get(n, "/guests/" + GUEST + "/protection");
        if (r.statusCode() != 200) continue;
        ProtectionInfo.Builder b = ProtectionInfo.newBuilder();
        JsonFormat.parser().ignoringUnknownFields().merge(r.body(), b);
        return b.build();
      } catch (IOException e) {
        // this node does not answer now: ask the next
      }
    }
    return null;
  }

  private static ProtectionInfo await(Predicate<ProtectionInfo> p, Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    ProtectionInfo last = null;
    while (System.nanoTime() < deadline) {
      ProtectionInfo i = status();
      if (i != null) {
        last = i;
        if (p.test(i)) return i;
      }
      Thread.sleep(100); // polling other processes: no event reaches this JVM
    }
    throw new AssertionError("the protection never reached the expected state; last " + last + "\n" + cluster.logs(40));
  }

  private static void assertMatchesItsOracle(String host) throws Exception {
    HttpResponse<String> r = cluster.get(host, "/guests/" + GUEST + "/verify");
    assertEquals(200, r.statusCode(), r.body());
    GuestVerification.Builder v = GuestVerification.newBuilder();
    JsonFormat.parser().ignoringUnknownFields().merge(r.body(), v);
    assertTrue(v.getVerified(), "memory matches the oracle at the guest's step count: " + r.body());
  }

  private static List<String> runLines(String host) throws IOException {
    Path log = cluster.runStateLog(host);
    if (!Files.exists(log)) return List.of();
    return Files.readAllLines(log).stream().filter(l -> l.contains(" " + GUEST + " ")).toList();
  }

  private static List<String> allRunLines() throws IOException {
    List<String> all = new ArrayList<>(runLines("host-a"));
    all.addAll(runLines("host-b"));
    return all;
  }

  /** A host's released outputs of the guest: {number, step} in the order released. */
  private static List<long[]> outputs(String host) throws IOException {
    Path log = cluster.outputLog(host);
    if (!Files.exists(log)) return List.of();
    List<long[]> out = new ArrayList<>();
    for (String l : Files.readAllLines(log)) {
      String[] f = l.split(" ");
      if (f.length == 3 && f[0].equals(GUEST)) out.add(new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
    }
    return out;
  }

  private static void awaitOutputs(String host, long count) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (outputs(host).size() < count) {
      if (System.nanoTime() > deadline) throw new AssertionError(host + " released " + outputs(host).size() + " outputs");
      Thread.sleep(50); // another process writes the file
    }
  }

  private static void assertConsecutiveFrom(long first, List<long[]> outputs, String what) {
    assertTrue(!outputs.isEmpty(), what + ": none");
    for (int i = 0; i < outputs.size(); i++) {
      assertEquals(first + i, outputs.get(i)[0], what + ": output " + i + " is numbered " + outputs.get(i)[0]);
    }
  }
}
