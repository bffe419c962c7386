package org.livemig.engine.replication;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How a protected guest is checkpointed (livemig.host.replication in reference.conf).
 *
 * @param interval from one checkpoint's pause to the next (100 ms by default; 25 ms works)
 * @param ackTimeout how long the primary waits for the secondary to acknowledge a checkpoint
 *     before the stream fails (silence is not success)
 * @param pauseTimeout how long the guest may take to stop at a checkpoint
 * @param maxCheckpointBytes largest checkpoint (its pages) either end takes: the secondary
 *     buffers one whole, so this bounds its memory; a larger one fails the protection
 * @param syncRounds live rounds of dirty pages after the initial copy, before the first
 *     checkpoint, while more than half of maxCheckpointBytes is dirty
 * @param lease how long past one interval after a checkpoint's pause the primary runs its guest
 *     without that checkpoint's ack; a silent primary has the guest stopped by then, so the
 *     secondary may take over once it has waited as long (the floor of a failover's time)
 */
public record CheckpointSettings(Duration interval, Duration ackTimeout, Duration pauseTimeout, long maxCheckpointBytes,
    int syncRounds, Duration lease) {
  public CheckpointSettings {
    positive(lease, "lease");
    positive(interval, "interval");
    positive(ackTimeout, "ackTimeout");
    positive(pauseTimeout, "pauseTimeout");
    if (maxCheckpointBytes < 4096 || maxCheckpointBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("maxCheckpointBytes must be in 4096.." + Integer.MAX_VALUE + ": " + maxCheckpointBytes);
    }
    if (syncRounds < 0) throw new IllegalArgumentException("syncRounds must be >= 0: " + syncRounds);
  }

  private static void positive(Duration d, String name) {
    if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(name + " must be positive: " + d);
  }

  public static CheckpointSettings defaults() {
    return new CheckpointSettings(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofSeconds(2), 256L << 20, 5,
        Duration.ofSeconds(1));
  }

  public static CheckpointSettings fromConfig(Config replication) {
    return new CheckpointSettings(replication.getDuration("checkpoint-interval"), replication.getDuration("ack-timeout"),
        replication.getDuration("pause-timeout"), replication.getBytes("max-checkpoint-bytes"), replication.getInt("sync-rounds"),
        replication.getDuration("lease"));
  }

  public CheckpointSettings withInterval(Duration d) {
    return new CheckpointSettings(d, ackTimeout, pauseTimeout, maxCheckpointBytes, syncRounds, lease);
  }

  public CheckpointSettings withAckTimeout(Duration d) {
    return new CheckpointSettings(interval, d, pauseTimeout, maxCheckpointBytes, syncRounds, lease);
  }

  public CheckpointSettings withLease(Duration d) {
    return new CheckpointSettings(interval, ackTimeout, pauseTimeout, maxCheckpointBytes, syncRounds, d);
  }

  /** The lease from a checkpoint's pause: one interval to the next checkpoint, and the lease for its ack. */
  public Duration leaseFromPause() {
    return interval.plus(lease);
  }

  public CheckpointSettings withMaxCheckpointBytes(long bytes) {
    return new CheckpointSettings(interval, ackTimeout, pauseTimeout, bytes, syncRounds, lease);
  }
}
