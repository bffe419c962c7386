package org.livemig.config.demo;

import java.io.PrintStream;
import java.util.Locale;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.RoundStats;

/** The demo's closing report. */
final class Summary {
  private Summary() {}

  static void print(MigrationInfo i, boolean verified, PrintStream out) {
    long sendNanos = 0;
    long maxDirty = 0;
    for (RoundStats r : i.getRoundHistoryList()) {
      sendNanos += r.getDurationNs();
      maxDirty = Math.max(maxDirty, r.getDirtyRateBytesPerSecond());
    }
    double throughput = sendNanos == 0 ? 0 : i.getTransferredBytes() * 1e9 / sendNanos;
    out.println("---- migration " + i.getMigrationId() + " ----");
    out.printf(Locale.ROOT, "status        %s%s%n", i.getStatus(), i.getError().isEmpty() ? "" : " (" + i.getError() + ")");
    out.printf(Locale.ROOT, "total time    %d ms%n", i.getTotalTimeMs());
    out.printf(Locale.ROOT, "setup time    %d ms%n", i.getSetupTimeMs());
    out.printf(Locale.ROOT, "downtime      %s%n", i.getDowntimeMs() < 0 ? "n/a" : i.getDowntimeMs() + " ms");
    out.printf(Locale.ROOT, "transferred   %s of a %s guest (%d normal pages, %d zero pages)%n",
        Demo.mib(i.getTransferredBytes()), Demo.mib(i.getTotalBytes()), i.getNormalPages(), i.getZeroPages());
    out.printf(Locale.ROOT, "rounds        %d (throttle at the end %d%%)%n", i.getRounds(), i.getThrottlePercent());
    out.printf(Locale.ROOT, "throughput    %.1f MB/s while sending%n", throughput / 1e6);
    out.printf(Locale.ROOT, "dirty rate    %.1f MB/s (highest round)%n", maxDirty / 1e6);
    if (i.hasPostcopyResult()) {
      var r = i.getPostcopyResult();
      out.printf(Locale.ROOT, "postcopy      %d pages fetched while running, %d faults (median %d us, p99 %d us), "
          + "%d duplicates%n", r.getPagesReceived(), r.getFaults(), r.getFaultMedianUs(), r.getFaultP99Us(),
          r.getDuplicatePages());
    }
    out.printf(Locale.ROOT, "memory        %s%n", verified ? "verified against the oracle" : "NOT verified");
  }
}
