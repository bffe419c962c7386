package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import akka.persistence.testkit.javadsl.PersistenceTestKit;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.StartMigration;

/**
 * A coordinator that takes over in Perform with after-restart-in-perform = rollback rolls back,
 * except once the switchover marker is in the journal: its predecessor may have sent Activate,
 * so resuming the source blindly could leave the guest running twice.
 */
class TakeoverAfterSwitchoverMarkerTest {
  static final ActorTestKit kit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseString("""
          akka.actor.serialize-messages = off
          livemig.coordinator.after-restart-in-perform = rollback
          livemig.coordinator.host-lookup-timeout = 1h
          """))
      .withFallback(ConfigFactory.load()));
  static final PersistenceTestKit journal = PersistenceTestKit.create(kit.system());

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  private static List<CoordinatorEvent> inPerform(String id, boolean marked) {
    GuestDescription g = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(256).build();
    List<CoordinatorEvent> events = new ArrayList<>(List.of(
        Events.requested(StartMigration.newBuilder().setMigrationId(id).setGuestId("g").setSourceHost("nowhere-a")
            .setDestinationHost("nowhere-b").build(), MigrationParameters.getDefaultInstance(), 1),
        Events.begun(BeginCookie.newBuilder().setGuest(g).build()),
        Events.prepared(PrepareCookie.newBuilder().setDataHost("127.0.0.1").setDataPort(1).setToken("t").build())));
    if (marked) events.add(Events.switchoverStarted(1_000_000));
    return events;
  }

  /** The events the new incarnation wrote when it took over. */
  private static List<CoordinatorEvent> takeOver(String id, List<CoordinatorEvent> journalled) {
    String pid = MigrationCoordinator.TYPE_KEY.name() + "|" + id;
    journal.persistForRecovery(pid, new ArrayList<>(journalled));
    kit.spawn(MigrationCoordinator.create(id, null));
    List<CoordinatorEvent> written = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (written.isEmpty() && System.nanoTime() < deadline) {
      written.clear();
      for (Object e : journal.persistedInStorage(pid)) written.add((CoordinatorEvent) e);
      written = new ArrayList<>(written.subList(journalled.size(), written.size()));
      if (written.isEmpty()) sleep();
    }
    return written;
  }

  private static void sleep() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Test
  void beforeTheMarkerTheTakeoverRollsBack() {
    List<CoordinatorEvent> written = takeOver("m-unmarked", inPerform("m-unmarked", false));
    assertTrue(written.stream().anyMatch(CoordinatorEvent::hasRestarted), written.toString());
    assertTrue(written.stream().anyMatch(e -> e.hasResumeOwnerChosen()), "rolled back: " + written);
  }

  @Test
  void afterTheMarkerTheTakeoverContinuesInsteadOfResumingTheSource() {
    List<CoordinatorEvent> written = takeOver("m-marked", inPerform("m-marked", true));
    assertTrue(written.stream().anyMatch(CoordinatorEvent::hasRestarted), written.toString());
    assertFalse(written.stream().anyMatch(e -> e.hasResumeOwnerChosen()), "no rollback: " + written);
  }
}
