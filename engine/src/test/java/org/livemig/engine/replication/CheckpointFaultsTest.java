package org.livemig.engine.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.dataplane.DataChannel;
import org.livemig.engine.dataplane.DataPlaneException;
import org.livemig.engine.dataplane.StreamHandler;
import org.livemig.engine.dataplane.RecordingListener;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.livemig.messages.StreamKind;

/**
 * A checkpoint that does not arrive whole (link cut, primary silent, corrupt payload, short page
 * count, over the bound) is never applied: the secondary stays exactly at its last whole
 * checkpoint (oracle check). On the primary, a missing ack or an oversized checkpoint fails the
 * protection while the guest runs on and its outputs stay held.
 */
class CheckpointFaultsTest {
  private ReplicationRig rig;
  private HandPrimary primary;

  private void start(long maxCheckpointBytes, Duration stallTimeout) throws Exception {
    rig = new ReplicationRig(20_000, maxCheckpointBytes, stallTimeout);
    primary = new HandPrimary(rig);
  }

  /** A secondary only: the real checkpointer connects to it. */
  private void startSecondary() {
    rig = new ReplicationRig(20_000, 16L << 20, Duration.ofSeconds(5));
  }

  @AfterEach
  void stop() throws Exception {
    if (primary != null) primary.close();
    if (rig != null) rig.close();
  }

  /** The initial sync of every page at some step, closed by an empty checkpoint 1: the secondary holds that step. */
  private long firstCheckpoint() throws Exception {
    long s1 = primary.runFor(300);
    primary.sendAll(0, primary.allPages(), 64);
    primary.sendEnd(1, 0);
    assertEquals(1, primary.readAck());
    assertTrue(rig.oracle.verify(rig.secondary.memory(), s1).matches(), "the secondary holds checkpoint 1");
    return s1;
  }

  /** The guest moved on; returns the pages of checkpoint 2 (more than one frame's worth). */
  private long[] secondCheckpointPages() throws Exception {
    primary.runFor(2000);
    long[] pages = primary.harvest();
    assertTrue(pages.length > 128, "checkpoint 2 has " + pages.length + " pages");
    return pages;
  }

  /** The secondary is exactly at checkpoint 1 after the stream ended, and knows why. */
  private void assertStillAtCheckpoint1(long s1, String why) throws Exception {
    ReplicationRig.await(() -> !rig.ended.isEmpty(), "the checkpoint stream to end");
    assertEquals(1, rig.receiver.lastApplied().checkpoint());
    assertEquals(1, rig.applied.size(), "nothing applied after checkpoint 1: " + rig.applied);
    assertEquals(s1, rig.secondary.steps(), "the device state of checkpoint 1 is the one loaded");
    GuestOracle.Verification v = rig.oracle.verify(rig.secondary.memory(), s1);
    assertTrue(v.matches(), () -> "the secondary's memory moved off checkpoint 1: " + v);
    assertNotNull(rig.receiver.failure(), "a checkpoint cut short is a failure");
    assertTrue(rig.receiver.failure().contains(why), () -> "failure: " + rig.receiver.failure());
    assertTrue(rig.secondary.state() != RunState.RUNNING);
  }

  enum Break { CUT, SILENT }

  @ParameterizedTest
  @EnumSource(Break.class)
  void aCheckpointCutShortIsDiscardedAndTheSecondaryStaysAtTheLastWholeOne(Break how) throws Exception {
    start(16L << 20, how == Break.CUT ? Duration.ofSeconds(10) : Duration.ofSeconds(1));
    long s1 = firstCheckpoint();
    long[] pages = secondCheckpointPages();
    primary.sendPages(2, pages, 0, 64, false);
    primary.sendPages(2, pages, 64, 128, false);
    if (how == Break.CUT) primary.socket.close(); // else: the primary falls silent with the socket open
    assertStillAtCheckpoint1(s1, how == Break.CUT ? "closed by peer" : "silent");
  }

  @Test
  void aCorruptPayloadFailsTheStreamAndIsNeverApplied() throws Exception {
    start(16L << 20, Duration.ofSeconds(5));
    long s1 = firstCheckpoint();
    long[] pages = secondCheckpointPages();
    primary.sendPages(2, pages, 0, 64, false);
    quietly(() -> {
      primary.sendPages(2, pages, 64, pages.length, true);
      primary.sendEnd(2, pages.length);
    });
    assertStillAtCheckpoint1(s1, "checksum");
  }

  @Test
  void anEndWhosePageCountDoesNotMatchIsNotApplied() throws Exception {
    start(16L << 20, Duration.ofSeconds(5));
    long s1 = firstCheckpoint();
    long[] pages = secondCheckpointPages();
    primary.sendAll(2, java.util.Arrays.copyOf(pages, pages.length - 1), 64); // one page lost on the way
    quietly(() -> primary.sendEnd(2, pages.length));
    assertStillAtCheckpoint1(s1, "not applied");
  }

  @Test
  void aCheckpointOverTheSecondaryBufferIsRefusedNotBuffered() throws Exception {
    start(64 * 4096, Duration.ofSeconds(5));
    long s1 = firstCheckpoint(); // the sync goes straight into memory: no bound
    long[] pages = secondCheckpointPages();
    quietly(() -> {
      primary.sendAll(2, pages, 16);
      primary.sendEnd(2, pages.length);
    });
    assertStillAtCheckpoint1(s1, "exceeds the secondary's buffer");
  }

  /** Writes the secondary may refuse half-way by closing the link. */
  private static void quietly(Runnable writes) {
    try {
      writes.run();
    } catch (DataPlaneException e) {
      // the secondary closed the stream: what it did before is what the test checks
    }
  }

  @Test
  void aMissingAckFailsTheProtectionAndTheOutputsStayHeld() throws Exception {
    startSecondary();
    // A secondary that takes every frame and never acknowledges anything.
    rig.server.expect("mute", "t", 1, new RecordingListener(), new GuestMemory(4096, ReplicationRig.PAGES), new DirtyBitmap(ReplicationRig.PAGES));
    rig.server.expectStream("mute", StreamKind.CHECKPOINT, new StreamHandler() {
      @Override
      public Admission admit(ChannelHeader header, DataChannel channel) {
        return Admission.serve(() -> {
          ByteBuffer payload = ByteBuffer.allocate(64 * 4096);
          while (true) {
            Frame f = channel.codec().readFrame();
            if (!f.hasCheckpointPages()) continue;
            channel.codec().readPayload(payload, f.getCheckpointPages().getPayloadBytes());
            channel.codec().payloadIntact();
          }
        });
      }

      @Override
      public void forget() {}
    });
    Primary p = new Primary(CheckpointSettings.defaults().withInterval(Duration.ofMillis(25)).withAckTimeout(Duration.ofMillis(300)), "mute", "t");
    try {
      assertEquals(ReplicationStatus.State.FAILED, p.checkpointer.ended().toCompletableFuture().get(20, TimeUnit.SECONDS).state());
      ReplicationStatus status = p.checkpointer.status();
      assertTrue(status.failure().contains("no acknowledgement of checkpoint 1"), () -> "failure: " + status.failure());
      assertEquals(0, status.checkpoints());
      assertEquals(RunState.RUNNING, p.guest.state(), "the primary's guest runs on, unprotected");
      assertTrue(p.output.emitted() > 0 && p.clients.outputs().isEmpty(), "its outputs stay held: none was covered by an ack");
    } finally {
      p.close();
    }
  }

  @Test
  void aSecondaryThatStopsReadingFailsTheProtectionInsteadOfBlockingIt() throws Exception {
    // 64 MiB to sync: far more than the sockets' buffers hold.
    rig = new ReplicationRig(16384, 20_000, 16L << 20, Duration.ofMillis(500));
    CountDownLatch released = new CountDownLatch(1);
    rig.server.expect("deaf", "t", 1, new RecordingListener(), new GuestMemory(4096, 16), new DirtyBitmap(16));
    rig.server.expectStream("deaf", StreamKind.CHECKPOINT, new StreamHandler() {
      @Override
      public Admission admit(ChannelHeader header, DataChannel channel) {
        return Admission.serve(() -> {
          try {
            released.await(30, TimeUnit.SECONDS); // holds the connection open and reads nothing
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
      }

      @Override
      public void forget() {
        released.countDown();
      }
    });
    Primary p = new Primary(CheckpointSettings.defaults().withAckTimeout(Duration.ofSeconds(60)), "deaf", "t");
    try {
      assertEquals(ReplicationStatus.State.FAILED, p.checkpointer.ended().toCompletableFuture().get(20, TimeUnit.SECONDS).state());
      assertTrue(p.checkpointer.status().failure().contains("the secondary does not read"), p.checkpointer.status().failure());
      assertEquals(RunState.RUNNING, p.guest.state(), "the primary's guest runs on");
    } finally {
      released.countDown();
      p.close();
    }
  }

  @Test
  void aCheckpointOverTheBoundFailsTheProtectionAndTheGuestRunsOn() throws Exception {
    startSecondary();
    Primary p = new Primary(CheckpointSettings.defaults().withInterval(Duration.ofMillis(100)).withMaxCheckpointBytes(8 * 4096),
        ReplicationRig.ID, ReplicationRig.TOKEN);
    try {
      assertEquals(ReplicationStatus.State.FAILED, p.checkpointer.ended().toCompletableFuture().get(20, TimeUnit.SECONDS).state());
      assertTrue(p.checkpointer.status().failure().contains("exceeds max-checkpoint-bytes"), p.checkpointer.status().failure());
      assertEquals(RunState.RUNNING, p.guest.state(), "the checkpoint's pause ended: the guest runs on");
      assertNull(rig.receiver.lastApplied(), "nothing but the sync reached the secondary");
    } finally {
      p.close();
    }
  }

  /** A running guest under the real checkpointer, its outputs gated. */
  private final class Primary implements AutoCloseable {
    final SyntheticGuest guest = rig.newPrimary();
    final OutputRecording clients = new OutputRecording();
    final OutputGate gate = new OutputGate(clients);
    final GuestOutput output = new GuestOutput(10, gate);
    final Checkpointer checkpointer;

    Primary(CheckpointSettings settings, String id, String token) {
      guest.setStepListener(output);
      guest.run("primary-owner");
      CheckpointStream stream = CheckpointStream.connect("127.0.0.1", rig.server.port(), id, token, rig.settings, null);
      checkpointer = new Checkpointer(id, guest, "primary-owner", output, gate, stream, settings, 64);
      checkpointer.start();
    }

    @Override
    public void close() {
      checkpointer.close();
      guest.destroy();
    }
  }
}
