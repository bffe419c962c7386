package org.livemig.engine.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.SyntheticGuest;

/**
 * The primary's lease, on a real stream to a real receiver through a {@link LinkProxy}: when acks
 * stop coming, the primary has its guest paused by the time the secondary's reckoning of the lease
 * (from the arrival of the last checkpoint it acknowledged) runs out, which is what lets a
 * secondary take over without the cluster removing the primary's host; an ack that comes after
 * all runs the guest again, and so does stop() (the coordinator's word that no copy runs elsewhere).
 */
class CheckpointLeaseTest {
  private static final Duration INTERVAL = Duration.ofMillis(20);
  private static final Duration LEASE = Duration.ofMillis(300);

  @Test
  void aPrimaryWhoseLinkHangsHasItsGuestPausedWhenTheSecondarysLeaseRunsOutAndRunsItAgainOnTheNextAck() throws Exception {
    try (ReplicationRig rig = new ReplicationRig(4_000, 16L << 20, Duration.ofSeconds(60));
        LinkProxy link = LinkProxy.inFrontOf(rig.server.port())) {
      SyntheticGuest guest = rig.newPrimary();
      try (Checkpointer c = started(rig, link, guest, Duration.ofSeconds(30))) {
        ReplicationRig.await(() -> rig.applied.size() >= 10, "ten checkpoints applied");
        link.blackhole(); // both ways: the checkpoint or the ack in flight may be the one held
        // The secondary's reckoning: the lease of the last checkpoint it acknowledged (perhaps never
        // received by the primary) from that end's arrival. The link is dark, so it no longer moves.
        ReplicationRig.await(() -> System.nanoTime() >= rig.receiver.leaseEndsAtNanos(), "the secondary's lease reckoning");
        assertEquals(RunState.PAUSED, guest.state(), "the primary's guest is paused when the secondary may take over");
        assertTrue(c.leaseStopped(), "by its lease");
        long steps = guest.steps();
        long checkpoints = rig.applied.size();
        ReplicationRig.await(() -> System.nanoTime() >= rig.receiver.leaseEndsAtNanos() + LEASE.toNanos(), "a lease later");
        assertEquals(steps, guest.steps(), "and it stays paused: no step without an ack");
        link.heal();
        // The held bytes go on; the next checkpoint's ack renews the lease and the guest runs again.
        ReplicationRig.await(() -> rig.applied.size() >= checkpoints + 3 && guest.state() == RunState.RUNNING,
            "the guest running again after acks");
        ReplicationRig.await(() -> guest.steps() > steps, "steps again");
        assertTrue(!c.leaseStopped());
      } finally {
        guest.destroy();
      }
    }
  }

  @Test
  void aFailedReplicationLeavesTheGuestPausedByItsLeaseUntilStopRunsItAgain() throws Exception {
    try (ReplicationRig rig = new ReplicationRig(4_000, 16L << 20, Duration.ofSeconds(60));
        LinkProxy link = LinkProxy.inFrontOf(rig.server.port())) {
      SyntheticGuest guest = rig.newPrimary();
      try (Checkpointer c = started(rig, link, guest, Duration.ofSeconds(1))) {
        ReplicationRig.await(() -> rig.applied.size() >= 5, "five checkpoints applied");
        link.blackhole();
        ReplicationStatus failed = c.ended().toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertEquals(ReplicationStatus.State.FAILED, failed.state(), failed.toString());
        assertEquals(RunState.PAUSED, guest.state(), "failed without an ack: the lease keeps the guest paused");
        assertTrue(c.leaseStopped());
        c.stop(); // what the primary's host does on the coordinator's End (degraded, unprotected)
        assertEquals(RunState.RUNNING, guest.state(), "the coordinator's word runs it again");
        long steps = guest.steps();
        ReplicationRig.await(() -> guest.steps() > steps, "steps after stop");
      } finally {
        guest.destroy();
      }
    }
  }

  /** The guest running, protected through the link at INTERVAL with LEASE. */
  private static Checkpointer started(ReplicationRig rig, LinkProxy link, SyntheticGuest guest, Duration ackTimeout) {
    guest.run("primary-owner");
    CheckpointSettings settings = CheckpointSettings.defaults().withInterval(INTERVAL).withLease(LEASE)
        .withAckTimeout(ackTimeout);
    CheckpointStream stream = CheckpointStream.connect("127.0.0.1", link.port(), ReplicationRig.ID, ReplicationRig.TOKEN,
        rig.settings, null);
    Checkpointer c = new Checkpointer(ReplicationRig.ID, guest, "primary-owner", null, null, stream, settings, 64);
    c.start();
    return c;
  }
}
