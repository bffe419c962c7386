package org.livemig.config.demo;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.client.MigrationClient;
import org.livemig.messages.MigrationInfo;

/** Polls a migration's status and redraws one progress line until it ends. */
final class ProgressLine {
  private ProgressLine() {}

  static MigrationInfo follow(MigrationClient client, String migrationId, PrintStream out) throws Exception {
    while (true) {
      MigrationInfo i = client.status(migrationId).toCompletableFuture().get(10, TimeUnit.SECONDS);
      out.print("\r" + line(i) + "   ");
      out.flush();
      switch (i.getStatus()) {
        case COMPLETED, FAILED, CANCELLED -> {
          out.println();
          return i;
        }
        default -> Thread.sleep(200);
      }
    }
  }

  static String line(MigrationInfo i) {
    return String.format(Locale.ROOT,
        "%-9s %-7s round %2d | transferred %8s | remaining %8s | rate %7.1f MB/s | dirty %6.1f MB/s | throttle %2d%%",
        i.getStatus(), i.getPhase(), i.getRounds(), Demo.mib(i.getTransferredBytes()), Demo.mib(i.getRemainingBytes()),
        i.getThroughputBytesPerSecond() / 1e6, i.getDirtyRateBytesPerSecond() / 1e6, i.getThrottlePercent());
  }
}
