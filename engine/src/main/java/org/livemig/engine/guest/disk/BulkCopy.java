package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

/**
 * The bulk copy of a disk move: passes over the mirror's dirty bitmap in block order, a batch of
 * dirty blocks at a time, at most a given rate. Each block of a batch is held against the guest's
 * requests from before it is read from the source until the batch was written to the target (for
 * a remote target: until its frame is on the stream), so a guest write of it waits and its
 * mirrored copy goes after the older copy: the older copy can never overwrite a newer guest
 * write. Never-written blocks are not written: the target is sparse.
 *
 * <p>A batch goes to the target as one write (one frame on a disk stream): per block, a frame
 * header, a checksum, a TLS record and a write call cost more than the block's bytes do.
 */
public final class BulkCopy {
  /** Bytes read and written per batch: several blocks a frame, and the guest's writes wait behind at most one. */
  public static final int BATCH_BYTES = 128 * 1024;
  private static final long MAX_PARK_NANOS = 10_000_000L;

  private final VirtualDisk disk;
  private final DiskMirror mirror;
  private final int blockSize;
  /** The batch's blocks as taken from the dirty bitmap (held while copied) and, of those, the ones written. */
  private final long[] taken;
  private final long[] written;
  private final ByteBuffer buf; // the written blocks' contents, in written's order
  private final ByteBuffer view; // buf again, for moving a block within it and for comparing
  private final ByteBuffer zeros;

  public BulkCopy(VirtualDisk disk, DiskMirror mirror) {
    this(disk, mirror, Math.max(1, BATCH_BYTES / mirror.target().blockSize()));
  }

  /** batchBlocks: blocks per batch at most. */
  BulkCopy(VirtualDisk disk, DiskMirror mirror, int batchBlocks) {
    this.disk = disk;
    this.mirror = mirror;
    this.blockSize = mirror.target().blockSize();
    this.taken = new long[batchBlocks];
    this.written = new long[batchBlocks];
    this.buf = ByteBuffer.allocateDirect(batchBlocks * blockSize);
    this.view = buf.duplicate();
    this.zeros = ByteBuffer.allocateDirect(blockSize);
  }

  /** What one pass did: blocks copied and how long it took. */
  public record Pass(long blocks, long nanos) {}

  /**
   * One pass over the blocks dirty now (and those dirtied behind it at a higher number), made
   * durable at its end; stops early once stop says so. bytesPerSecond 0: no limit.
   */
  public Pass pass(BooleanSupplier stop, long bytesPerSecond) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    long blocks = 0;
    long sent = 0; // blocks that went to the target: a never-written one costs the link nothing
    long next = 0;
    while (!stop.getAsBoolean()) {
      int n = mirror.takeDirty(next, taken);
      if (n == 0) break;
      next = taken[n - 1] + 1;
      int copied = copy(n, stop);
      if (copied < 0) break; // stopped while a request held a block
      blocks += n;
      sent += copied;
      if (bytesPerSecond > 0 && copied > 0) pace(t0 + sent * blockSize * 1_000_000_000L / bytesPerSecond, stop);
    }
    mirror.flush();
    return new Pass(blocks, System.nanoTime() - t0);
  }

  /**
   * Copies taken[0 .. n): returns how many were written to the target (the others were never
   * written, skipped), or -1 (all left dirty) when the copy is to stop while a request holds one.
   */
  private int copy(int n, BooleanSupplier stop) throws IOException, InterruptedException {
    int held = 0;
    boolean copied = false;
    try {
      while (held < n && disk.holdBlock(taken[held], stop)) held++;
      if (held < n) {
        if (stop.getAsBoolean()) return -1;
        throw new IOException("disk " + disk.diskId() + " closed during the copy");
      }
      mirror.injectSourceReadFault();
      int count = read(n);
      if (count > 0) mirror.copy(written, count, buf.position(0).limit(count * blockSize));
      copied = true;
      return count;
    } finally {
      if (!copied) mirror.markDirty(taken, n); // not on the target: a later pass (if any) copies them
      disk.releaseBlocks(taken, held); // only now may a guest write of one (and its mirrored copy) follow
    }
  }

  /**
   * Reads taken[0 .. n) (held), one read call per run of consecutive blocks; the written ones end
   * up at the front of buf, in order, and in written. Returns how many were written.
   */
  private int read(int n) throws IOException {
    DiskFile file = disk.file();
    int kept = 0;
    int skipped = 0;
    for (int i = 0, run; i < n; i += run) {
      for (run = 1; i + run < n && taken[i + run] == taken[i] + run; run++) {}
      int first = kept; // the run lands at slot first on, after the blocks kept so far
      file.readBlocks(taken[i], buf.limit((first + run) * blockSize).position(first * blockSize));
      for (int j = 0; j < run; j++) {
        int at = (first + j) * blockSize;
        if (view.limit(at + blockSize).position(at).mismatch(zeros) < 0) {
          skipped++;
          continue;
        }
        if (kept != first + j) buf.put(kept * blockSize, view, at, blockSize);
        written[kept++] = taken[i + j];
      }
    }
    if (skipped > 0) mirror.skippedZero(skipped);
    return kept;
  }

  private static void pace(long dueNanos, BooleanSupplier stop) {
    for (long left = dueNanos - System.nanoTime(); left > 0 && !stop.getAsBoolean(); left = dueNanos - System.nanoTime()) {
      LockSupport.parkNanos(Math.min(left, MAX_PARK_NANOS));
    }
  }
}
