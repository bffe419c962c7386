package org.livemig.engine.replication;

import java.util.Arrays;

/** The primary's counters, written by its checkpointer thread and read by status queries. */
final class CheckpointStats {
  private static final int KEPT_PAUSES = 1024;

  private final long[] pauses = new long[KEPT_PAUSES]; // ring of pause nanos
  private ReplicationStatus.State state = ReplicationStatus.State.SYNCING;
  private long checkpoints;
  private long last;
  private long lastPausedAtNanos;
  private long lastBytes;
  private long lastPauseNanos;
  private long syncBytes;
  private String failure;

  synchronized void synced(long bytes) {
    syncBytes += bytes;
  }

  synchronized void replicating() {
    if (state == ReplicationStatus.State.SYNCING) state = ReplicationStatus.State.REPLICATING;
  }

  synchronized void acknowledged(long checkpoint, long bytes, long pausedAtNanos, long pauseNanos) {
    pauses[(int) (checkpoints % KEPT_PAUSES)] = pauseNanos;
    checkpoints++;
    last = checkpoint;
    lastBytes = bytes;
    lastPausedAtNanos = pausedAtNanos;
    lastPauseNanos = pauseNanos;
  }

  synchronized void ended(String reason) {
    if (state == ReplicationStatus.State.FAILED || state == ReplicationStatus.State.STOPPED) return;
    state = reason == null ? ReplicationStatus.State.STOPPED : ReplicationStatus.State.FAILED;
    failure = reason;
  }

  synchronized ReplicationStatus snapshot(long nowNanos) {
    long[] sorted = Arrays.copyOf(pauses, (int) Math.min(checkpoints, KEPT_PAUSES));
    Arrays.sort(sorted);
    long age = checkpoints == 0 ? -1 : (nowNanos - lastPausedAtNanos) / 1_000_000;
    return new ReplicationStatus(state, checkpoints, last, age, lastBytes, lastPauseNanos / 1000,
        percentile(sorted, 50) / 1000, percentile(sorted, 99) / 1000, syncBytes, failure);
  }

  /** Nearest-rank percentile of sorted values; 0 when there are none. */
  static long percentile(long[] sorted, int p) {
    if (sorted.length == 0) return 0;
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, rank - 1)];
  }
}
