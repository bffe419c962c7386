package org.livemig.engine.replication;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.disk.BulkCopy;
import org.livemig.engine.guest.disk.DiskMirror;
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.guest.disk.VirtualDisk;
import org.livemig.messages.DiskDescription;

/**
 * A protected guest's disks on the primary: each tracked by a background DiskMirror (the guest's
 * writes mark blocks dirty, nothing else changes in its write path) whose target is the
 * secondary's copy over the checkpoint stream. The initial sync copies every written block while
 * the guest runs (a block being copied is held against the guest's writes, and one written after
 * goes again); each checkpoint, in its pause with the disks drained, takes the blocks written
 * since the last one. The checkpointer's thread only.
 */
final class CheckpointDisks {
  private record Tracked(VirtualDisk disk, DiskMirror mirror, CheckpointDiskTarget target, BulkCopy copy) {}

  private final List<Tracked> disks = new ArrayList<>();
  private boolean attached;

  CheckpointDisks(MigratableGuest guest, CheckpointStream stream, String protectionId) {
    for (DiskDescription d : guest.description().getDisksList()) {
      VirtualDisk disk = guest.disk(d.getDiskId());
      CheckpointDiskTarget target = new CheckpointDiskTarget(d.getDiskId(), disk.file().blockSize(),
          disk.file().blockCount(), stream, "the secondary's copy of disk " + d.getDiskId() + " of " + protectionId);
      DiskMirror mirror = new DiskMirror(target, DiskMirror.Mode.BACKGROUND, MirrorFaults.none());
      disks.add(new Tracked(disk, mirror, target, new BulkCopy(disk, mirror)));
    }
  }

  boolean isEmpty() {
    return disks.isEmpty();
  }

  /** From now on the guest's writes are tracked (before the sync: every block starts dirty). */
  void attach() {
    for (Tracked t : disks) t.disk().attach(t.mirror());
    attached = true;
  }

  /** Out of the guest's write path again (replication ended). */
  void detach() {
    if (!attached) return;
    for (Tracked t : disks) t.disk().detach(t.mirror());
    attached = false;
  }

  /**
   * The initial sync: a pass over every block while the guest runs, then up to rounds passes more
   * while more than maxDirtyBytes stay dirty; returns the bytes of blocks passed over.
   */
  long sync(BooleanSupplier stop, int rounds, long maxDirtyBytes) throws IOException, InterruptedException {
    long bytes = 0;
    for (Tracked t : disks) {
      t.target().sync();
      bytes += t.copy().pass(stop, 0).blocks() * t.target().blockSize();
      for (int r = 0; r < rounds && !stop.getAsBoolean(); r++) {
        if (t.mirror().dirtyBlocks() * t.target().blockSize() <= maxDirtyBytes) break;
        bytes += t.copy().pass(stop, 0).blocks() * t.target().blockSize();
      }
    }
    return bytes;
  }

  /**
   * In checkpoint's pause, the guest stopped and its disks drained: stages the blocks written since
   * the last checkpoint, at most budgetBytes of them in all; returns how many blocks.
   */
  long stage(long checkpoint, long budgetBytes) throws IOException, InterruptedException {
    long blocks = 0;
    long left = budgetBytes;
    for (Tracked t : disks) {
      t.target().stage(checkpoint, left);
      t.copy().pass(() -> false, 0); // nothing is in flight: no block waits
      blocks += t.target().stagedBlocks();
      left -= t.target().stagedBytes();
    }
    return blocks;
  }

  /** Bytes staged in the current checkpoint. */
  long stagedBytes() {
    long bytes = 0;
    for (Tracked t : disks) bytes += t.target().stagedBytes();
    return bytes;
  }

  /** After the guest runs again: the staged blocks go to the secondary. */
  void sendStaged() throws IOException {
    for (Tracked t : disks) t.target().sendStaged();
  }
}
