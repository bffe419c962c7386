package org.livemig.engine.replication;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.livemig.engine.dataplane.AppliedCheckpoint;
import org.livemig.engine.dataplane.CheckpointReceiver;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.RecordingListener;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;
import org.livemig.messages.StreamKind;

/** A secondary host on loopback: a data port, a guest that never runs, and the receiver of its checkpoints. */
final class ReplicationRig implements AutoCloseable {
  static final String ID = "protect-1";
  static final String TOKEN = "checkpoint-token";
  static final int PAGES = 1024;

  final GuestDescription desc;
  final GuestOracle oracle;
  final DataPlaneSettings settings;
  final DataPlaneServer server;
  final SyntheticGuest secondary;
  final CheckpointReceiver receiver;
  /** Every checkpoint the secondary applied, in order. */
  final List<AppliedCheckpoint> applied = new CopyOnWriteArrayList<>();
  /** Why the stream ended, once it did. */
  final List<String> ended = new CopyOnWriteArrayList<>();

  ReplicationRig(long pagesPerSecond, long maxCheckpointBytes, Duration stallTimeout) {
    this(PAGES, pagesPerSecond, maxCheckpointBytes, stallTimeout);
  }

  /** A guest of pages pages, 1/16 of them hot (70% of the writes). */
  ReplicationRig(int pages, long pagesPerSecond, long maxCheckpointBytes, Duration stallTimeout) {
    this(description(pages, pagesPerSecond), null, maxCheckpointBytes, stallTimeout);
  }

  static GuestDescription description(int pages, long pagesPerSecond) {
    return GuestDescription.newBuilder().setGuestId("protected-guest").setPageSize(4096).setPageCount(pages).setSeed(17)
        .setDirtyPagesPerSecond(pagesPerSecond).setHotPages(pages / 16).setHotPerMille(700)
        .setInitialFill(InitialFill.FILL_PATTERN).build();
  }

  /** With a secondary copy of one's own (with disks), or null for an empty one without. */
  ReplicationRig(GuestDescription d, SyntheticGuest copy, long maxCheckpointBytes, Duration stallTimeout) {
    desc = d;
    int pages = (int) d.getPageCount();
    oracle = new GuestOracle(desc);
    settings = DataPlaneSettings.defaults().withStallTimeout(stallTimeout);
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
    secondary = copy != null ? copy : SyntheticGuest.empty(desc);
    receiver = new CheckpointReceiver(ID, secondary, maxCheckpointBytes, settings, new CheckpointReceiver.Listener() {
      @Override
      public void applied(AppliedCheckpoint checkpoint) {
        applied.add(checkpoint);
      }

      @Override
      public void streamEnded(String reason, AppliedCheckpoint last) {
        ended.add(reason);
      }
    });
    // The secondary's precopy side is never used: only the registration (id, token) and the CHECKPOINT handler.
    server.expect(ID, TOKEN, 1, new RecordingListener(), new org.livemig.engine.guest.GuestMemory(4096, pages), new DirtyBitmap(pages));
    server.expectStream(ID, StreamKind.CHECKPOINT, receiver);
  }

  SyntheticGuest newPrimary() {
    return SyntheticGuest.create(desc, "primary-owner");
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(2); // polling a condition, not waiting for time to pass
    }
  }

  @Override
  public void close() {
    server.close();
    secondary.destroy();
  }
}
