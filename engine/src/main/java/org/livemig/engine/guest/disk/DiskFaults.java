package org.livemig.engine.guest.disk;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Disk faults injected on one host (livemig.host.faults.disk), for chaos tests and operators
 * who want to see a migration meet a bad disk. Times count from when the guest's disk was
 * opened on this host; null = off.
 *
 * @param writeDelay every write takes this much longer (a slow disk)
 * @param hangWriteAfter the first write issued after this never completes (until the disk is closed)
 * @param failWritesAfter from this time on, the next failWrites writes fail with an I/O error
 * @param fullAfter writes issued after this fail with "no space left": the guest stops writing
 */
public record DiskFaults(Duration writeDelay, Duration hangWriteAfter, Duration failWritesAfter, int failWrites,
    Duration fullAfter) {

  public static DiskFaults none() {
    return new DiskFaults(Duration.ZERO, null, null, 0, null);
  }

  public static DiskFaults fromConfig(Config disk) {
    return new DiskFaults(disk.getDuration("write-delay"), optional(disk, "hang-write-after"),
        optional(disk, "fail-writes-after"), disk.getInt("fail-writes"), optional(disk, "full-after"));
  }

  private static Duration optional(Config c, String path) {
    return c.hasPath(path) ? c.getDuration(path) : null;
  }

  public DiskFaults withWriteDelay(Duration d) {
    return new DiskFaults(d, hangWriteAfter, failWritesAfter, failWrites, fullAfter);
  }
}
