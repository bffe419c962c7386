package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.client.ProtectionClient;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;

/**
 * The shipped node file gives a node both roles: a protection's coordinator may run on its
 * primary's own node. That host must not be taken for lost (its agent's path there has no host
 * and port; the host's answers carry its cluster address): replication goes on, nothing fails over.
 */
class ProtectionColocatedTest {
  @TempDir static Path dir;
  static TestCluster cluster;

  @BeforeAll
  static void up() throws Exception {
    // No coordinator node: host-a is the only one with the coordinator role, so it runs the protection's coordinator.
    cluster = new TestCluster(dir, 0, Map.of("host-a", Map.of("akka.cluster.roles", List.of("host", "coordinator")),
        "host-b", Map.of()), null);
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  @Test
  void aCoordinatorOnThePrimarysNodeKeepsReplicating() throws Exception {
    GuestDescription d = TestCluster.guest("colocated", 8, 2000);
    cluster.createGuest("host-a", d);
    ProtectionClient protections = new ProtectionClient(cluster.hosts.get("host-b").system());
    protections.protect(d.getGuestId(), "host-a", "host-b", 25, false).toCompletableFuture().get(30, TimeUnit.SECONDS);
    ProtectionInfo first = await(protections, d, i -> i.getState() == ProtectionState.REPLICATING && i.getCheckpoints() >= 10);
    // Several of the coordinator's membership checks (one a second) later: still replicating, same epoch.
    ProtectionInfo later = await(protections, d, i -> i.getCheckpoints() >= first.getCheckpoints() + 120
        || i.getState() != ProtectionState.REPLICATING);
    assertEquals(ProtectionState.REPLICATING, later.getState(), later.getReason());
    assertEquals(first.getEpoch(), later.getEpoch());
    assertEquals(ProtectionState.UNPROTECTED, protections.unprotect(d.getGuestId(), "done").toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getState());
  }

  private static ProtectionInfo await(ProtectionClient protections, GuestDescription d, Predicate<ProtectionInfo> p)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
    ProtectionInfo last = null;
    while (System.nanoTime() < deadline) {
      last = protections.status(d.getGuestId()).toCompletableFuture().get(10, TimeUnit.SECONDS);
      if (p.test(last)) return last;
      Thread.sleep(20); // the protection advances in the cluster
    }
    throw new AssertionError("never reached the expected state: " + last);
  }
}
