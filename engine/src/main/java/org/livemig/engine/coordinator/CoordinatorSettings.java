package org.livemig.engine.coordinator;

import com.typesafe.config.Config;
import java.time.Duration;
import org.livemig.messages.MigrationParameters;

/** livemig.coordinator and the livemig.migration defaults that fill a request's zero fields. */
record CoordinatorSettings(Duration stepTimeout, Duration performSilenceTimeout, Duration hostLookupTimeout,
    Duration hostLookupRetry, int snapshotEvery, boolean continuePerformAfterRestart, Duration passivateAfterEnd,
    Duration roundRecordInterval, MigrationParameters defaults) {

  static CoordinatorSettings fromConfig(Config config) {
    Config c = config.getConfig("livemig.coordinator");
    Config m = config.getConfig("livemig.migration");
    MigrationParameters defaults = MigrationParameters.newBuilder()
        .setDowntimeLimitMs(m.getDuration("downtime-limit").toMillis())
        .setMaxBandwidthBytesPerSecond(m.getLong("max-bandwidth-bytes-per-second"))
        .setMaxRoundsBeforeThrottle(m.getInt("max-rounds-before-throttle"))
        .setThrottleInitialPercent(m.getInt("throttle-initial-percent"))
        .setThrottleIncrementPercent(m.getInt("throttle-increment-percent"))
        .setThrottleMaxPercent(m.getInt("throttle-max-percent"))
        .setStallTimeoutMs(m.getDuration("stall-timeout").toMillis())
        .setChannels(m.getInt("channels"))
        .setPostcopyAfterRounds(m.getInt("postcopy-after-rounds"))
        .setPostcopyIfNotConverging(m.getBoolean("postcopy-if-not-converging"))
        .setPostcopyKeepaliveMs(m.getDuration("postcopy-keepalive").toMillis())
        .setDrainTimeoutMs(m.getDuration("drain-timeout").toMillis())
        .build();
    return new CoordinatorSettings(c.getDuration("step-timeout"), c.getDuration("perform-silence-timeout"),
        c.getDuration("host-lookup-timeout"), c.getDuration("host-lookup-retry"), c.getInt("snapshot-every"),
        switch (c.getString("after-restart-in-perform")) {
          case "continue" -> true;
          case "rollback" -> false;
          default -> throw new IllegalArgumentException(
              "livemig.coordinator.after-restart-in-perform must be continue or rollback, was "
                  + c.getString("after-restart-in-perform"));
        },
        c.getDuration("passivate-after-end"), c.getDuration("round-record-interval"), defaults);
  }

  /** A request's parameters with every zero field taken from the defaults. */
  MigrationParameters resolve(MigrationParameters p) {
    MigrationParameters d = defaults;
    return MigrationParameters.newBuilder()
        .setDowntimeLimitMs(p.getDowntimeLimitMs() > 0 ? p.getDowntimeLimitMs() : d.getDowntimeLimitMs())
        .setMaxBandwidthBytesPerSecond(p.getMaxBandwidthBytesPerSecond() > 0
            ? p.getMaxBandwidthBytesPerSecond() : d.getMaxBandwidthBytesPerSecond())
        .setMaxRoundsBeforeThrottle(p.getMaxRoundsBeforeThrottle() > 0
            ? p.getMaxRoundsBeforeThrottle() : d.getMaxRoundsBeforeThrottle())
        .setThrottleInitialPercent(p.getThrottleInitialPercent() > 0
            ? p.getThrottleInitialPercent() : d.getThrottleInitialPercent())
        .setThrottleIncrementPercent(p.getThrottleIncrementPercent() > 0
            ? p.getThrottleIncrementPercent() : d.getThrottleIncrementPercent())
        .setThrottleMaxPercent(p.getThrottleMaxPercent() > 0 ? p.getThrottleMaxPercent() : d.getThrottleMaxPercent())
        .setStallTimeoutMs(p.getStallTimeoutMs() > 0 ? p.getStallTimeoutMs() : d.getStallTimeoutMs())
        .setChannels(p.getChannels() > 0 ? p.getChannels() : d.getChannels())
        .setPostcopyAfterRounds(p.getPostcopyAfterRounds() > 0 ? p.getPostcopyAfterRounds() : d.getPostcopyAfterRounds())
        .setPostcopyIfNotConverging(p.getPostcopyIfNotConverging() || d.getPostcopyIfNotConverging())
        .setPostcopyNow(p.getPostcopyNow())
        .setPostcopyKeepaliveMs(p.getPostcopyKeepaliveMs() > 0 ? p.getPostcopyKeepaliveMs() : d.getPostcopyKeepaliveMs())
        .setDrainTimeoutMs(p.getDrainTimeoutMs() > 0 ? p.getDrainTimeoutMs() : d.getDrainTimeoutMs())
        .setCopyStorage(p.getCopyStorage())
        .setStorageMode(p.getCopyStorage() && p.getStorageMode().isEmpty() ? "write-blocking" : p.getStorageMode())
        .build();
  }
}
