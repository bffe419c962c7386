package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.client.ProtectionClient;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;

/**
 * The replication link between two live hosts cut or hung while checkpoints flow (host-b's data
 * port behind a {@link LinkProxy}): the primary's replication fails (a broken stream, or no ack
 * within ack-timeout), which proves the primary alive, so the protection degrades: the guest runs
 * on host-a, matching its oracle, never on host-b, and protecting it again works once the link is back.
 * The protection's coordinator runs on host-a's own node (see replicate).
 */
class ProtectionLinkTest {
  @TempDir static Path dir;
  static LinkProxy proxy;
  static TestCluster cluster;
  static ProtectionClient protections;

  @BeforeAll
  static void up() throws Exception {
    proxy = LinkProxy.onFreePorts();
    // No coordinator node: host-a has both roles (as the shipped node file gives every node), so the
    // protection's coordinator runs on its primary's own node.
    Map<String, Object> hostB = new java.util.HashMap<>(TestCluster.hostBBehind(proxy).get("host-b"));
    hostB.put("livemig.host.memory-capacity", "52MiB"); // a copy counts: see aSecondaryHoldsOnlyTheCopiesItsMemoryHolds
    hostB.put("livemig.host.datastores.local", dir.resolve("b").toString());
    Map<String, Map<String, Object>> hosts = Map.of("host-a", Map.of("livemig.host.replication.ack-timeout", "2s",
        "akka.cluster.roles", List.of("host", "coordinator"), "livemig.host.datastores.local", dir.resolve("a").toString()),
        "host-b", hostB);
    cluster = new TestCluster(dir, 0, hosts, null);
    protections = new ProtectionClient(cluster.hosts.get("host-a").system());
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

  @Test
  void aLinkCutMidCheckpointDegradesTheProtectionAndTheGuestRunsOnItsPrimary() throws Exception {
    GuestDescription d = TestCluster.guest("link-cut", 16, 3000);
    replicate(d);
    proxy.cut();
    ProtectionInfo degraded = await(d, i -> i.getState() == ProtectionState.DEGRADED);
    assertTrue(degraded.getReason().contains("secondary host-b failed on the primary host-a"), degraded.getReason());
    assertOnlyOnItsPrimary(d);
    // The link back: protected again (a new generation, its copy filled from scratch).
    proxy.heal();
    protectAgain(d);
  }

  @Test
  void aHungLinkDegradesTheProtectionAfterTheAckTimeout() throws Exception {
    GuestDescription d = TestCluster.guest("link-hung", 16, 3000);
    replicate(d);
    long hungAt = System.nanoTime();
    proxy.blackhole();
    ProtectionInfo degraded = await(d, i -> i.getState() == ProtectionState.DEGRADED);
    assertTrue(degraded.getReason().contains("secondary host-b failed on the primary host-a"), degraded.getReason());
    // The ack timeout runs from a checkpoint's end leaving the primary, and the one in flight when the
    // link hung may have left just before: 2 s less one checkpoint's round trip (well under 200 ms here).
    long waited = System.nanoTime() - hungAt;
    assertTrue(waited >= TimeUnit.MILLISECONDS.toNanos(1800), "silence is waited out (ack-timeout 2 s), not "
        + TimeUnit.NANOSECONDS.toMillis(waited) + " ms");
    assertOnlyOnItsPrimary(d);
  }

  /**
   * A StopPrimary of an older protection that reaches the primary's host late (a coordinator
   * still re-sending it) is refused there as stale: the newer protection's primary keeps running
   * and checkpointing.
   */
  @Test
  void aStaleStopPrimaryLeavesANewerProtectionsPrimaryRunning() throws Exception {
    GuestDescription d = TestCluster.guest("stale-stop", 16, 3000);
    replicate(d);
    try {
      protections.unprotect(d.getGuestId(), "").toCompletableFuture().get(30, TimeUnit.SECONDS);
      protectAgain(d); // generation 2
      ProtectionInfo before = await(d, i -> i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 10);
      var hostA = cluster.hosts.get("host-a");
      var stop = org.livemig.messages.ProtectionCommand.newBuilder().setGuestId(d.getGuestId()).setGeneration(1)
          .setEpoch(before.getEpoch()).setStopPrimary(org.livemig.messages.StopPrimary.newBuilder()
              .setReason("failed over (generation 1)")).build();
      var answer = akka.actor.typed.javadsl.AskPattern.<org.livemig.engine.host.HostAgent.Command,
          org.livemig.messages.ProtectionHostReply>ask(hostA.hostAgent(),
              r -> new org.livemig.engine.host.HostAgent.ProtectionControl(stop, r), Duration.ofSeconds(10),
              hostA.system().scheduler()).toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertFalse(answer.getOk(), answer.toString());
      assertTrue(answer.getError().contains("stale command for guest stale-stop: generation 1"), answer.getError());
      ProtectionInfo later = await(d, i -> i.getCheckpoints() >= before.getCheckpoints() + 40
          || i.getState() != ProtectionState.REPLICATING);
      assertEquals(ProtectionState.REPLICATING, later.getState(), later.getReason());
      assertEquals(2, later.getGeneration());
      cluster.assertExactlyOneRunningOn("host-a", d);
    } finally {
      protections.unprotect(d.getGuestId(), "").toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * A guest with a local disk written at queue depth 8: its copy on host-b gets a file of its own
   * (host-b's datastore), filled by the checkpoints; an operator's failover stops the primary (its
   * disk file deleted with it) and runs the copy, whose memory and disk match their oracles.
   */
  @Test
  void aGuestWithADiskFailsOverWithItsDisk() throws Exception {
    GuestDescription d = TestCluster.guest("disk-1", 8, 1000).toBuilder().addDisks(org.livemig.messages.DiskDescription
        .newBuilder().setDiskId("root").setDatastore("local").setBlockCount(4096).setQueueDepth(8)
        .setWritesPerSecond(800).setReadsPerMille(300)).build();
    cluster.createGuest("host-a", d);
    protections.protect(d.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture().get(30, TimeUnit.SECONDS);
    await(d, i -> i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 20);
    Path primaryFile = dir.resolve("a").resolve(d.getGuestId()).resolve("root.img");
    Path copyFile = dir.resolve("b").resolve(d.getGuestId()).resolve("root.img");
    assertTrue(java.nio.file.Files.exists(primaryFile) && java.nio.file.Files.exists(copyFile), "a file on each host");

    protections.failover(d.getGuestId(), "drill").toCompletableFuture().get(30, TimeUnit.SECONDS);
    ProtectionInfo over = await(d, i -> i.getState() == ProtectionState.FAILED_OVER);
    var g = cluster.assertExactlyOneRunningOn("host-b", d); // memory against its oracle
    long writes = g.disks().get(0).getWrites();
    TestCluster.awaitDiskWrites(g, writes + 50); // the failed-over guest writes its disk
    g.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
    g.drain().toCompletableFuture().get(10, TimeUnit.SECONDS);
    var disk = g.verifyDisks().get(0);
    assertTrue(disk.getBlocksChecked() > 0 && disk.getWrites() > writes, disk.toString());
    assertEquals(0, disk.getMismatches(), "the disk from checkpoint " + over.getFailoverCheckpoint() + " on: " + disk);
    assertEquals(0, disk.getOwnershipViolations(), disk.toString());
    g.run(g.ownerToken());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (java.nio.file.Files.exists(primaryFile)) {
      assertTrue(System.nanoTime() < deadline, "the stopped primary's disk file is deleted");
      Thread.sleep(20); // deleted after the primary is destroyed
    }
  }

  /**
   * A copy is memory the secondary holds: with 52 MiB on host-b (which may also hold the 8 MiB
   * guest failed over to it and 16 MiB of an earlier test's copy still being destroyed), a 28 MiB
   * guest's copy fits, a second one does not and the
   * request ends UNPROTECTED naming the shortage, nothing started; once the first is unprotected
   * (its copy destroyed) the second is protected.
   */
  @Test
  void aSecondaryHoldsOnlyTheCopiesItsMemoryHolds() throws Exception {
    GuestDescription first = TestCluster.guest("cap-1", 28, 1000);
    GuestDescription second = TestCluster.guest("cap-2", 28, 1000);
    cluster.createGuest("host-a", first);
    cluster.createGuest("host-a", second);
    protections.protect(first.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture().get(30, TimeUnit.SECONDS);
    await(first, i -> i.getState() == ProtectionState.REPLICATING);
    protections.protect(second.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture().get(30, TimeUnit.SECONDS);
    ProtectionInfo refused = await(second, i -> i.getState() == ProtectionState.UNPROTECTED);
    assertTrue(refused.getReason().contains("not enough memory on host-b"), refused.getReason());
    assertEquals(ProtectionState.REPLICATING, protections.status(first.getGuestId()).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getState(), "the first protection is untouched");
    cluster.assertExactlyOneRunningOn("host-a", second);

    protections.unprotect(first.getGuestId(), "").toCompletableFuture().get(30, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try { // 409 while the refused generation's End is confirmed; refused again while host-b holds the first copy
        protections.protect(second.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
        ProtectionInfo i = await(second, x -> x.getState() != ProtectionState.SYNCING);
        if (i.getState() == ProtectionState.REPLICATING) break;
        assertTrue(i.getReason().contains("not enough memory"), i.toString());
      } catch (java.util.concurrent.ExecutionException e) {
        assertTrue(e.getMessage().contains("still ending"), e.getMessage());
      }
      assertTrue(System.nanoTime() < deadline, "host-b never had room for the second copy");
      Thread.sleep(200); // the first copy's End is on its way to host-b
    }
    protections.unprotect(second.getGuestId(), "").toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /**
   * Protected and replicating, and still so under the same epoch after several of the coordinator's
   * membership checks (one a second): its host, on the coordinator's own node, is not taken for
   * lost (its agent's path there has no host and port; the host's answers carry its address).
   */
  private void replicate(GuestDescription d) throws Exception {
    cluster.createGuest("host-a", d);
    protections.protect(d.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture().get(30, TimeUnit.SECONDS);
    ProtectionInfo first = await(d, i -> i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 10);
    ProtectionInfo later = await(d, i -> i.getCheckpoints() >= first.getCheckpoints() + 100
        || i.getState() != ProtectionState.REPLICATING);
    assertEquals(ProtectionState.REPLICATING, later.getState(), later.getReason());
    assertEquals(first.getEpoch(), later.getEpoch());
  }

  /**
   * Degraded by the primary's own report: its checkpointer has ended, and the End the coordinator
   * sends it then runs the guest again if its lease had paused it meanwhile (no ack came).
   */
  private void assertOnlyOnItsPrimary(GuestDescription d) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cluster.guestOn("host-a", d.getGuestId()).map(g -> g.state() != org.livemig.engine.guest.RunState.RUNNING)
        .orElse(true)) {
      if (System.nanoTime() > deadline) throw new AssertionError("the guest never ran again on host-a");
      Thread.sleep(20); // the End is on its way to host-a
    }
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "host-b holds no guest of it");
    cluster.assertExactlyOneRunningOn("host-a", d);
  }

  private void protectAgain(GuestDescription d) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try { // refused while the hosts confirm the last protection's end
        ProtectionInfo i = protections.protect(d.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture()
            .get(15, TimeUnit.SECONDS);
        assertEquals(2, i.getGeneration());
        break;
      } catch (java.util.concurrent.ExecutionException e) {
        if (System.nanoTime() > deadline) throw e;
        Thread.sleep(100); // the End's answers are on their way
      }
    }
    await(d, i -> i.getGeneration() == 2 && i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 5);
  }

  private ProtectionInfo await(GuestDescription d, Predicate<ProtectionInfo> p) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    ProtectionInfo last = null;
    while (System.nanoTime() < deadline) {
      last = protections.status(d.getGuestId()).toCompletableFuture().get(10, TimeUnit.SECONDS);
      if (p.test(last)) return last;
      Thread.sleep(20); // the protection advances in the cluster
    }
    throw new AssertionError("never reached the expected state: " + last);
  }
}
