package org.livemig.config.cli;

import org.livemig.messages.MigrationInfo;

/** `migratectl status ID`: the query-migrate fields, one per line. */
final class StatusText {
  private StatusText() {}

  static String of(MigrationInfo i) {
    StringBuilder b = new StringBuilder();
    line(b, "migration", i.getMigrationId());
    line(b, "guest", i.getGuestId() + " (" + i.getSourceHost() + " -> " + i.getDestinationHost() + ")");
    line(b, "status", i.getStatus() + " in " + i.getPhase() + " (epoch " + i.getEpoch() + ", owner " + i.getResumeOwner() + ")");
    line(b, "total time", i.getTotalTimeMs() + " ms (setup " + i.getSetupTimeMs() + " ms)");
    line(b, "downtime", i.getDowntimeMs() < 0 ? "-" : i.getDowntimeMs() + " ms");
    line(b, "expected downtime", i.getExpectedDowntimeMs() + " ms");
    if (i.hasBlackout()) {
      var o = i.getBlackout();
      line(b, "blackout", String.format("stun %.1f ms, drain %.1f ms (%d disk requests in flight), final copy %.1f ms, "
          + "device state %.1f ms, unleash %.1f ms", o.getStunUs() / 1e3, o.getDrainUs() / 1e3,
          o.getDiskRequestsInFlightAtStun(), o.getFinalCopyUs() / 1e3, o.getDeviceStateUs() / 1e3, o.getUnleashUs() / 1e3));
      if (o.getDiskPivotUs() > 0) {
        line(b, "disk pivot", String.format("%.1f ms before the stun (disk I/O held, vCPUs running)", o.getDiskPivotUs() / 1e3));
      }
    }
    if (i.getSourceTeardownUs() > 0) {
      line(b, "source teardown", String.format("%.1f ms (after the destination ran)", i.getSourceTeardownUs() / 1e3));
    }
    line(b, "transferred", String.format("%.1f MiB of %.1f MiB (remaining %.1f MiB)", i.getTransferredBytes() / ProgressBar.MIB,
        i.getTotalBytes() / ProgressBar.MIB, i.getRemainingBytes() / ProgressBar.MIB));
    line(b, "pages", i.getNormalPages() + " normal, " + i.getZeroPages() + " zero");
    line(b, "throughput", String.format("%.1f MB/s", i.getThroughputBytesPerSecond() / 1e6));
    if (i.getBandwidthShareBytesPerSecond() > 0) { // 0: unlimited, or not copying
      line(b, "bandwidth share", String.format("%.1f MB/s", i.getBandwidthShareBytesPerSecond() / 1e6));
    }
    line(b, "dirty rate", String.format("%.1f MB/s", i.getDirtyRateBytesPerSecond() / 1e6));
    line(b, "rounds", i.getRounds() + " (throttle " + i.getThrottlePercent() + "%)");
    if (i.getPostcopy()) {
      line(b, "postcopy", i.getPostcopyPagesMissing() + " pages missing, " + i.getRecoveries() + " recover(ies)");
      if (!i.getPostcopyPausedReason().isEmpty()) line(b, "paused because", i.getPostcopyPausedReason());
      if (i.hasPostcopyResult()) {
        var r = i.getPostcopyResult();
        line(b, "postcopy faults", r.getFaults() + " (median " + r.getFaultMedianUs() + " us, p99 " + r.getFaultP99Us()
            + " us), " + r.getPagesReceived() + " pages over " + r.getConnections() + " connection(s), "
            + r.getDuplicatePages() + " duplicates");
      }
    }
    for (var d : i.getDisksList()) line(b, "disk " + d.getDiskId(), GuestCommands.line(d));
    if (!i.getError().isEmpty()) line(b, "error", i.getError());
    return b.toString();
  }

  private static void line(StringBuilder b, String name, String value) {
    b.append(String.format("%-18s %s%n", name, value));
  }
}
