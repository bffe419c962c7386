package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.persistence.testkit.javadsl.PersistenceTestKit;
import akka.persistence.testkit.javadsl.SnapshotTestKit;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationCompleted;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationRequested;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.PerformResult;
import org.livemig.messages.Phase;
import org.livemig.messages.PhaseCompleted;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.ResumeOwnerChosen;

/**
 * A coordinator replays journals: one written by the first schema (version 0: no epoch, no
 * schema version), and every event and snapshot passes through the livemig serializer.
 */
class JournalReplayTest {
  static final ActorTestKit kit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseString("akka.actor.serialize-messages = off"))
      .withFallback(ConfigFactory.load()));
  static final PersistenceTestKit journal = PersistenceTestKit.create(kit.system());

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  private static CoordinatorEvent v0(CoordinatorEvent.Builder b) {
    return b.setAtEpochMs(1_700_000_000_000L).build(); // schema_version left 0, as version 0 wrote it
  }

  @Test
  void aJournalFromSchemaVersionZeroReplaysToTheSameEnd() {
    String id = "m-v0";
    GuestDescription guest = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(256).build();
    List<Object> events = List.of(
        v0(CoordinatorEvent.newBuilder().setRequested(MigrationRequested.newBuilder().setMigrationId(id)
            .setGuestId("g").setSourceHost("a").setDestinationHost("b"))), // no epoch in version 0
        v0(CoordinatorEvent.newBuilder().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.BEGIN)
            .setBegin(BeginCookie.newBuilder().setGuest(guest)))),
        v0(CoordinatorEvent.newBuilder().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.PERFORM)
            .setPerform(PerformResult.newBuilder().setTotalBytes(1 << 20).setStunnedAtEpochUs(1_000_000)))),
        v0(CoordinatorEvent.newBuilder().setResumeOwnerChosen(ResumeOwnerChosen.newBuilder()
            .setOwner(ResumeOwner.DESTINATION).setOwnerToken(id + ":1:destination"))),
        v0(CoordinatorEvent.newBuilder().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.FINISH)
            .setActivate(ActivateResult.newBuilder().setRunningAtEpochUs(1_040_000)))),
        v0(CoordinatorEvent.newBuilder().setCompleted(MigrationCompleted.newBuilder().setDowntimeUs(40_000))));
    // Stored bytes are what the serializer wrote: check they read back identically.
    Serialization ser = SerializationExtension.get(kit.system());
    for (Object e : events) {
      byte[] bytes = ser.serialize(e).get();
      assertEquals(e, ser.deserialize(bytes, ser.findSerializerFor(e).identifier(),
          akka.serialization.Serializers.manifestFor(ser.findSerializerFor(e), e)).get());
    }
    journal.persistForRecovery(MigrationCoordinator.TYPE_KEY.name() + "|" + id, events);

    ActorRef<MigrationCoordinator.Command> c = kit.spawn(MigrationCoordinator.create(id, null));
    TestProbe<MigrationInfo> probe = kit.createTestProbe();
    c.tell(new MigrationCoordinator.GetStatus(probe.ref()));
    MigrationInfo info = probe.receiveMessage();
    assertEquals(MigrationStatus.COMPLETED, info.getStatus());
    assertEquals(1, info.getEpoch(), "a version-0 journal means epoch 1");
    assertEquals(40, info.getDowntimeMs());
    assertEquals(ResumeOwner.DESTINATION, info.getResumeOwner());
    assertEquals(1 << 20, info.getTransferredBytes());
  }

  @Test
  void theStateSnapshotRoundTripsThroughTheSerializer() {
    MigrationState s = MigrationState.EMPTY.apply(Events.requested(
        org.livemig.messages.StartMigration.newBuilder().setMigrationId("m-snap").setGuestId("g").setSourceHost("a")
            .setDestinationHost("b").build(), org.livemig.messages.MigrationParameters.getDefaultInstance(), 3))
        .apply(Events.cleanupDone("a"));
    Serialization ser = SerializationExtension.get(kit.system());
    byte[] bytes = ser.serialize(s).get();
    Object back = ser.deserialize(bytes, ser.findSerializerFor(s).identifier(),
        akka.serialization.Serializers.manifestFor(ser.findSerializerFor(s), s)).get();
    assertEquals(s, back);
  }

  /**
   * The source's host left during postcopy: the pages the destination lacks are gone. The flag
   * survives replay and snapshots, and recover is refused (it was accepted, and the migration
   * then sat in POSTCOPY_RECOVER for good, found by the chaos harness).
   */
  @Test
  void aPostcopyWhoseSourceLeftRefusesRecovery() {
    MigrationState s = inPostcopy("m-lost").apply(Events.postcopyPaused("b", "nothing received for 2000 ms", 900));
    Unpersisted u = new Unpersisted();
    assertNull(OperatorCommands.recover(s, u, "127.0.0.1", 7000).refusal(), "a paused postcopy with its source recovers");
    MigrationState lost = PostcopyRules.hostLost(s, u, "a").events.stream().reduce(s, MigrationState::apply,
        (x, y) -> y);
    assertTrue(lost.postcopy().sourceLost());
    assertEquals(MigrationStatus.POSTCOPY_PAUSED, lost.status());
    var refused = OperatorCommands.recover(lost, u, "", 0).refusal();
    assertNotNull(refused, "no recovery without the source");
    assertTrue(refused.getMessage().contains("source host a left the cluster"), refused.getMessage());
    Serialization ser = SerializationExtension.get(kit.system());
    byte[] bytes = ser.serialize(lost).get();
    assertEquals(lost, ser.deserialize(bytes, ser.findSerializerFor(lost).identifier(),
        akka.serialization.Serializers.manifestFor(ser.findSerializerFor(lost), lost)).get());
  }

  /**
   * The destination's host left during postcopy: FAILED, and the source is told to close its
   * postcopy channel and keep its stale copy paused (it served nobody, for good: found by the
   * chaos harness as a thread left on the source host).
   */
  @Test
  void aPostcopyWhoseDestinationLeftFailsAndTheSourceAbandonsItsChannel() {
    MigrationState s = inPostcopy("m-gone");
    Decision d = PostcopyRules.hostLost(s, new Unpersisted(), "b");
    MigrationState after = d.events.stream().reduce(s, MigrationState::apply, (x, y) -> y);
    assertEquals(MigrationStatus.FAILED, after.status());
    var told = d.afterWrite.stream().filter(a -> a instanceof Decision.TellSource).map(a -> ((Decision.TellSource) a)
        .command().build()).toList();
    assertEquals(1, told.size(), d.afterWrite.toString());
    assertTrue(told.get(0).hasAbandoned(), told.get(0).toString());
    assertTrue(told.get(0).getAbandoned().getReason().contains("stays paused"), told.get(0).toString());
    assertTrue(d.afterWrite.stream().noneMatch(a -> a instanceof Decision.Send), "no Confirm: the source is stale");
  }

  /**
   * A coordinator that starts after its migration ended tells its hosts the end again (a notice
   * told just before a crash may be lost, and a fenced arrival would stay paused for good).
   */
  @Test
  void anEndedMigrationTellsItsEndAgainWhenItsCoordinatorStarts() {
    Unpersisted u = new Unpersisted();
    MigrationState failedPostcopy = inPostcopy("m-pf").apply(Events.failedIn(Phase.CONFIRM, "destination gone"));
    assertEquals(List.of("abandoned"), told(Phases.endNotices(failedPostcopy, u)));
    MigrationState completed = inPostcopy("m-done").apply(Events.completed(1000, 2000));
    assertEquals(MigrationStatus.COMPLETED, completed.status());
    assertEquals(List.of("settled"), told(Phases.endNotices(completed, u)));
    MigrationState rolledBack = MigrationState.EMPTY.apply(Events.requested(org.livemig.messages.StartMigration
        .newBuilder().setMigrationId("m-rb").setGuestId("g").setSourceHost("a").setDestinationHost("b").build(),
        org.livemig.messages.MigrationParameters.getDefaultInstance(), 1)).apply(Events.failedIn(Phase.PREPARE, "no"));
    assertEquals(MigrationStatus.FAILED, rolledBack.status());
    assertEquals(List.of(), told(Phases.endNotices(rolledBack, u)), "a rollback's hosts heard Confirm and Discard");
  }

  /** The non-step commands a decision tells hosts, by kind. */
  private static List<String> told(Decision d) {
    return d.afterWrite.stream().map(a -> a instanceof Decision.TellSource t ? t.command().getCommandCase()
        : a instanceof Decision.TellDestination t ? t.command().getCommandCase() : null)
        .filter(java.util.Objects::nonNull).map(c -> c.name().toLowerCase()).toList();
  }

  /** A migration from a to b whose destination runs the guest with 1200 pages missing. */
  private static MigrationState inPostcopy(String id) {
    return MigrationState.EMPTY.apply(Events.requested(
        org.livemig.messages.StartMigration.newBuilder().setMigrationId(id).setGuestId("g").setSourceHost("a")
            .setDestinationHost("b").build(), org.livemig.messages.MigrationParameters.getDefaultInstance(), 1))
        .apply(Events.postcopyStarted(1200));
  }

  @Test
  void aPausedPostcopyReplaysPausedAndItsSnapshotKeepsThePostcopyRecord() {
    MigrationState s = inPostcopy("m-pc")
        .apply(Events.postcopyPaused("b", "connection closed by peer", 900))
        .apply(Events.recoveryStarted("127.0.0.1", 7000, 1))
        .apply(Events.postcopyPaused("a", "connection refused", 900));
    assertEquals(MigrationStatus.POSTCOPY_PAUSED, s.status());
    assertTrue(s.inPostcopy());
    assertEquals(new PostcopyState(true, 1, false, 900, "a: connection refused", null, false), s.postcopy());
    MigrationState resumed = s.apply(Events.recoveryStarted("127.0.0.1", 7000, 2)).apply(Events.postcopyResumed(2));
    assertEquals(MigrationStatus.POSTCOPY_ACTIVE, resumed.status());
    assertEquals(2, resumed.postcopy().recoveries());
    MigrationState complete = resumed.apply(Events.postcopyCompleted(org.livemig.messages.PagesCompleteResult
        .newBuilder().setPagesReceived(1200).setConnections(3).build()));
    assertFalse(complete.inPostcopy(), "every page arrived: the source may go");

    Serialization ser = SerializationExtension.get(kit.system());
    for (MigrationState st : List.of(s, complete)) {
      byte[] bytes = ser.serialize(st).get();
      assertEquals(st, ser.deserialize(bytes, ser.findSerializerFor(st).identifier(),
          akka.serialization.Serializers.manifestFor(ser.findSerializerFor(st), st)).get());
    }
  }
}
