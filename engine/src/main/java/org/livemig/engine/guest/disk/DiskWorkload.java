package org.livemig.engine.guest.disk;

import java.util.concurrent.locks.LockSupport;
import org.livemig.messages.DiskDescription;

/**
 * A disk's workload thread, the guest's I/O: writes paced at the configured rate while the guest
 * runs, each waiting for a queue slot and its block, and reads_per_mille reads per 1000 writes in
 * between. Held up (queue full, block busy), it does not burst to catch up afterwards.
 */
final class DiskWorkload implements Runnable {
  /** Pacing granularity, as the memory workload's. */
  private static final long BATCH_NANOS = 1_000_000L;

  private final VirtualDisk disk;
  private final DiskDescription description;
  private final int queueDepth;

  DiskWorkload(VirtualDisk disk, DiskDescription description, int queueDepth) {
    this.disk = disk;
    this.description = description;
    this.queueDepth = queueDepth;
  }

  /** The workload thread: writes at the configured rate while the guest runs, reads in between. */
  @Override
  public void run() {
    long perWriteNanos = description.getWritesPerSecond() == 0 ? 0 : 1_000_000_000L / description.getWritesPerSecond();
    while (disk.awaitIssuing()) {
      if (perWriteNanos == 0) { // no writes, so no reads either (reads come per 1000 writes)
        disk.idle();
        continue;
      }
      long t0 = System.nanoTime();
      long issued = 0;
      int readCredit = 0;
      while (disk.isIssuing()) {
        long due = (System.nanoTime() - t0) / perWriteNanos + 1 - issued;
        if (due > queueDepth) { // held up (queue full, block busy): no burst to catch up afterwards
          issued += due - queueDepth;
          due = queueDepth;
        }
        if (due <= 0) {
          LockSupport.parkNanos(Math.max(BATCH_NANOS, t0 + issued * perWriteNanos - System.nanoTime()));
          continue;
        }
        if (!disk.issueWrite()) break;
        issued++;
        for (readCredit += description.getReadsPerMille(); readCredit >= 1000; readCredit -= 1000) disk.issueRead();
      }
    }
  }
}
