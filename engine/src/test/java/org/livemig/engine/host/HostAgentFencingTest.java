package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.pattern.StatusReply;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.messages.BeginRequest;
import org.livemig.messages.ConfirmRequest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.InitialFill;

/** Epoch fencing and deduplication of phase commands on one host. */
class HostAgentFencingTest {
  static ActorTestKit kit;
  static DataPlaneServer dataPlane;
  static ActorRef<HostAgent.Command> host;

  @BeforeAll
  static void up() {
    // The host's ledger journals to the in-memory persistence test kit here.
    kit = ActorTestKit.create(ConfigFactory.parseMap(Map.of("livemig.host.id", "host-t"))
        .withFallback(akka.persistence.testkit.PersistenceTestKitPlugin.getInstance().config())
        .withFallback(akka.persistence.testkit.PersistenceTestKitSnapshotPlugin.config())
        .withFallback(ConfigFactory.load()));
    HostSettings settings = HostSettings.fromConfig(kit.system().settings().config());
    dataPlane = new DataPlaneServer("127.0.0.1", 0, settings.dataPlane());
    dataPlane.start();
    host = kit.spawn(HostAgent.create(settings, dataPlane), "host");
  }

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
    dataPlane.close();
  }

  private static void createGuest(String id) {
    TestProbe<StatusReply<HostAgent.GuestView>> p = kit.createTestProbe();
    host.tell(new HostAgent.CreateGuest(GuestDescription.newBuilder().setGuestId(id).setPageSize(4096)
        .setPageCount(256).setSeed(1).setDirtyPagesPerSecond(1000).setHotPages(16).setHotPerMille(500)
        .setInitialFill(InitialFill.FILL_PATTERN).build(), true, p.ref()));
    assertTrue(p.receiveMessage().isSuccess());
  }

  private static HostCommand begin(String migration, long epoch, String guest) {
    return HostCommand.newBuilder().setMigrationId(migration).setEpoch(epoch).setStep(1)
        .setBegin(BeginRequest.newBuilder().setGuestId(guest)).build();
  }

  private static HostReply send(HostCommand cmd, TestProbe<HostAgent.Reply> coordinator) {
    host.tell(new HostAgent.Control(cmd, coordinator.ref()));
    return ((HostAgent.Answered) coordinator.receiveMessage(Duration.ofSeconds(5))).reply();
  }

  @Test
  void aCommandFromAnOlderEpochIsRefused() {
    createGuest("g-fence");
    TestProbe<HostAgent.Reply> coordinator = kit.createTestProbe();
    HostReply current = send(begin("m-fence", 2, "g-fence"), coordinator);
    assertTrue(current.getOk(), current.getError());
    HostReply stale = send(begin("m-fence", 1, "g-fence"), coordinator);
    assertFalse(stale.getOk());
    assertTrue(stale.getError().contains("stale epoch 1 refused: host follows epoch 2"), stale.getError());
  }

  @Test
  void aRepeatedCommandGetsItsEarlierAnswerAndRunsOnce() {
    createGuest("g-dup");
    TestProbe<HostAgent.Reply> coordinator = kit.createTestProbe();
    HostReply first = send(begin("m-dup", 1, "g-dup"), coordinator);
    HostReply again = send(begin("m-dup", 1, "g-dup"), coordinator);
    assertTrue(first.getOk(), first.getError());
    assertEquals(first, again, "the same answer, not a second execution");
    // A new incarnation repeating the step gets the same answer in its own epoch.
    HostReply takeover = send(begin("m-dup", 2, "g-dup"), coordinator);
    assertEquals(first.getBegin(), takeover.getBegin());
    assertEquals(2, takeover.getEpoch());
    // A second migration of the same guest is a conflict while the first one holds it.
    HostReply conflict = send(begin("m-dup-2", 1, "g-dup"), coordinator);
    assertFalse(conflict.getOk());
    assertTrue(conflict.getError().contains("already migrating (migration m-dup)"), conflict.getError());
  }

  @Test
  void aRollbackBeforeBeginMakesTheLateBeginHarmless() {
    createGuest("g-late");
    TestProbe<HostAgent.Reply> coordinator = kit.createTestProbe();
    HostCommand confirm = HostCommand.newBuilder().setMigrationId("m-late").setEpoch(1).setStep(6)
        .setConfirm(ConfirmRequest.newBuilder().setSuccess(false).setReason("cancelled")).build();
    HostReply rolledBack = send(confirm, coordinator);
    assertTrue(rolledBack.getOk(), rolledBack.getError());
    assertTrue(rolledBack.getConfirm().getSourceRunning());
    HostReply late = send(begin("m-late", 1, "g-late"), coordinator);
    assertFalse(late.getOk(), "a Begin that arrives after the rollback must not start a migration");
    assertTrue(late.getError().contains("already ended"), late.getError());
    TestProbe<java.util.Map<String, Integer>> runs = kit.createTestProbe();
    host.tell(new HostAgent.GetCleanupRuns(runs.ref()));
    assertEquals(1, runs.receiveMessage().get("m-late"), "cleanup ran once on this path too");
  }
  @Test
  void aStopPrimaryFindingAGuestThatIsNoProtectionsPrimaryKeepsIt() {
    // The guest arrived here unprotected (after this host restarted, say): a late StopPrimary of
    // an old protection of that id must not destroy the one copy that runs.
    createGuest("g-not-primary");
    TestProbe<org.livemig.messages.ProtectionHostReply> coordinator = kit.createTestProbe();
    host.tell(new HostAgent.ProtectionControl(org.livemig.messages.ProtectionCommand.newBuilder()
        .setGuestId("g-not-primary").setGeneration(3).setEpoch(1)
        .setStopPrimary(org.livemig.messages.StopPrimary.newBuilder().setReason("failed over")).build(), coordinator.ref()));
    var reply = coordinator.receiveMessage(Duration.ofSeconds(5));
    assertTrue(reply.getOk(), reply.toString()); // no primary of that protection runs here
    TestProbe<java.util.Optional<org.livemig.engine.guest.MigratableGuest>> guest = kit.createTestProbe();
    host.tell(new HostAgent.GetGuest("g-not-primary", guest.ref()));
    assertEquals(org.livemig.engine.guest.RunState.RUNNING, guest.receiveMessage().orElseThrow().state());
  }
}
