package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.livemig.engine.coordinator.AdmissionControl.Answer;
import org.livemig.engine.coordinator.AdmissionControl.Kind;

/**
 * Admission control's queue and granted slots are in its journal: an incarnation on another
 * node (here: the same actor started again) knows who runs and who waits, in order.
 */
class AdmissionControlRecoveryTest {
  static final ActorTestKit kit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseString("""
          livemig.admission.max-outbound-per-host = 1
          livemig.admission.reconcile-interval = 1h
          """))
      .withFallback(ConfigFactory.load()));

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  private static Answer request(ActorRef<AdmissionControl.Command> admission, String id, String destination,
      TestProbe<Answer> probe) {
    admission.tell(new AdmissionControl.Request(id, "host-a", destination, probe.getRef()));
    return probe.receiveMessage();
  }

  @Test
  void queueAndGrantsSurviveARestart() {
    TestProbe<Answer> first = kit.createTestProbe();
    TestProbe<Answer> second = kit.createTestProbe();
    TestProbe<Answer> third = kit.createTestProbe();
    ActorRef<AdmissionControl.Command> admission = kit.spawn(AdmissionControl.create());
    assertEquals(new Answer("m1", Kind.GRANTED, 0), request(admission, "m1", "host-b", first));
    assertEquals(new Answer("m2", Kind.QUEUED, 1), request(admission, "m2", "host-c", second));
    assertEquals(new Answer("m3", Kind.QUEUED, 2), request(admission, "m3", "host-d", third));

    kit.stop(admission);
    ActorRef<AdmissionControl.Command> again = kit.spawn(AdmissionControl.create());
    // Repeated requests (a coordinator asks again while QUEUED) answer the replayed state.
    assertEquals(new Answer("m3", Kind.QUEUED, 2), request(again, "m3", "host-d", third));
    assertEquals(new Answer("m2", Kind.QUEUED, 1), request(again, "m2", "host-c", second));
    assertEquals(new Answer("m1", Kind.GRANTED, 0), request(again, "m1", "host-b", first));

    // m1 ends: host-a's one outbound slot goes to m2, the first in line, not to m3.
    again.tell(new AdmissionControl.Release("m1", first.getRef()));
    assertEquals(new Answer("m1", Kind.RELEASED, 0), first.receiveMessage());
    assertEquals(new Answer("m2", Kind.GRANTED, 0), second.receiveMessage());
    third.expectNoMessage(java.time.Duration.ofMillis(200));
    // A release repeated (its acknowledgement lost) changes nothing.
    again.tell(new AdmissionControl.Release("m1", first.getRef()));
    assertEquals(new Answer("m1", Kind.RELEASED, 0), first.receiveMessage());
    assertEquals(new Answer("m3", Kind.QUEUED, 1), request(again, "m3", "host-d", third));

    // A cancel while queued: m3's place goes; m2's end frees the slot for nobody.
    again.tell(new AdmissionControl.Release("m3", third.getRef()));
    assertEquals(new Answer("m3", Kind.RELEASED, 0), third.receiveMessage());
    kit.stop(again);
    ActorRef<AdmissionControl.Command> third2 = kit.spawn(AdmissionControl.create());
    assertEquals(new Answer("m2", Kind.GRANTED, 0), request(third2, "m2", "host-c", second));
    TestProbe<Answer> fourth = kit.createTestProbe();
    assertEquals(new Answer("m4", Kind.QUEUED, 1), request(third2, "m4", "host-e", fourth));
  }
}
