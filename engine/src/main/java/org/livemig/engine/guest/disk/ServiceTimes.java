package org.livemig.engine.guest.disk;

/**
 * The service times (issue to completion) of a disk's last requests: the longest is what a drain
 * would take now, since the requests in flight run in parallel. Not thread-safe: the disk uses it
 * under its lock.
 */
final class ServiceTimes {
  private final long[] recentNanos = new long[64];
  private int next;

  void add(long nanos) {
    recentNanos[next] = nanos;
    next = (next + 1) % recentNanos.length;
  }

  long longestNanos() {
    long max = 0;
    for (long l : recentNanos) max = Math.max(max, l);
    return max;
  }
}
