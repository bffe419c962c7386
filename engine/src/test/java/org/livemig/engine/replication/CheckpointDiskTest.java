package org.livemig.engine.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.dataplane.AppliedCheckpoint;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.RunStateListener;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.guest.disk.Datastores;
import org.livemig.engine.guest.disk.DiskFaults;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;

/**
 * A protected guest with a local disk, written at queue depth 8 with requests in flight at every
 * pause, on a real stream: the secondary's copy of the disk (its own file on another datastore)
 * holds, at each acknowledged checkpoint, exactly the blocks the guest's oracle says for that
 * checkpoint's disk state; a failover makes it durable and runs the guest from there, its writes
 * continuing as the new owner's.
 */
class CheckpointDiskTest {
  @TempDir Path dir;

  @Test
  void theSecondarysDiskHoldsTheLastAcknowledgedCheckpointAndTheFailedOverGuestWritesOn() throws Exception {
    GuestDescription d = ReplicationRig.description(512, 2_000).toBuilder()
        .addDisks(DiskDescription.newBuilder().setDiskId("root").setDatastore("local").setBlockCount(2048)
            .setQueueDepth(8).setWritesPerSecond(1_500).setReadsPerMille(300))
        .build();
    GuestDisks.Created a = GuestDisks.create(d, "host-a", new Datastores(Map.of("local", dir.resolve("a"))),
        DiskFaults.none().withWriteDelay(Duration.ofMillis(2)));
    SyntheticGuest primary = SyntheticGuest.create(a.description(), "primary-owner", RunStateListener.NONE, a.disks());
    GuestDisks.Created b = GuestDisks.create(a.description(), "host-b", new Datastores(Map.of("local", dir.resolve("b"))),
        DiskFaults.none());
    SyntheticGuest copy = SyntheticGuest.empty(b.description(), RunStateListener.NONE, b.disks());
    try (ReplicationRig rig = new ReplicationRig(a.description(), copy, 16L << 20, Duration.ofSeconds(5))) {
      primary.run("primary-owner");
      CheckpointStream stream = CheckpointStream.connect("127.0.0.1", rig.server.port(), ReplicationRig.ID,
          ReplicationRig.TOKEN, rig.settings, null);
      CheckpointSettings settings = CheckpointSettings.defaults().withInterval(Duration.ofMillis(20));
      try (Checkpointer c = new Checkpointer(ReplicationRig.ID, primary, "primary-owner", null, null, stream, settings, 64)) {
        c.start();
        ReplicationRig.await(() -> rig.applied.size() >= 15 && primary.disks().get(0).getWrites() > 300,
            "15 checkpoints over 300 disk writes");
        c.stop();
      }
      AppliedCheckpoint last = rig.receiver.lastApplied();
      assertTrue(rig.applied.stream().anyMatch(x -> x.bytes() > x.pages() * 4096), "checkpoints carried disk blocks");
      assertTrue(copy.state() != RunState.RUNNING, "the copy never ran");
      assertClean(copy.verifyDisks(), "the copy's disk at checkpoint " + last.checkpoint());
      GuestOracle.Verification memory = rig.oracle.verify(copy.memory(), last.steps());
      assertTrue(memory.matches(), memory.toString());

      Failover.resume(rig.receiver, copy, null, "secondary-owner");
      long writes = copy.disks().get(0).getWrites();
      ReplicationRig.await(() -> copy.disks().get(0).getWrites() > writes + 100, "the failed-over guest writes on");
      copy.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
      copy.drain().toCompletableFuture().get(5, TimeUnit.SECONDS);
      assertClean(copy.verifyDisks(), "the failed-over guest's disk");
    } finally {
      primary.destroy();
    }
  }

  private static void assertClean(List<DiskVerification> disks, String what) {
    assertEquals(1, disks.size());
    DiskVerification v = disks.get(0);
    assertTrue(v.getBlocksChecked() > 0 && v.getWrites() > 0, what + ": " + v);
    assertEquals(0, v.getMismatches(), what + ": " + v);
    assertEquals(0, v.getOwnershipViolations(), what + ": " + v);
  }
}
