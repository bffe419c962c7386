package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.pattern.StatusReply;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import akka.persistence.testkit.javadsl.PersistenceTestKit;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.messages.BeginRequest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostLedgerEvent;
import org.livemig.messages.HostReply;
import org.livemig.messages.InitialFill;
import org.livemig.messages.SetParametersRequest;

/**
 * What a host says is what it will say after a restart: an answer goes out only once the ledger
 * holds it, and a command held back executes only if its epoch is still the one the host follows.
 */
class HostAnswersTest {
  static ActorTestKit kit;
  static PersistenceTestKit journal;
  static DataPlaneServer dataPlane;
  static ActorRef<HostAgent.Command> host;

  @BeforeAll
  static void up() {
    kit = ActorTestKit.create(ConfigFactory.parseMap(Map.of("livemig.host.id", "host-l"))
        .withFallback(PersistenceTestKitPlugin.getInstance().config())
        .withFallback(PersistenceTestKitSnapshotPlugin.config())
        .withFallback(ConfigFactory.load()));
    journal = PersistenceTestKit.create(kit.system());
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
        .setPageCount(64).setSeed(1).setInitialFill(InitialFill.FILL_PATTERN).build(), true, p.ref()));
    assertTrue(p.receiveMessage().isSuccess());
  }

  private static HostCommand begin(String migration, long epoch, String guest) {
    return HostCommand.newBuilder().setMigrationId(migration).setEpoch(epoch).setStep(1)
        .setBegin(BeginRequest.newBuilder().setGuestId(guest)).build();
  }

  private static boolean ledgerHoldsAnswer(String migration) {
    return journal.persistedInStorage("Host|host-l").stream().anyMatch(e -> e instanceof HostLedgerEvent l
        && l.hasAnswered() && l.getAnswered().getMigrationId().equals(migration));
  }

  @Test
  void anAnswerGoesOutOnlyOnceTheLedgerHoldsIt() {
    createGuest("g-durable");
    // The guest's own ledger record is written after CreateGuest answers: the failure must hit the answer's.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (journal.persistedInStorage("Host|host-l").stream().noneMatch(e -> e instanceof HostLedgerEvent l
        && l.hasGuestOwned() && l.getGuestOwned().getGuestId().equals("g-durable"))) {
      assertTrue(System.nanoTime() < deadline, "the guest was recorded");
      Thread.onSpinWait();
    }
    TestProbe<HostAgent.Reply> coordinator = kit.createTestProbe();
    journal.failNextPersisted("Host|host-l");
    host.tell(new HostAgent.Control(begin("m-durable", 1, "g-durable"), coordinator.ref()));
    // The write failed: nothing was said that a restarted host might not repeat.
    coordinator.expectNoMessage(Duration.ofMillis(800));
    assertFalse(ledgerHoldsAnswer("m-durable"));
    // The coordinator asks again: the same answer is written again, then told; Begin ran once.
    host.tell(new HostAgent.Control(begin("m-durable", 1, "g-durable"), coordinator.ref()));
    HostReply answer = ((HostAgent.Answered) coordinator.receiveMessage(Duration.ofSeconds(10))).reply();
    assertTrue(answer.getOk(), answer.getError());
    assertTrue(ledgerHoldsAnswer("m-durable"));
  }

  @Test
  void aHeldCommandFromAnEpochOvertakenMeanwhileIsRefused() {
    createGuest("g-held");
    TestProbe<akka.Done> set = kit.createTestProbe();
    host.tell(new HostAgent.SetFaults(HostSettings.Faults.hold("BEGIN", Duration.ofMillis(500)), set.ref()));
    set.receiveMessage();
    try {
      TestProbe<HostAgent.Reply> old = kit.createTestProbe();
      host.tell(new HostAgent.Control(begin("m-held", 1, "g-held"), old.ref()));
      // A newer incarnation speaks while Begin is held (a non-step command moves the epoch on).
      TestProbe<HostAgent.Reply> newer = kit.createTestProbe();
      host.tell(new HostAgent.Control(HostCommand.newBuilder().setMigrationId("m-held").setEpoch(2)
          .setSetParameters(SetParametersRequest.newBuilder().setDowntimeLimitMs(100)).build(), newer.ref()));
      HostReply late = ((HostAgent.Answered) old.receiveMessage(Duration.ofSeconds(10))).reply();
      assertFalse(late.getOk(), "the held Begin of epoch 1 must not run after epoch 2 spoke");
      assertTrue(late.getError().contains("stale epoch 1"), late.getError());
    } finally {
      host.tell(new HostAgent.SetFaults(HostSettings.Faults.none(), set.ref()));
      set.receiveMessage();
    }
    // The guest was never handed to the held Begin: another migration may take it.
    TestProbe<HostAgent.Reply> next = kit.createTestProbe();
    host.tell(new HostAgent.Control(begin("m-held-2", 1, "g-held"), next.ref()));
    HostReply begun = ((HostAgent.Answered) next.receiveMessage(Duration.ofSeconds(10))).reply();
    assertTrue(begun.getOk(), begun.getError());
  }
}
