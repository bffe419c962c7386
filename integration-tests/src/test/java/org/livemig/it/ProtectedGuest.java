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
import java.util.function.Predicate;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.ProtectionInfo;

/** One guest's protection on a {@link ProcessCluster}, asked and checked from outside as an operator would. */
final class ProtectedGuest {
  final ProcessCluster cluster;
  final String guest;

  ProtectedGuest(ProcessCluster cluster, String guest) {
    this.cluster = cluster;
    this.guest = guest;
  }

  /** Creates the guest on host-a: 16 MiB, 2,000 pages dirtied a second, some 20 outputs a second once protected. */
  void create() throws Exception {
    HttpResponse<String> created = cluster.post("host-a", "/guests", "{\"guest_id\":\"" + guest + "\",\"page_size\":4096,"
        + "\"page_count\":4096,\"seed\":" + Math.abs(guest.hashCode()) + ",\"dirty_pages_per_second\":2000,"
        + "\"hot_pages\":512,\"hot_per_mille\":700,\"initial_fill\":\"FILL_PATTERN\"}");
    assertEquals(201, created.statusCode(), created.body());
  }

  HttpResponse<String> protect(String primary, String secondary, int intervalMs) throws Exception {
    return cluster.post("c1", "/guests/" + guest + "/protection", "{\"primary_host\":\"" + primary
        + "\",\"secondary_host\":\"" + secondary + "\",\"interval_ms\":" + intervalMs + "}");
  }

  /**
   * Protects it once the last protection has ended everywhere: a 409 "still ending" (a host has
   * not yet confirmed the old primary stopped or the old copy destroyed) is asked again.
   */
  HttpResponse<String> protectOnceEnded(String primary, String secondary, int intervalMs) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      HttpResponse<String> r = protect(primary, secondary, intervalMs);
      if (r.statusCode() != 409 || !r.body().contains("still ending") || System.nanoTime() > deadline) return r;
      Thread.sleep(200); // the hosts' answers are on their way
    }
  }

  HttpResponse<String> unprotect() throws Exception {
    for (String n : List.of("c1", "c2")) {
      if (cluster.alive(n)) return cluster.delete(n, "/guests/" + guest + "/protection");
    }
    throw new IllegalStateException("no coordinator alive");
  }

  /** The status from the first live node that answers; null while none does. */
  ProtectionInfo status() throws InterruptedException {
    for (String n : List.of("c1", "c2", "host-b", "host-a")) {
      if (!cluster.alive(n)) continue;
      try {
        HttpResponse<String> r = cluster.get(n, "/guests/" + guest + "/protection");
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

  ProtectionInfo await(Predicate<ProtectionInfo> p, Duration max) throws Exception {
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

  /** The host lists the guest RUNNING within a few seconds (a protected guest stops for a moment at each checkpoint). */
  void awaitRunningOn(String host) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    String state;
    while (!(state = cluster.stateOn(host, guest)).equals("RUNNING")) {
      if (System.nanoTime() > deadline) throw new AssertionError(guest + " on " + host + " is " + state + ", not RUNNING");
      Thread.sleep(20); // asking another process
    }
  }

  void assertMatchesItsOracle(String host) throws Exception {
    HttpResponse<String> r = cluster.get(host, "/guests/" + guest + "/verify");
    assertEquals(200, r.statusCode(), r.body());
    GuestVerification.Builder v = GuestVerification.newBuilder();
    JsonFormat.parser().ignoringUnknownFields().merge(r.body(), v);
    assertTrue(v.getVerified(), "memory matches the oracle at the guest's step count: " + r.body());
  }

  List<String> runLines(String host) throws IOException {
    Path log = cluster.runStateLog(host);
    if (!Files.exists(log)) return List.of();
    return Files.readAllLines(log).stream().filter(l -> l.contains(" " + guest + " ")).toList();
  }

  List<String> allRunLines() throws IOException {
    List<String> all = new ArrayList<>(runLines("host-a"));
    all.addAll(runLines("host-b"));
    return all;
  }

  /** A host's released outputs of the guest: {number, step} in the order released. */
  List<long[]> outputs(String host) throws IOException {
    Path log = cluster.outputLog(host);
    if (!Files.exists(log)) return List.of();
    List<long[]> out = new ArrayList<>();
    for (String l : Files.readAllLines(log)) {
      String[] f = l.split(" ");
      if (f.length == 3 && f[0].equals(guest)) out.add(new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
    }
    return out;
  }

  void awaitOutputs(String host, long count) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (outputs(host).size() < count) {
      if (System.nanoTime() > deadline) throw new AssertionError(host + " released " + outputs(host).size() + " outputs");
      Thread.sleep(50); // another process writes the file
    }
  }

  static void assertConsecutiveFrom(long first, List<long[]> outputs, String what) {
    assertTrue(!outputs.isEmpty(), what + ": none");
    for (int i = 0; i < outputs.size(); i++) {
      assertEquals(first + i, outputs.get(i)[0], what + ": output " + i + " is numbered " + outputs.get(i)[0]);
    }
  }

  /**
   * After the primary host-a died and the guest failed over to host-b: host-b runs it, its memory
   * is the oracle's, no two copies ever ran at once, every output host-a released is within the
   * checkpoint host-b resumed from, and host-b's outputs continue right after it.
   */
  void assertFailedOverToB(ProtectionInfo over, long primaryDiedMicros) throws Exception {
    assertEquals("RUNNING", cluster.stateOn("host-b", guest));
    assertMatchesItsOracle("host-b");
    var runs = org.livemig.it.chaos.RunStateCheck.intervals(allRunLines(), java.util.Map.of("host-a", primaryDiedMicros));
    assertEquals(List.of(), org.livemig.it.chaos.RunStateCheck.overlaps(runs), "one copy at a time: " + runs);
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
  }
}
