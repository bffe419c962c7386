package org.livemig.config.cli;

import org.livemig.messages.MigrationInfo;

/** One line of `status --watch`: bar, percent, rate, ETA, round, expected downtime. */
final class ProgressBar {
  private ProgressBar() {}

  static final double MIB = 1024.0 * 1024.0;

  static String line(MigrationInfo i) {
    long total = Math.max(1, i.getTotalBytes());
    long sent = i.getTransferredBytes();
    // Data already sent in earlier rounds counts once: progress is what is no longer to send.
    double done = i.getStatus().name().equals("COMPLETED") ? 1.0
        : Math.max(0, Math.min(1.0, 1.0 - (double) i.getRemainingBytes() / total));
    if (i.getRemainingBytes() == 0 && i.getRounds() == 0 && !i.getStatus().name().equals("COMPLETED")) {
      done = Math.min(1.0, (double) sent / total);
    }
    int width = 30;
    int filled = (int) Math.round(done * width);
    String bar = "#".repeat(filled) + ".".repeat(width - filled);
    long rate = i.getThroughputBytesPerSecond();
    String eta = rate > 0 && i.getRemainingBytes() > 0 ? String.format("%.1fs", (double) i.getRemainingBytes() / rate) : "-";
    return String.format("%-9s %-7s [%s] %3.0f%% | sent %7.1f MiB | remaining %6.1f MiB | rate %6.1f MB/s | ETA %5s"
            + " | round %2d | expected downtime %4d ms", i.getStatus(), i.getPhase(), bar, done * 100, sent / MIB,
        i.getRemainingBytes() / MIB, rate / 1e6, eta, i.getRounds(), i.getExpectedDowntimeMs());
  }
}
