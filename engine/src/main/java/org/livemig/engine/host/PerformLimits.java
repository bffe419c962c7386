package org.livemig.engine.host;

import org.livemig.messages.MigrationParameters;
import org.livemig.messages.SetParametersRequest;

/**
 * The limits of a running Perform as the operator changes them (SetParameters): the cap applies
 * from the next batch, the downtime limit from the next decision, a postcopy request at the end
 * of the round. Plain code, used by the SourceActor's actor only.
 */
final class PerformLimits {
  private MigrationParameters params;
  // The coordinator's control path of a switchover, as it measures it (0 until it does): raced
  // against the stun and the final copy, since the destination runs once both are through.
  private long switchoverOverheadMs;

  PerformLimits(MigrationParameters params) {
    this.params = params;
  }

  MigrationParameters params() { return params; }

  long switchoverOverheadMs() { return switchoverOverheadMs; }

  /** The host's data-plane settings with this migration's stall timeout. */
  org.livemig.engine.dataplane.DataPlaneSettings dataPlane(org.livemig.engine.dataplane.DataPlaneSettings host) {
    return host.withStallTimeout(java.time.Duration.ofMillis(params.getStallTimeoutMs()));
  }

  /** Applies p; a new cap goes to share. Returns what changed, for the log ("" when nothing worth saying). */
  String apply(SetParametersRequest p, LinkShare share) {
    if (p.getSwitchoverOverheadMs() > 0) switchoverOverheadMs = p.getSwitchoverOverheadMs();
    String said = "";
    if (p.getStartPostcopy() && !params.getPostcopyNow()) {
      params = params.toBuilder().setPostcopyNow(true).build();
      said = "postcopy requested: switching at the end of the current round";
    }
    if (p.getMaxBandwidthBytesPerSecond() == 0 && p.getDowntimeLimitMs() == 0) return said;
    var b = params.toBuilder();
    if (p.getDowntimeLimitMs() > 0) b.setDowntimeLimitMs(p.getDowntimeLimitMs());
    if (p.getMaxBandwidthBytesPerSecond() > 0) {
      b.setMaxBandwidthBytesPerSecond(p.getMaxBandwidthBytesPerSecond());
      share.capChanged(p.getMaxBandwidthBytesPerSecond()); // the copies hear back the share within it
    }
    params = b.build();
    return (said.isEmpty() ? "" : said + "; ") + "limits now: max bandwidth " + params.getMaxBandwidthBytesPerSecond()
        + " B/s, downtime limit " + params.getDowntimeLimitMs() + " ms";
  }
}
