package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;
import org.livemig.messages.PrepareSecondary;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionHostReply;

/**
 * A secondary's copy of a protected guest has disk files of its own; when the host's process
 * dies with the copy, the restarted host deletes them (the ledger recorded them), as it does the
 * files a migration half made.
 */
class SecondaryCopyLeftoversTest {
  @TempDir Path dir;

  /** One host's agent on an in-memory ledger that outlives the agent (not the kit), and its data plane. */
  private record Host(ActorTestKit kit, HostSettings settings, DataPlaneServer dataPlane, ActorRef<HostAgent.Command> agent)
      implements AutoCloseable {
    @Override
    public void close() {
      try {
        dataPlane.close();
      } finally {
        kit.shutdownTestKit();
      }
    }
  }

  private Host start() {
    ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseMap(Map.of("livemig.host.id", "host-s",
            "livemig.host.datastores.local", dir.toString()))
        .withFallback(akka.persistence.testkit.PersistenceTestKitPlugin.getInstance().config())
        .withFallback(akka.persistence.testkit.PersistenceTestKitSnapshotPlugin.config())
        .withFallback(ConfigFactory.load()));
    HostSettings settings = HostSettings.fromConfig(kit.system().settings().config());
    DataPlaneServer dataPlane = new DataPlaneServer("127.0.0.1", 0, settings.dataPlane());
    dataPlane.start();
    return new Host(kit, settings, dataPlane, kit.spawn(HostAgent.create(settings, dataPlane), "host"));
  }

  private static ProtectionHostReply command(ActorTestKit kit, ActorRef<HostAgent.Command> host, ProtectionCommand c) {
    TestProbe<ProtectionHostReply> coordinator = kit.createTestProbe();
    host.tell(new HostAgent.ProtectionControl(c, coordinator.ref()));
    ProtectionHostReply reply = coordinator.receiveMessage(Duration.ofSeconds(10));
    assertTrue(reply.getOk(), reply.toString());
    return reply;
  }

  /** PrepareSecondary of generation 1 for a guest with one disk: the copy's file, created. */
  private Path prepareCopy(ActorTestKit kit, ActorRef<HostAgent.Command> host) {
    GuestDescription guest = GuestDescription.newBuilder().setGuestId("g-copy").setPageSize(4096).setPageCount(64)
        .setSeed(1).setInitialFill(InitialFill.FILL_PATTERN).addDisks(DiskDescription.newBuilder().setDiskId("root")
            .setDatastore("local").setBlockCount(64).setWritesPerSecond(10)).build();
    command(kit, host, ProtectionCommand.newBuilder().setGuestId("g-copy").setGeneration(1).setEpoch(1)
        .setPrepareSecondary(PrepareSecondary.newBuilder().setGuest(guest).setPrimaryHost("host-p")).build());
    Path file = dir.resolve("g-copy").resolve("root.img");
    assertTrue(Files.exists(file), "the copy's own file");
    return file;
  }

  private static void awaitGone(Path file, String why) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (Files.exists(file) && System.nanoTime() < deadline) Thread.sleep(20); // deleted off the agent's thread
    assertFalse(Files.exists(file), why);
  }

  @Test
  void theFilesOfACopyThatDiedWithItsHostAreDeletedByTheRestart() throws Exception {
    try (Host host = start()) {
      Path file = prepareCopy(host.kit(), host.agent());

      // The process dies with the copy: the agent stops without ending the protection.
      host.kit().stop(host.agent(), Duration.ofSeconds(10));
      assertTrue(Files.exists(file), "a stopped agent deletes nothing: the restart's case");

      host.kit().spawn(HostAgent.create(host.settings(), host.dataPlane()), "host-again");
      awaitGone(file, "the restarted host deletes the dead copy's file");
    }
  }

  @Test
  void anEndedCopysRecordIsSettledOnceItsFilesAreGone() throws Exception {
    try (Host host = start()) {
      Path file = prepareCopy(host.kit(), host.agent());
      command(host.kit(), host.agent(), ProtectionCommand.newBuilder().setGuestId("g-copy").setGeneration(1).setEpoch(1)
          .setEnd(org.livemig.messages.EndProtection.newBuilder().setReason("unprotected")).build());
      awaitGone(file, "an ended copy's file is deleted with it");
      // Settled in the ledger, so no later restart acts on the record (on a shared datastore the
      // path may be another host's disk by then).
      var ledger = akka.persistence.testkit.javadsl.PersistenceTestKit.create(host.kit().system());
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      java.util.List<org.livemig.messages.HostLedgerEvent> events;
      do {
        events = ledger.persistedInStorage("Host|host-s").stream()
            .map(e -> (org.livemig.messages.HostLedgerEvent) e).toList();
        if (events.stream().anyMatch(e -> e.hasDiskFilesSettled())) break;
        Thread.sleep(20);
      } while (System.nanoTime() < deadline);
      String created = events.stream().filter(e -> e.hasDiskFilesCreated()).map(e -> e.getDiskFilesCreated()
          .getMigrationId()).findFirst().orElseThrow();
      assertTrue(created.startsWith("copy:g-copy.p1/"), created);
      assertTrue(events.stream().anyMatch(e -> e.hasDiskFilesSettled() && e.getDiskFilesSettled().equals(created)),
          "the record of " + created + " settled: " + events);
    }
  }
}
