package org.livemig.engine.replication;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.dataplane.DataPlaneException;
import org.livemig.engine.guest.disk.MirrorTarget;

/**
 * The secondary's copy of one disk, as the target of the primary's tracking mirror (DiskMirror in
 * background mode: it only marks the blocks the guest writes) and its BulkCopy: the blocks a pass
 * copies go over the CHECKPOINT stream. In the initial sync they go at once (checkpoint 0, while
 * the guest runs); in a checkpoint's pause they are staged here, read while the guest is stopped
 * and sent after it runs again, like the pages. Used by the checkpointer's thread only.
 */
final class CheckpointDiskTarget implements MirrorTarget {
  private record Batch(long[] blocks, ByteBuffer data) {}

  private final String diskId;
  private final int blockSize;
  private final long blockCount;
  private final CheckpointStream stream;
  private final String where;
  private long checkpoint; // 0: the sync, sent at once; later ones staged
  private long budget; // bytes a checkpoint may still stage
  private final List<Batch> staged = new ArrayList<>();
  private long stagedBlocks;

  CheckpointDiskTarget(String diskId, int blockSize, long blockCount, CheckpointStream stream, String where) {
    this.diskId = diskId;
    this.blockSize = blockSize;
    this.blockCount = blockCount;
    this.stream = stream;
    this.where = where;
  }

  /** The initial sync: blocks go to the secondary as they are copied. */
  void sync() {
    stage(0, 0);
  }

  /** A checkpoint's pause: blocks are staged, at most budgetBytes of them (the rest of max-checkpoint-bytes); 0: the sync. */
  void stage(long checkpoint, long budgetBytes) {
    this.checkpoint = checkpoint;
    this.budget = budgetBytes;
    staged.clear();
    stagedBlocks = 0;
  }

  long stagedBlocks() {
    return stagedBlocks;
  }

  long stagedBytes() {
    return stagedBlocks * blockSize;
  }

  /** After the guest runs again: the staged blocks, one frame per batch the copy read. */
  void sendStaged() throws IOException {
    for (Batch b : staged) stream.sendBlocks(checkpoint, diskId, b.blocks(), b.blocks().length, b.data().duplicate());
    staged.clear();
  }

  @Override
  public int blockSize() {
    return blockSize;
  }

  @Override
  public long blockCount() {
    return blockCount;
  }

  @Override
  public void writeBlocks(long[] blocks, int count, ByteBuffer data) throws IOException {
    if (checkpoint == 0) {
      stream.sendBlocks(0, diskId, blocks, count, data.duplicate());
      return;
    }
    long bytes = (long) count * blockSize;
    if (bytes > budget) {
      throw new DataPlaneException("checkpoint " + checkpoint + " exceeds max-checkpoint-bytes with the blocks of disk "
          + diskId + ": the guest writes faster than it can be checkpointed");
    }
    budget -= bytes;
    ByteBuffer copy = ByteBuffer.allocate((int) bytes);
    copy.put(data.duplicate()).flip();
    staged.add(new Batch(Arrays.copyOf(blocks, count), copy));
    stagedBlocks += count;
  }

  @Override
  public void writeDurably(long block, ByteBuffer data) {
    throw new UnsupportedOperationException("the copy of disk " + diskId + " is never in the guest's write path");
  }

  @Override
  public void flush() {
    // The secondary makes a checkpoint's blocks durable when it applies the checkpoint.
  }

  @Override
  public String describe() {
    return where;
  }
}
