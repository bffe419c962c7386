package org.livemig.engine.replication;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * A host's side of protections (livemig.host.replication): how checkpoints are taken, how often
 * the primary reports to the coordinator, and the guest output the host releases.
 *
 * @param stepsPerOutput a protected guest emits one external output every this many steps
 * @param reportInterval how often a primary reports its replication's status
 * @param outputLog the file released outputs are appended to ("" = counted only)
 * @param fault chaos: where a primary halts its JVM (livemig.host.faults.replication)
 */
public record ReplicationSettings(CheckpointSettings checkpoints, long stepsPerOutput, Duration reportInterval,
    String outputLog, CheckpointFault fault) {
  public ReplicationSettings {
    if (stepsPerOutput < 1) throw new IllegalArgumentException("livemig.host.replication.steps-per-output must be >= 1");
    if (reportInterval.isNegative() || reportInterval.isZero()) {
      throw new IllegalArgumentException("livemig.host.replication.report-interval must be positive");
    }
  }

  /** From livemig.host.replication, with livemig.host.faults.replication. */
  public static ReplicationSettings fromConfig(Config host) {
    Config replication = host.getConfig("replication");
    Config faults = host.getConfig("faults.replication");
    return new ReplicationSettings(CheckpointSettings.fromConfig(replication), replication.getLong("steps-per-output"),
        replication.getDuration("report-interval"), replication.getString("output-log"),
        CheckpointFault.parse(faults.getString("halt-at"), faults.getLong("halt-at-checkpoint")));
  }
}
