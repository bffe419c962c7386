package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.javadsl.AskPattern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.LivemigNode;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.BeginRequest;
import org.livemig.messages.FinishRequest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * A host restarts (its node stops and a new one starts with the same host id and journal): it
 * still knows which migrations it answered, in which epoch, and which guests it owned.
 */
class HostRestartTest {
  @TempDir Path dir;
  TestCluster cluster;
  LivemigNode restarted;

  @AfterEach
  void down() {
    if (restarted != null) restarted.close(TestCluster.CLOSE_GRACE);
    if (cluster != null) cluster.close();
  }

  private static HostReply ask(LivemigNode host, HostCommand cmd) {
    TestProbe<HostAgent.Reply> probe = TestProbe.create(host.system());
    host.hostAgent().tell(new HostAgent.Control(cmd, probe.ref()));
    return ((HostAgent.Answered) probe.receiveMessage(Duration.ofSeconds(10))).reply();
  }

  @Test
  void aRestartedHostRemembersItsAnswersAndItsGuests() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of(), "host-b", Map.of()));
    GuestDescription d = TestCluster.guest("survivor", 8, 1000);
    cluster.createGuest("host-a", d);
    MigrationInfo done = cluster.awaitEnd(cluster.client.start(d.getGuestId(), "host-a", "host-b",
        MigrationParameters.getDefaultInstance()).toCompletableFuture().get(10, TimeUnit.SECONDS).getMigrationId(),
        Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError());
    String id = done.getMigrationId();

    cluster.kill("host-b");
    restarted = LivemigNode.start(LivemigNode.localConfig("host-b", List.of("host"), cluster.journal, Map.of()));
    restarted.join(cluster.manager.address());

    List<String> lost = AskPattern.<HostAgent.Command, List<String>>ask(restarted.hostAgent(),
        HostAgent.ListLostGuests::new, Duration.ofSeconds(10), restarted.system().scheduler())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(List.of(d.getGuestId()), lost, "the guest it owned is known, and known to be lost");

    // Finish (step 4), which ran the guest once the copy was whole, again: the earlier answer,
    // not a second activation.
    HostReply again = ask(restarted, HostCommand.newBuilder().setMigrationId(id).setEpoch(1).setStep(4)
        .setFinish(FinishRequest.newBuilder().setActivateWhenComplete(true).setOwnerToken("whatever")).build());
    assertTrue(again.getOk(), again.getError());
    assertTrue(again.getFinish().hasActivated(), again.toString());
    assertEquals(done.getDowntimeMs() >= 0, again.getFinish().getActivated().getRunningAtEpochUs() > 0);

    // Epoch fencing survives the restart.
    HostReply stale = ask(restarted, HostCommand.newBuilder().setMigrationId(id).setEpoch(0).setStep(4)
        .setFinish(FinishRequest.getDefaultInstance()).build());
    assertFalse(stale.getOk());
    assertTrue(stale.getError().contains("stale epoch 0"), stale.getError());

    // Migrating the lost guest away is refused with the reason.
    HostReply begin = ask(restarted, HostCommand.newBuilder().setMigrationId("m-after").setEpoch(1).setStep(1)
        .setBegin(BeginRequest.newBuilder().setGuestId(d.getGuestId())).build());
    assertFalse(begin.getOk());
    assertTrue(begin.getError().contains("was lost when host host-b restarted"), begin.getError());
  }
}
