package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.persistence.testkit.JournalOperation;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import akka.persistence.testkit.ProcessingResult;
import akka.persistence.testkit.ProcessingSuccess$;
import akka.persistence.testkit.WriteEvents;
import akka.persistence.testkit.javadsl.PersistenceTestKit;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.livemig.engine.coordinator.AdmissionControl.Answer;
import org.livemig.engine.coordinator.AdmissionControl.Kind;
import org.livemig.messages.AdmissionEvent;

/**
 * A burst of starts (README "Many migrations at once"): the requests that arrive while admission
 * control's journal write is in flight are written together in the next write, in arrival order,
 * and a queued coordinator's repeated request is answered at once, not held behind the write.
 * (Held, thousands of repeats overflowed the stack when Akka 2.6 replayed them from its stash.)
 */
class AdmissionControlBurstTest {
  static final ActorTestKit kit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseString("""
          livemig.admission.max-outbound-per-host = 1
          livemig.admission.reconcile-interval = 1h
          akka.jvm-exit-on-fatal-error = off
          """))
      .withFallback(ConfigFactory.load()));

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  /** Records each write's events; the first write after hold() waits until release. */
  static final class HeldJournal implements akka.persistence.testkit.ProcessingPolicy<JournalOperation> {
    final List<List<AdmissionEvent>> writes = new CopyOnWriteArrayList<>();
    final CountDownLatch holding = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    @Override
    public ProcessingResult tryProcess(String persistenceId, JournalOperation op) {
      if (op instanceof WriteEvents w && persistenceId.equals(AdmissionControl.PERSISTENCE_ID)) {
        writes.add(w.getBatch().stream().map(e -> (AdmissionEvent) e).toList());
        if (writes.size() == 1) {
          holding.countDown();
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }
      return ProcessingSuccess$.MODULE$;
    }
  }

  @Test
  void requestsArrivingDuringAWriteAreWrittenTogetherAndRepeatsAreAnsweredAtOnce() throws Exception {
    PersistenceTestKit journal = PersistenceTestKit.create(kit.system());
    TestProbe<Answer> first = kit.createTestProbe();
    ActorRef<AdmissionControl.Command> admission = kit.spawn(AdmissionControl.create());
    admission.tell(new AdmissionControl.Request("m1", "host-a", "host-b", first.getRef()));
    assertEquals(new Answer("m1", Kind.GRANTED, 0), first.receiveMessage());

    HeldJournal held = new HeldJournal();
    journal.withPolicy(held);
    TestProbe<Answer> burst = kit.createTestProbe();
    admission.tell(new AdmissionControl.Request("m2", "host-a", "host-c", burst.getRef()));
    assertTrue(held.holding.await(30, TimeUnit.SECONDS), "m2's write reached the journal");
    // While m2's write hangs: 50 more starts out of host-a (its one slot is m1's), and m1's
    // coordinator asking again and again, as 3000 queued coordinators would every retry.
    for (int i = 3; i <= 52; i++) {
      admission.tell(new AdmissionControl.Request("m" + i, "host-a", "host-" + i, burst.getRef()));
    }
    for (int i = 0; i < 3000; i++) admission.tell(new AdmissionControl.Request("m1", "host-a", "host-b", first.getRef()));
    List<Answer> repeats = first.receiveSeveralMessages(3000, Duration.ofSeconds(30));
    assertTrue(repeats.stream().allMatch(a -> a.equals(new Answer("m1", Kind.GRANTED, 0))), repeats.get(0).toString());
    assertEquals(1, held.writes.size(), "nothing else written while m2's write is in flight");

    held.release.countDown();
    List<Answer> answers = burst.receiveSeveralMessages(51, Duration.ofSeconds(30));
    for (int i = 0; i < 51; i++) assertEquals(new Answer("m" + (i + 2), Kind.QUEUED, i + 1), answers.get(i));
    // Two writes: m2's, then the 50 that arrived meanwhile, in arrival order.
    assertEquals(2, held.writes.size(), "writes: " + held.writes.stream().map(List::size).toList());
    List<AdmissionEvent> second = held.writes.get(1);
    assertEquals(50, second.size());
    for (int i = 0; i < 50; i++) assertEquals("m" + (i + 3), second.get(i).getRequested().getMigrationId());

    // m1 ends: its slot goes to m2, the first in line, as when each request was written alone.
    admission.tell(new AdmissionControl.Release("m1", first.getRef()));
    assertEquals(new Answer("m1", Kind.RELEASED, 0), first.receiveMessage());
    assertEquals(new Answer("m2", Kind.GRANTED, 0), burst.receiveMessage());
    journal.resetPolicy();
  }
}
