package org.livemig.engine.guest.disk;

import java.time.Duration;

/**
 * Which fault, if any, the next write of one disk meets, from the host's {@link DiskFaults} and
 * the time since the disk was opened: the disk is full from full-after on; the first write after
 * hang-write-after hangs; from fail-writes-after on, the next fail-writes writes fail. Not
 * thread-safe: the disk asks under its lock.
 */
final class FaultPlan {
  enum Fault { NONE, FULL, HANG, FAIL }

  private final DiskFaults faults;
  private final long openedNanos;
  private boolean hangUsed;
  private int failuresLeft;

  FaultPlan(DiskFaults faults, long openedNanos) {
    this.faults = faults;
    this.openedNanos = openedNanos;
    this.failuresLeft = faults.failWrites();
  }

  Fault nextWrite(long nowNanos) {
    long since = nowNanos - openedNanos;
    if (after(faults.fullAfter(), since)) return Fault.FULL;
    if (!hangUsed && after(faults.hangWriteAfter(), since)) {
      hangUsed = true;
      return Fault.HANG;
    }
    if (failuresLeft > 0 && after(faults.failWritesAfter(), since)) {
      failuresLeft--;
      return Fault.FAIL;
    }
    return Fault.NONE;
  }

  private static boolean after(Duration fault, long sinceNanos) {
    return fault != null && sinceNanos >= fault.toNanos();
  }
}
