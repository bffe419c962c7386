package org.livemig.config.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.livemig.config.http.Json;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.RoundStats;

/**
 * `migratectl report ID`: the migration's status as JSON and a PNG chart of throughput, dirty
 * rate and remaining data per precopy round, with the switchover (its downtime and the blackout's parts) marked.
 * With copy_storage the disks' copy comes first, as "round 0" (the memory starts once every disk
 * is READY), and what the disks hold copied stays drawn across the rounds (the mirror keeps it).
 */
final class MigrationReport {
  private MigrationReport() {}

  record Files2(Path json, Path chart) {}

  static Files2 write(MigrationInfo info, Path dir) throws IOException {
    System.setProperty("java.awt.headless", "true");
    Files.createDirectories(dir);
    Path json = dir.resolve(info.getMigrationId() + ".json");
    Files.writeString(json, Json.print(info) + "\n");
    Path chart = dir.resolve(info.getMigrationId() + ".png");
    BitmapEncoder.saveBitmap(chart(info), chart.toString(), BitmapEncoder.BitmapFormat.PNG);
    return new Files2(json, chart);
  }

  static XYChart chart(MigrationInfo info) {
    XYChart c = new XYChartBuilder().width(900).height(500)
        .title("migration " + info.getMigrationId() + " (" + info.getGuestId() + ": " + info.getSourceHost() + " -> "
            + info.getDestinationHost() + ", " + info.getStatus() + ")")
        .xAxisTitle(info.getDisksCount() == 0 ? "precopy round" : "precopy round (0: the disks' copy, before the memory)")
        .yAxisTitle("MB/s, MiB").build();
    long pageSize = info.getRoundHistoryCount() == 0 || info.getRoundHistory(0).getPagesSent() == 0 ? 4096
        : Math.max(1, info.getRoundHistory(0).getBytesSent() / info.getRoundHistory(0).getPagesSent());
    List<Double> rounds = new ArrayList<>();
    List<Double> throughput = new ArrayList<>();
    List<Double> dirty = new ArrayList<>();
    List<Double> remaining = new ArrayList<>();
    for (RoundStats r : info.getRoundHistoryList()) {
      rounds.add((double) r.getRound());
      throughput.add(r.getBandwidthBytesPerSecond() / 1e6);
      dirty.add(r.getDirtyRateBytesPerSecond() / 1e6);
      remaining.add(r.getDirtyPagesAfter() * pageSize / ProgressBar.MIB);
    }
    if (rounds.isEmpty() || info.getDisksCount() > 0) {
      // Before any round: the whole memory remains (and, with disks, they are being copied).
      rounds.add(0, 0.0);
      throughput.add(0, disks(info, DiskMoveStatus::getRateBytesPerSecond) / 1e6);
      dirty.add(0, 0.0);
      remaining.add(0, info.getTotalBytes() / ProgressBar.MIB);
    }
    List<Double> diskCopied = new ArrayList<>();
    if (info.getDisksCount() > 0) {
      for (int i = 0; i < rounds.size(); i++) diskCopied.add(disks(info, DiskMoveStatus::getCopiedBytes) / ProgressBar.MIB);
      c.addSeries("disks copied (MiB)", rounds, diskCopied)
          .setMarker(org.knowm.xchart.style.markers.SeriesMarkers.TRIANGLE_UP);
    }
    c.addSeries("throughput (MB/s)", rounds, throughput).setMarker(org.knowm.xchart.style.markers.SeriesMarkers.CIRCLE);
    c.addSeries("dirty rate (MB/s)", rounds, dirty).setMarker(org.knowm.xchart.style.markers.SeriesMarkers.DIAMOND);
    XYSeries rest = c.addSeries("remaining (MiB)", rounds, remaining);
    rest.setMarker(org.knowm.xchart.style.markers.SeriesMarkers.SQUARE);
    // The switchover follows the last round: the downtime is the pause that ends it.
    double last = rounds.get(rounds.size() - 1);
    c.addAnnotation(new AnnotationLine(last, true, false));
    String downtime = info.getDowntimeMs() >= 0 ? "switchover: downtime " + info.getDowntimeMs() + " ms"
        : "no switchover (" + info.getStatus() + ")";
    double top = 0;
    for (List<Double> s : List.of(throughput, dirty, remaining, diskCopied)) for (double v : s) top = Math.max(top, v);
    c.addAnnotation(new AnnotationText(downtime, last, top * 0.95 + 1, false));
    if (info.hasBlackout()) c.addAnnotation(new AnnotationText(blackout(info), last, top * 0.87 + 1, false));
    for (int i = 0; i < info.getDisksCount(); i++) {
      c.addAnnotation(new AnnotationText(disk(info.getDisks(i)), 0, top * (0.79 - 0.08 * i) + 1, false));
    }
    return c;
  }

  private static double disks(MigrationInfo info, java.util.function.ToLongFunction<DiskMoveStatus> f) {
    return info.getDisksList().stream().mapToLong(f).sum();
  }

  /** One disk's copy: how much, how fast, in which mode, how it ended. */
  static String disk(DiskMoveStatus d) {
    return String.format(java.util.Locale.ROOT, "disk %s (%s): %.1f MiB copied at %.1f MB/s, %d mirrored writes, %s%s",
        d.getDiskId(), d.getMode(), d.getCopiedBytes() / ProgressBar.MIB, d.getRateBytesPerSecond() / 1e6,
        d.getMirroredWrites(), d.getOutcome().isEmpty() ? d.getPhase() : d.getOutcome(),
        d.getReason().isEmpty() ? "" : " (" + d.getReason() + ")");
  }

  /** The downtime's parts as the hosts measured them, and the source's teardown that came after. */
  static String blackout(MigrationInfo info) {
    var b = info.getBlackout();
    String disks = b.getDiskPivotUs() == 0 ? "" : String.format(java.util.Locale.ROOT, "; disk pivot before the stun "
        + "(I/O held, vCPUs running): %.1f ms", b.getDiskPivotUs() / 1e3);
    return String.format(java.util.Locale.ROOT, "stun %.1f + drain %.1f (%d disk requests) + final copy %.1f ms; "
        + "device state %.1f, unleash %.1f ms; source teardown after: %.1f ms%s", b.getStunUs() / 1e3, b.getDrainUs() / 1e3,
        b.getDiskRequestsInFlightAtStun(), b.getFinalCopyUs() / 1e3, b.getDeviceStateUs() / 1e3,
        b.getUnleashUs() / 1e3, info.getSourceTeardownUs() / 1e3, disks);
  }
}
