package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;


import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;

/**
 * The data link between source and destination runs through a proxy. Cut mid-Perform, or
 * hung (no bytes move, nothing closes): the migration fails with a reason, the source keeps
 * running and matches the oracle, the destination copy is discarded.
 */
class DataLinkFailureTest {
  @TempDir static Path dir;
  static TestCluster cluster;
  static LinkProxy proxy;

  @BeforeAll
  static void up() throws Exception {
    proxy = LinkProxy.onFreePorts();
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

  private String startSlow(GuestDescription d) throws Exception {
    cluster.createGuest("host-a", d);
    MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(8_000_000).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", slow).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM, Duration.ofSeconds(20));
    long before = proxy.forwardedBytes();
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (proxy.forwardedBytes() < before + (1 << 20) && System.nanoTime() < deadline) Thread.sleep(20);
    assertTrue(proxy.forwardedBytes() >= before + (1 << 20), "pages flow through the link before it breaks");
    return id;
  }

  private void assertSourceKeptTheGuest(MigrationInfo done, GuestDescription d) throws Exception {
    assertEquals(MigrationStatus.FAILED, done.getStatus(), done.getError());
    assertEquals(ResumeOwner.SOURCE, done.getResumeOwner());
    assertTrue(done.getError().startsWith("PERFORM: "), done.getError());
    cluster.assertExactlyOneRunningOn("host-a", d);
    assertTrue(cluster.guestOn("host-b", d.getGuestId()).isEmpty(), "the destination copy was discarded");
    assertEquals(1, cluster.cleanupRuns("host-a").get(done.getMigrationId()));
    assertEquals(1, cluster.cleanupRuns("host-b").get(done.getMigrationId()));
  }

  @Test
  void linkCutDuringPrecopy() throws Exception {
    GuestDescription d = TestCluster.guest("cut-link", 32, 3000);
    String id = startSlow(d);
    proxy.cut();
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(30));
    assertSourceKeptTheGuest(done, d);
  }

  @Test
  void linkHangsDuringPrecopy() throws Exception {
    GuestDescription d = TestCluster.guest("hung-link", 32, 3000);
    String id = startSlow(d);
    proxy.blackhole();
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(30));
    assertSourceKeptTheGuest(done, d);
    assertTrue(done.getError().contains("stalled") || done.getError().contains("no data for"),
        "the reason names the stall: " + done.getError());
  }
}
