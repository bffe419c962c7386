package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;

/** The destination host's ActorSystem terminates mid-Perform: the source keeps the guest. */
class HostLossTest {
  @TempDir Path dir;
  TestCluster cluster;

  @AfterEach
  void down() {
    if (cluster != null) cluster.close();
  }

  @Test
  void destinationHostDiesDuringPrecopy() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of(), "host-b", Map.of()));
    GuestDescription d = TestCluster.guest("orphan", 32, 3000);
    cluster.createGuest("host-a", d);
    MigrationParameters slow = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(8_000_000).build();
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", slow).toCompletableFuture()
        .get(10, TimeUnit.SECONDS).getMigrationId();
    cluster.awaitStatus(id, i -> i.getPhase() == Phase.PERFORM && i.getStatus() == MigrationStatus.ACTIVE,
        Duration.ofSeconds(20));
    Thread.sleep(500);
    cluster.kill("host-b");
    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(60));
    assertEquals(MigrationStatus.FAILED, done.getStatus(), done.getError());
    assertEquals(ResumeOwner.SOURCE, done.getResumeOwner());
    assertTrue(done.getError().startsWith("PERFORM: "), done.getError());
    cluster.assertExactlyOneRunningOn("host-a", d);
    assertEquals(1, cluster.cleanupRuns("host-a").get(id), "cleanup once on the surviving source");
  }
}
