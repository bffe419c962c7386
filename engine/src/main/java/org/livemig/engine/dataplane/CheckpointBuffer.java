package org.livemig.engine.dataplane;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.CheckpointEnd;

/**
 * The secondary's buffer of one checkpoint (Remus/COLO's restore side): a checkpoint's pages are
 * kept here, off the guest, and written into its memory only when the end record arrives and the
 * page count matches; a checkpoint cut short is {@link #discard}ed, so the guest stays exactly at
 * the last whole checkpoint. Bounded: a checkpoint larger than maxBytes is refused, not buffered.
 * The buffer (direct, grown by doubling up to maxBytes) is reused from one checkpoint to the next.
 *
 * <p>One thread (the stream's receiving thread) uses it; not thread-safe.
 */
public final class CheckpointBuffer {
  private final int pageSize;
  private final long pageCount;
  private final long maxBytes;
  private ByteBuffer data = ByteBuffer.allocateDirect(0);
  private long[] pages = new long[256];
  private int count;
  private long checkpoint = -1; // being buffered; -1 = none
  /** A checkpoint's disk blocks, in the order they came (one entry per CheckpointBlocks frame). */
  private record Blocks(String diskId, long[] blocks, ByteBuffer data) {}

  private final java.util.List<Blocks> blocks = new java.util.ArrayList<>();
  private long blockCount;
  private long blockBytes;

  public CheckpointBuffer(int pageSize, long pageCount, long maxBytes) {
    if (maxBytes < pageSize || maxBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("max checkpoint bytes must be in " + pageSize + ".." + Integer.MAX_VALUE + ": " + maxBytes);
    }
    this.pageSize = pageSize;
    this.pageCount = pageCount;
    this.maxBytes = maxBytes;
  }

  /** The checkpoint being buffered, or -1 when none is. */
  public long checkpoint() {
    return checkpoint;
  }

  /** Pages buffered for it so far. */
  public int pageCount() {
    return count;
  }

  /**
   * Room for n more pages of checkpoint (starting it if none is buffered): the caller reads their
   * payload into the returned buffer (position to limit) and then calls {@link #commit}.
   *
   * @throws DataPlaneException if another checkpoint is half-buffered or this one would exceed the bound
   */
  public ByteBuffer reserve(long checkpoint, int n) {
    long need = (long) (count + n) * pageSize;
    claim(checkpoint, "pages", (long) n * pageSize);
    if (need > data.capacity()) {
      ByteBuffer grown = ByteBuffer.allocateDirect((int) Math.min(maxBytes, Math.max(need, 2L * data.capacity())));
      grown.put(data.clear().limit(count * pageSize));
      data = grown;
    }
    return data.clear().position(count * pageSize).limit((int) need).slice();
  }

  /** The pages whose payload was just read into the reserved room count as buffered. */
  public void commit(long[] indices) {
    for (long p : indices) {
      if (p < 0 || p >= pageCount) throw new DataPlaneException("page " + p + " outside the guest's " + pageCount + " pages");
    }
    if (count + indices.length > pages.length) pages = Arrays.copyOf(pages, Math.max(count + indices.length, 2 * pages.length));
    System.arraycopy(indices, 0, pages, count, indices.length);
    count += indices.length;
  }

  /**
   * Room for n blocks of blockSize bytes of a disk in checkpoint (starting it if none is
   * buffered): the caller reads their payload into the returned buffer, then commitBlocks.
   *
   * @throws DataPlaneException if another checkpoint is half-buffered or this one would exceed the bound
   */
  public ByteBuffer reserveBlocks(long checkpoint, int n, int blockSize) {
    long bytes = (long) n * blockSize;
    claim(checkpoint, "blocks", bytes);
    return ByteBuffer.allocate((int) bytes);
  }

  /** bytes more of checkpoint's pages or blocks fit in the bound (one for both); it is the one being buffered now. */
  private void claim(long checkpoint, String what, long bytes) {
    if (this.checkpoint != -1 && this.checkpoint != checkpoint) {
      throw new DataPlaneException(what + " of checkpoint " + checkpoint + " before the end of checkpoint " + this.checkpoint);
    }
    if ((long) count * pageSize + blockBytes + bytes > maxBytes) {
      throw new DataPlaneException("checkpoint " + checkpoint + " exceeds the secondary's buffer of " + maxBytes + " bytes");
    }
    this.checkpoint = checkpoint;
  }

  /** The blocks whose payload was just read into data (reserved by reserveBlocks) count as buffered. */
  public void commitBlocks(String diskId, long[] indices, ByteBuffer data) {
    blocks.add(new Blocks(diskId, indices, data));
    blockCount += indices.length;
    blockBytes += data.capacity();
  }

  /** Forgets the checkpoint being buffered; the guest was not touched. */
  public void discard() {
    checkpoint = -1;
    count = 0;
    blocks.clear();
    blockCount = 0;
    blockBytes = 0;
  }

  /**
   * Applies the whole checkpoint to the stopped guest: device state first (it is checked before
   * anything changes), then the pages in the order they came (a page sent twice ends with its
   * last content). Refused, with the guest untouched and the buffer discarded, if the end does
   * not close the checkpoint being buffered (number, page count), its device state does not load,
   * or the guest runs.
   *
   * @param expected the only checkpoint number the secondary takes next (the last applied + 1)
   */
  public AppliedCheckpoint apply(CheckpointEnd end, long expected, MigratableGuest guest) {
    try {
      if (end.getCheckpoint() != expected) {
        throw new DataPlaneException("end of checkpoint " + end.getCheckpoint() + " where checkpoint " + expected + " was due");
      }
      long buffered = checkpoint == -1 ? 0 : count;
      if ((checkpoint != -1 && checkpoint != expected) || end.getPageCount() != buffered) {
        throw new DataPlaneException("checkpoint " + end.getCheckpoint() + " ends with " + end.getPageCount()
            + " pages, " + buffered + " arrived: not applied");
      }
      if (end.getBlockCount() != blockCount) {
        throw new DataPlaneException("checkpoint " + end.getCheckpoint() + " ends with " + end.getBlockCount()
            + " disk blocks, " + blockCount + " arrived: not applied");
      }
      for (Blocks b : blocks) {
        if (guest.disk(b.diskId()) == null) throw new DataPlaneException("blocks of disk " + b.diskId() + ", which the copy does not have");
      }
      if (guest.state() == RunState.RUNNING) throw new DataPlaneException("the secondary's guest runs: checkpoints are not applied to it");
      try {
        guest.loadDeviceState(end.getDeviceState().toByteArray());
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw new DataPlaneException("device state of checkpoint " + expected + " refused: " + e.getMessage(), e);
      }
      writeBlocks(guest, expected);
      ByteBuffer src = data.duplicate().clear();
      for (int i = 0; i < count; i++) guest.memory().writePage(pages[i], src);
      // The step count the device state set, not the end's copy of it: that is what the guest resumes at.
      return new AppliedCheckpoint(expected, guest.steps(), end.getOutputsUpto(), buffered, buffered * pageSize + blockBytes);
    } finally {
      discard();
    }
  }

  /**
   * The checkpoint's disk blocks into the copy's disk files (not forced: the copy is memory too,
   * lost with its host; a failover forces them before the guest runs). A failure here leaves the
   * copy torn (device state loaded, some blocks written): TornCopyException, after which the copy
   * is not fit to take over.
   */
  private void writeBlocks(MigratableGuest guest, long checkpoint) {
    try {
      for (Blocks b : blocks) {
        guest.disk(b.diskId()).file().writeBlocks(b.blocks(), b.blocks().length, b.data().duplicate().clear());
      }
    } catch (java.io.IOException | RuntimeException e) {
      throw new TornCopyException("the disk blocks of checkpoint " + checkpoint + " could not be written: " + e.getMessage(), e);
    }
  }

  /** Applying a checkpoint failed after it had changed the copy: the copy is no checkpoint's state. */
  public static final class TornCopyException extends DataPlaneException {
    TornCopyException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
