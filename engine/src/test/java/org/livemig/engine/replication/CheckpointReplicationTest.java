package org.livemig.engine.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.AppliedCheckpoint;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.OutputSink;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.SyntheticGuest;

/**
 * A running primary checkpointed to a secondary over a real data port on loopback: the
 * secondary's memory follows the oracle checkpoint by checkpoint, outputs are released only
 * once covered by an acknowledged checkpoint, and a failover resumes the secondary from its last
 * whole checkpoint with its outputs numbered on from there.
 */
class CheckpointReplicationTest {
  private static final int STEPS_PER_OUTPUT = 50;
  private static final CheckpointSettings SETTINGS = CheckpointSettings.defaults().withInterval(Duration.ofMillis(25));

  private final ReplicationRig rig = new ReplicationRig(20_000, 16L << 20, Duration.ofSeconds(5));
  private final SyntheticGuest primary = rig.newPrimary();
  private final OutputRecording clients = new OutputRecording();
  private final OutputGate gate = new OutputGate(clients);
  private GuestOutput primaryOutput;
  private CheckpointStream stream;
  private Checkpointer checkpointer;

  private void protect(OutputGate gate) {
    primaryOutput = new GuestOutput(STEPS_PER_OUTPUT, gate);
    primary.setStepListener(primaryOutput);
    primary.run("primary-owner");
    stream = CheckpointStream.connect("127.0.0.1", rig.server.port(), ReplicationRig.ID, ReplicationRig.TOKEN, rig.settings, null);
    checkpointer = new Checkpointer(ReplicationRig.ID, primary, "primary-owner", primaryOutput, gate, stream, SETTINGS, 64);
    checkpointer.start();
  }

  @AfterEach
  void stop() {
    if (checkpointer != null) checkpointer.close();
    primary.destroy();
    rig.close();
  }

  @Test
  void secondaryHoldsTheOracleStateOfEachAcknowledgedCheckpointAndNeverRuns() throws Exception {
    protect(gate);
    ReplicationRig.await(() -> checkpointer.status().checkpoints() >= 8, "8 acknowledged checkpoints");
    checkpointer.stop(); // after the checkpoint in flight is acknowledged
    ReplicationStatus status = checkpointer.status();
    AppliedCheckpoint last = rig.receiver.lastApplied();

    assertEquals(ReplicationStatus.State.STOPPED, status.state(), () -> "status: " + status);
    assertEquals(status.lastCheckpoint(), last.checkpoint(), "the secondary holds the last acknowledged checkpoint");
    assertTrue(last.steps() > 0 && last.pages() > 0, () -> "the guest moved between checkpoints: " + last);
    GuestOracle.Verification v = rig.oracle.verify(rig.secondary.memory(), last.steps());
    assertTrue(v.matches(), () -> "secondary memory at checkpoint " + last + ": " + v);
    assertEquals(last.steps(), rig.secondary.steps(), "its device state is loaded: the guest would resume at that step");
    assertTrue(rig.secondary.state() != RunState.RUNNING, "the secondary's copy never ran");
    assertEquals(0, rig.secondary.dirtyBitmap().count(), "nothing ran on the secondary to dirty a page");
    for (int i = 0; i < rig.applied.size(); i++) assertEquals(i + 1, rig.applied.get(i).checkpoint(), "applied in order, none skipped");
    assertTrue(status.lastPauseMicros() > 0 && status.p99PauseMicros() >= status.p50PauseMicros(), () -> "status: " + status);
    System.out.printf("replication at %d pages/s, %d ms interval: %d checkpoints, last %d bytes, pause p50 %d us p99 %d us%n",
        rig.desc.getDirtyPagesPerSecond(), SETTINGS.interval().toMillis(), status.checkpoints(), status.lastCheckpointBytes(),
        status.p50PauseMicros(), status.p99PauseMicros());
  }

  @Test
  void outputIsReleasedOnlyOnceTheCheckpointCoveringItIsAcknowledged() throws Exception {
    // The clients' side checks, at each release, that the secondary already holds a checkpoint covering the output.
    List<String> early = new CopyOnWriteArrayList<>();
    OutputGate checkedGate = new OutputGate(output -> {
      AppliedCheckpoint applied = rig.receiver.lastApplied();
      if (applied == null || output.number() > applied.outputsUpto()) early.add(output + " before " + applied);
      clients.emit(output);
    });
    protect(checkedGate);
    ReplicationRig.await(() -> clients.last() >= 20, "20 outputs released");
    ReplicationRig.await(() -> checkedGate.held() > 0, "an output held for the next checkpoint");
    checkpointer.stop();
    primary.pause().toCompletableFuture().get(5, TimeUnit.SECONDS); // its output counter stands still

    assertTrue(early.isEmpty(), () -> "released before their checkpoint was applied: " + early);
    AppliedCheckpoint last = rig.receiver.lastApplied();
    assertEquals(last.outputsUpto(), clients.last(), "every output the last acknowledged checkpoint covers is out, none after");
    assertEquals(last.outputsUpto(), checkedGate.releasedUpto());
    List<OutputSink.Output> seen = clients.outputs();
    for (int i = 0; i < seen.size(); i++) assertEquals(i + 1, seen.get(i).number(), "released in order, none lost");
    assertEquals(primaryOutput.emitted() - clients.last(), checkedGate.held(), "what the last ack does not cover is held, not lost");
  }

  @Test
  void failoverResumesTheSecondaryFromItsLastCheckpointWithItsOutputsNumberedOn() throws Exception {
    protect(gate);
    ReplicationRig.await(() -> checkpointer.status().checkpoints() >= 5 && clients.last() > 0, "5 checkpoints and some outputs");
    // The primary's host dies: its guest stops for good and the link drops, wherever the checkpointer is.
    primary.destroy();
    stream.close();
    long releasedBeforeFailover = clients.last();
    int seenBeforeFailover = clients.outputs().size();

    GuestOutput secondaryOutput = new GuestOutput(STEPS_PER_OUTPUT, clients); // no longer protected: straight out
    rig.secondary.setStepListener(secondaryOutput);
    AppliedCheckpoint from = Failover.resume(rig.receiver, rig.secondary, secondaryOutput, "secondary-owner");
    ReplicationRig.await(() -> clients.outputs().size() >= seenBeforeFailover + 5, "5 outputs from the secondary");
    rig.secondary.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);

    assertTrue(releasedBeforeFailover <= from.outputsUpto(), () -> "released " + releasedBeforeFailover + " beyond " + from);
    List<OutputSink.Output> seen = clients.outputs();
    OutputSink.Output firstAfter = seen.get(seenBeforeFailover);
    assertEquals(from.outputsUpto() + 1, firstAfter.number(), "the secondary numbers on from the checkpoint's outputs_upto");
    assertTrue(firstAfter.step() > from.steps(), "and emits them from steps after the checkpoint");
    for (int i = 1; i < seen.size(); i++) assertTrue(seen.get(i).number() > seen.get(i - 1).number(), "no output seen twice");
    long steps = rig.secondary.steps();
    assertNotEquals(from.steps(), steps);
    GuestOracle.Verification v = rig.oracle.verify(rig.secondary.memory(), steps);
    assertTrue(v.matches(), () -> "secondary memory after running from checkpoint " + from + " to step " + steps + ": " + v);
  }
}
