package org.livemig.engine.replication;

/**
 * What the primary reports about a protected guest (issue 17's REPLICATING status).
 *
 * @param checkpoints checkpoints the secondary acknowledged
 * @param lastCheckpoint the number of the last acknowledged one (0 = none yet)
 * @param lastCheckpointAgeMillis how old the secondary's state is: time since the pause of the
 *     last acknowledged checkpoint (-1 = none yet)
 * @param lastCheckpointBytes page bytes of the last acknowledged checkpoint
 * @param lastPauseMicros how long the guest stood still for it (harvest + copy, not the send)
 * @param p50PauseMicros median pause over the last 1024 checkpoints
 * @param p99PauseMicros 99th percentile pause over the last 1024 checkpoints
 * @param syncBytes page bytes of the initial sync
 * @param failure why replication stopped (state FAILED), else null
 */
public record ReplicationStatus(State state, long checkpoints, long lastCheckpoint, long lastCheckpointAgeMillis,
    long lastCheckpointBytes, long lastPauseMicros, long p50PauseMicros, long p99PauseMicros, long syncBytes, String failure) {

  public enum State { SYNCING, REPLICATING, STOPPED, FAILED }
}
