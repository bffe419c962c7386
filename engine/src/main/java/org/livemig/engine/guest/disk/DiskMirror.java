package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The mirror node of one disk being moved to a target file: a dirty bitmap of the blocks the
 * target does not hold yet, and, once installed in write-blocking mode, the guest's writes
 * written to the target too before the guest sees them acknowledged (VMware's IO mirroring,
 * QEMU's write-blocking mirror). In background mode it only tracks: the bulk copy catches up in
 * rounds, converging only if it outruns the guest's writes.
 *
 * <p>A guest write is acknowledged once durable on the source, whatever the target does: a
 * failed target write fails the move (the guest stays on its source disk, which holds every
 * acknowledged write), never the guest's write.
 */
public final class DiskMirror {
  public enum Mode { WRITE_BLOCKING, BACKGROUND }

  private final MirrorTarget target;
  private final Mode mode;
  private final MirrorFaults faults;
  private final BitSet dirty; // guarded by this
  private long dirtyCount; // guarded by this
  private volatile boolean installed;
  /** Out of the write path: a write still in flight with it leaves the target alone. */
  private volatile boolean retired;
  private volatile boolean firstPassDone;
  private boolean targetWriteFaultUsed; // guarded by this
  private boolean targetFullFaultUsed; // guarded by this
  private boolean sourceReadFaultUsed; // guarded by this
  private final CompletableFuture<String> failure = new CompletableFuture<>();
  private final AtomicLong copiedBytes = new AtomicLong();
  private final AtomicLong mirroredWrites = new AtomicLong();

  /** Every block starts dirty: the target is empty. */
  public DiskMirror(MirrorTarget target, Mode mode, MirrorFaults faults) {
    this.target = target;
    this.mode = mode;
    this.faults = faults;
    this.dirty = new BitSet();
    this.dirty.set(0, Math.toIntExact(target.blockCount()));
    this.dirtyCount = target.blockCount();
  }

  public MirrorTarget target() { return target; }

  public Mode mode() { return mode; }

  public boolean installed() { return installed; }

  /** Guest writes from now on go to both sides (write-blocking only); the copy catches up the rest. */
  public void install() {
    if (mode != Mode.WRITE_BLOCKING) throw new IllegalStateException("a background mirror only tracks dirty blocks");
    installed = true;
  }

  /** The first pass of the bulk copy is done: faults of the MIRROR phase apply from now on. */
  public void firstPassDone() { firstPassDone = true; }

  /** The first failure on the target side: completes when the move must fail (never completes otherwise). */
  public CompletableFuture<String> failure() { return failure; }

  public long copiedBytes() { return copiedBytes.get(); }

  public long mirroredWrites() { return mirroredWrites.get(); }

  public synchronized long dirtyBlocks() { return dirtyCount; }

  /**
   * A guest write of block is being issued (under the disk's lock): true if it must go to the
   * target as well; otherwise the block is marked dirty for the copy.
   */
  boolean writeIssued(long block) {
    if (installed) return true;
    markDirty(block);
    return false;
  }

  synchronized void markDirty(long block) {
    if (!dirty.get((int) block)) {
      dirty.set((int) block);
      dirtyCount++;
    }
  }

  /** Marks blocks[0 .. n) dirty again (a batch the copy did not get to the target). */
  synchronized void markDirty(long[] blocks, int n) {
    for (int i = 0; i < n; i++) markDirty(blocks[i]);
  }

  /**
   * The next dirty blocks at or after from, in order, up to into.length of them, cleared (the
   * caller holds them and copies them now); returns how many (0: none left).
   */
  synchronized int takeDirty(long from, long[] into) {
    int n = 0;
    for (int b = dirty.nextSetBit((int) from); b >= 0 && n < into.length; b = dirty.nextSetBit(b + 1)) {
      dirty.clear(b);
      into[n++] = b;
    }
    dirtyCount -= n;
    return n;
  }

  /** A guest write's block, written to the target and made durable; a failure fails the move, not the write. */
  void mirrorWrite(long block, ByteBuffer data) {
    if (retired) return;
    try {
      injectTargetFault();
      target.writeDurably(block, data);
      mirroredWrites.incrementAndGet();
    } catch (IOException | RuntimeException e) {
      markDirty(block);
      fail("mirrored write of block " + block + " to " + target.describe() + " failed: " + e.getMessage());
    }
  }

  /** Blocks copied by the bulk copy (see {@link MirrorTarget#writeBlocks}; made durable by {@link #flush}). */
  void copy(long[] blocks, int count, ByteBuffer data) throws IOException {
    injectTargetFault();
    target.writeBlocks(blocks, count, data);
    copiedBytes.addAndGet((long) count * target.blockSize());
  }

  /** Blocks the copy found never written: the target, sparse, already reads zeros there. */
  void skippedZero(int count) {
    copiedBytes.addAndGet((long) count * target.blockSize());
  }

  /** Throws if a source-read fault is due in this phase. */
  synchronized void injectSourceReadFault() throws IOException {
    if (!sourceReadFaultUsed && due(faults.sourceReadError())) {
      sourceReadFaultUsed = true;
      throw new IOException("I/O error reading the source (fault injected)");
    }
  }

  private synchronized void injectTargetFault() throws IOException {
    if (!targetFullFaultUsed && due(faults.targetFull())) {
      targetFullFaultUsed = true;
      throw new IOException("no space left on device (fault injected)");
    }
    if (!targetWriteFaultUsed && due(faults.targetWriteError())) {
      targetWriteFaultUsed = true;
      throw new IOException("I/O error (fault injected)");
    }
  }

  private boolean due(MirrorFaults.Phase p) {
    return p == MirrorFaults.Phase.COPY ? !firstPassDone : p == MirrorFaults.Phase.MIRROR && firstPassDone;
  }

  /** Throws if a target write fault is due at the pivot (target-write-error = pivot). */
  public synchronized void injectPivotFault() throws IOException {
    if (!targetWriteFaultUsed && faults.targetWriteError() == MirrorFaults.Phase.PIVOT) {
      targetWriteFaultUsed = true;
      throw new IOException("I/O error making the target durable at the pivot (fault injected)");
    }
  }

  /** Makes the copied blocks durable. */
  public void flush() throws IOException {
    target.flush();
  }

  /** Removed from the write path (see {@link VirtualDisk#detach}). */
  void retire() {
    retired = true;
  }

  public void fail(String reason) {
    failure.complete(reason);
  }
}
