package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

/**
 * The bulk copy of a disk move: passes over the mirror's dirty bitmap in block order, each block
 * held against the guest's requests while it is read from the source and written to the target
 * (so a guest write can never land between the read and the write and be overwritten by the
 * older copy), at most a given rate. Never-written blocks are not written: the target is sparse.
 */
public final class BulkCopy {
  private static final long MAX_PARK_NANOS = 10_000_000L;

  private final VirtualDisk disk;
  private final DiskMirror mirror;
  private final ByteBuffer buf;

  public BulkCopy(VirtualDisk disk, DiskMirror mirror) {
    this.disk = disk;
    this.mirror = mirror;
    this.buf = ByteBuffer.allocateDirect(mirror.target().blockSize());
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
      long b = mirror.takeDirty(next);
      if (b < 0) break;
      next = b + 1;
      int copied = copy(b, stop);
      if (copied < 0) break; // stopped while a request held the block
      blocks++;
      sent += copied;
      if (bytesPerSecond > 0 && copied > 0) pace(t0 + sent * buf.capacity() * 1_000_000_000L / bytesPerSecond, stop);
    }
    mirror.flush();
    return new Pass(blocks, System.nanoTime() - t0);
  }

  /**
   * Copies one block: 1 when written to the target, 0 when it was never written (skipped), -1
   * (the block left dirty) when the copy is to stop while a request holds it.
   */
  private int copy(long block, BooleanSupplier stop) throws IOException, InterruptedException {
    if (!disk.holdBlock(block, stop)) {
      mirror.markDirty(block);
      if (stop.getAsBoolean()) return -1;
      throw new IOException("disk " + disk.diskId() + " closed during the copy");
    }
    try {
      mirror.injectSourceReadFault();
      disk.file().read(block, buf);
      if (isZero(buf)) {
        mirror.skippedZero();
        return 0;
      }
      mirror.copy(block, buf);
      return 1;
    } catch (IOException | RuntimeException e) {
      mirror.markDirty(block); // not on the target: a later pass (if any) copies it
      throw e;
    } finally {
      disk.releaseBlock(block);
    }
  }

  private static void pace(long dueNanos, BooleanSupplier stop) {
    for (long left = dueNanos - System.nanoTime(); left > 0 && !stop.getAsBoolean(); left = dueNanos - System.nanoTime()) {
      LockSupport.parkNanos(Math.min(left, MAX_PARK_NANOS));
    }
  }

  private static boolean isZero(ByteBuffer b) {
    for (int i = 0; i + 8 <= b.capacity(); i += 8) {
      if (b.getLong(i) != 0) return false;
    }
    return true;
  }
}
