package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.guest.disk.Datastores;
import org.livemig.engine.guest.disk.DiskFaults;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.engine.guest.disk.OtherDiskException;
import org.livemig.engine.host.LeftoverDiskFiles.Fate;
import org.livemig.engine.serialization.LivemigSerializer;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskFilesCreated;
import org.livemig.messages.FinishResult;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostReply;
import org.livemig.messages.PrepareCookie;

/**
 * What a restarted host does with the disk files it created as a migration's destination: the
 * ledger's record of them, the fate of each record (situation -> fate), and the deletion that
 * touches only the file created here.
 */
class LeftoverDiskFilesTest {
  @TempDir Path dir;

  private static GuestDescription guest(String id) {
    return GuestDescription.newBuilder().setGuestId(id).setPageSize(4096).setPageCount(16).addDisks(DiskDescription
        .newBuilder().setDiskId("root").setDatastore("local").setBlockCount(64).setWritesPerSecond(10)).build();
  }

  private static DiskFilesCreated record(String migrationId, String identity) {
    GuestDescription g = guest("g");
    return DiskFilesCreated.newBuilder().setMigrationId(migrationId).addPaths("/d/g/root.img")
        .setGuest(g.toBuilder().setDisks(0, g.getDisks(0).toBuilder().setIdentity(identity))).build();
  }

  private static HostLedger.State ledger(DiskFilesCreated files, HostReply... answers) {
    HostLedger.State s = HostLedger.State.empty();
    s.apply(HostLedger.answered(HostReply.newBuilder().setMigrationId(files.getMigrationId()).setStep(2).setOk(true)
        .setPrepare(PrepareCookie.newBuilder().setDestinationHost("host-b")).build()));
    s.apply(HostLedger.filesCreated(files));
    for (HostReply r : answers) s.apply(HostLedger.answered(r));
    return s;
  }

  private static HostReply answer(String migrationId, int step, boolean ok) {
    return HostReply.newBuilder().setMigrationId(migrationId).setStep(step).setOk(ok).build();
  }

  @Test
  void eachSituationHasItsFate() {
    DiskFilesCreated f = record("m", "id-1");
    assertEquals(Fate.DELETE, LeftoverDiskFiles.fate(ledger(f), f), "prepared, then the host died mid-copy");
    assertEquals(Fate.DELETE, LeftoverDiskFiles.fate(ledger(f, answer("m", 3, false)), f), "a failed step");
    assertEquals(Fate.DELETE, LeftoverDiskFiles.fate(ledger(f, answer("m", 4, true).toBuilder()
        .setFinish(FinishResult.newBuilder().setComplete(false)).build()), f), "Finish: the copy incomplete");
    assertEquals(Fate.KEEP_WHOLE_COPY, LeftoverDiskFiles.fate(ledger(f, answer("m", 4, true).toBuilder()
        .setFinish(FinishResult.newBuilder().setComplete(true)).build()), f), "Finish: whole (the owner may be here)");
    assertEquals(Fate.KEEP_WHOLE_COPY, LeftoverDiskFiles.fate(ledger(f, answer("m", 5, true).toBuilder()
        .setActivate(ActivateResult.getDefaultInstance()).build()), f), "activated here");

    // The guest ran here (adopted, owned) but the host died before its answer was written.
    HostLedger.State owned = ledger(f);
    owned.apply(HostLedger.owned(f.getGuest()));
    assertEquals(Fate.KEEP_OWNED_GUESTS_DISK, LeftoverDiskFiles.fate(owned, f));
    // A guest of that id owned here on other files (another identity) does not keep this one.
    HostLedger.State other = ledger(f);
    other.apply(HostLedger.owned(record("m0", "id-0").getGuest()));
    assertEquals(Fate.DELETE, LeftoverDiskFiles.fate(other, f));
  }

  @Test
  void aSettledRecordIsGoneAndTheSnapshotKeepsTheOthers() throws Exception {
    HostLedger.State s = ledger(record("m1", "id-1"));
    s.apply(HostLedger.filesCreated(record("m2", "id-2")));
    s.apply(HostLedger.filesSettled("m1"));
    assertEquals(java.util.List.of("m2"), java.util.List.copyOf(s.createdFiles().keySet()));

    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "leftover");
    try {
      LivemigSerializer serializer = new LivemigSerializer((ExtendedActorSystem) Adapter.toClassic(system));
      HostLedger.State back = (HostLedger.State) serializer.fromBinary(serializer.toBinary(s), serializer.manifest(s));
      assertEquals(s.createdFiles(), back.createdFiles());
      assertEquals(s.answered(), back.answered());
    } finally {
      system.terminate();
    }
  }

  @Test
  void onlyTheFileCreatedHereIsDeleted() throws Exception {
    Datastores ds = new Datastores(Map.of("local", dir));
    GuestDisks.Created c = GuestDisks.create(guest("g"), "host-b", ds, DiskFaults.none());
    c.disks().close();
    DiskFilesCreated files = LeftoverDiskFiles.created("m", c);
    Path path = Path.of(files.getPaths(0));
    DiskDescription disk = files.getGuest().getDisks(0);
    assertEquals(dir.resolve("g").resolve("root.img"), path);

    // Another file of that name since (the guest came back by a later migration): left alone.
    DiskDescription another = disk.toBuilder().setIdentity("someone-else").build();
    assertThrows(OtherDiskException.class, () -> GuestDisks.deleteIfCreatedAs(path, "g", another));
    assertTrue(Files.exists(path));

    assertTrue(GuestDisks.deleteIfCreatedAs(path, "g", disk));
    assertFalse(Files.exists(path));
    assertFalse(GuestDisks.deleteIfCreatedAs(path, "g", disk), "nothing there: nothing to delete");
  }

  @Test
  void aRecordSaysWhatItsFilesWereMadeFor() {
    org.junit.jupiter.api.Assertions.assertEquals("migration m-1", LeftoverDiskFiles.madeFor("m-1"));
    org.junit.jupiter.api.Assertions.assertEquals("the protection copy g.p1", LeftoverDiskFiles.madeFor("copy:g.p1/0b7c"));
    // Written before a copy's record had a key of its own creation: no '/', and the restart still settles it.
    org.junit.jupiter.api.Assertions.assertEquals("the protection copy g.p1", LeftoverDiskFiles.madeFor("copy:g.p1"));
  }
}
