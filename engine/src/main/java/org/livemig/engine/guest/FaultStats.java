package org.livemig.engine.guest;

/**
 * Postcopy fault latencies: how long guest accesses to missing pages waited until the page
 * arrived. Percentiles are over the most recent faults (a bounded window); faults counts all.
 */
public record FaultStats(long faults, long medianNanos, long p99Nanos, long maxNanos) {
  public static final FaultStats NONE = new FaultStats(0, 0, 0, 0);
}
