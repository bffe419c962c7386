package org.livemig.engine.storage;

import com.typesafe.config.Config;
import java.time.Duration;

/** livemig.host.storage-move: how disk moves on this host converge, stun and are remembered. */
public record MoveSettings(long readyThresholdBytes, int maxPasses, Duration drainTimeout, int keepEnded) {
  public MoveSettings {
    if (readyThresholdBytes < 0) throw new IllegalArgumentException("livemig.host.storage-move.ready-threshold must be 0 or more");
    if (maxPasses < 1) throw new IllegalArgumentException("livemig.host.storage-move.max-passes must be 1 or more");
    if (drainTimeout.isNegative() || drainTimeout.isZero()) {
      throw new IllegalArgumentException("livemig.host.storage-move.drain-timeout must be positive");
    }
    if (keepEnded < 1) throw new IllegalArgumentException("livemig.host.storage-move.keep-ended must be 1 or more");
  }

  public static MoveSettings fromConfig(Config c) {
    return new MoveSettings(c.getBytes("ready-threshold"), c.getInt("max-passes"), c.getDuration("drain-timeout"),
        c.getInt("keep-ended"));
  }
}
