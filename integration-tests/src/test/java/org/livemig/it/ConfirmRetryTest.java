package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.host.HostSettings;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * The guest runs on the destination but the source does not answer Confirm: its stunned copy
 * must still be destroyed, so Confirm is asked again (the status and GET /hosts show the copy
 * meanwhile) instead of the migration ending COMPLETED with a copy left behind.
 */
class ConfirmRetryTest {
  @TempDir Path dir;
  TestCluster cluster;

  @AfterEach
  void down() {
    if (cluster != null) cluster.close();
  }

  @Test
  void anUnansweredConfirmIsAskedAgainUntilTheSourceCopyIsGone() throws Exception {
    int httpPort;
    try (ServerSocket s = new ServerSocket(0)) {
      httpPort = s.getLocalPort();
    }
    cluster = new TestCluster(dir, Map.of("host-a", Map.of("livemig.http.port", httpPort), "host-b", Map.of()));
    GuestDescription d = TestCluster.guest("unconfirmed", 4, 1000);
    cluster.createGuest("host-a", d);
    // Longer than Confirm's timer (step-timeout 5s plus host-lookup-timeout 5s): one retry at least.
    CrashScenario.setFaults(cluster.hosts.get("host-a"), HostSettings.Faults.hold("CONFIRM", Duration.ofSeconds(14)));
    String id = cluster.client.start(d.getGuestId(), "host-a", "host-b", MigrationParameters.getDefaultInstance())
        .toCompletableFuture().get(10, TimeUnit.SECONDS).getMigrationId();

    MigrationInfo pending = cluster.awaitStatus(id, i -> !i.getSourceUnconfirmed().isEmpty(), Duration.ofSeconds(40));
    assertEquals(Phase.CONFIRM, pending.getPhase(), pending.toString());
    assertNotEquals(MigrationStatus.COMPLETED, pending.getStatus(), "not complete while the source copy exists");
    assertTrue(pending.getSourceUnconfirmed().contains("did not answer CONFIRM"), pending.getSourceUnconfirmed());
    var hosts = OperatorCredentials.https(Duration.ofSeconds(10)).send(HttpRequest.newBuilder(
        URI.create(cluster.hosts.get("host-a").httpUri() + "/hosts")).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + OperatorCredentials.readOnly(dir)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, hosts.statusCode(), hosts.body());
    assertTrue(hosts.body().matches(".*\"host_id\":\"host-a\"[^}]*\"unconfirmed_source_copies\":1.*"), hosts.body());

    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(40));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    cluster.assertExactlyOneRunningOn("host-b", d);
    assertTrue(cluster.guestOn("host-a", d.getGuestId()).isEmpty(), "the source copy is gone");
  }
}
