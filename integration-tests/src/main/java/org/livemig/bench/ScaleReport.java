package org.livemig.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.RoundStats;

/**
 * One scale run's numbers: throughput, per-migration percentiles (total, QUEUED, after
 * admission, downtime), how evenly the host links were shared, host memory, and the checks'
 * findings. Fairness compares full passes (round 1, the guest's whole memory at the share) that
 * overlapped in time by at least half of the shorter one.
 */
final class ScaleReport {
  /** A full pass: when it ran (epoch ms), its rate, and its source's link share while it ran. */
  private record FullPass(String id, String source, double startMs, double endMs, double bytesPerSecond,
      double shareBytesPerSecond) {
    double overlapMs(FullPass o) {
      return Math.min(endMs, o.endMs) - Math.max(startMs, o.startMs);
    }

    double lengthMs() {
      return endMs - startMs;
    }
  }

  private final String title;
  private final List<MigrationInfo> infos;
  private final AdmissionOrder admission;
  private final long hostBytesPerSecond;
  final List<String> lines = new ArrayList<>(); // the run's own findings (starts, kill, guests, run-state)
  final List<String> failures = new ArrayList<>();
  Map<String, Long> peakRssMib = Map.of();
  long firstRequestMs;
  /** CPU seconds the coordinator node's JVM used during the run (with the H2 journal: its database too). */
  double coordinatorCpuSeconds = Double.NaN;

  ScaleReport(String title, List<MigrationInfo> infos, AdmissionOrder admission, long hostBytesPerSecond) {
    this.title = title;
    this.infos = infos;
    this.admission = admission;
    this.hostBytesPerSecond = hostBytesPerSecond;
  }

  void print(PrintStream out) {
    out.println();
    out.println("== " + title);
    lines.forEach(l -> out.println("  " + l));
    Map<MigrationStatus, Integer> outcomes = new TreeMap<>();
    infos.forEach(i -> outcomes.merge(i.getStatus(), 1, Integer::sum));
    out.println("  outcome: " + outcomes);
    List<MigrationInfo> done = infos.stream().filter(i -> i.getStatus() == MigrationStatus.COMPLETED).toList();
    long lastEnd = infos.stream().mapToLong(MigrationInfo::getEndedAtEpochMs).max().orElse(firstRequestMs);
    double seconds = (lastEnd - firstRequestMs) / 1000.0;
    out.printf(Locale.ROOT, "  total time %.1f s (first request to last end), %.1f completed migrations per minute%n",
        seconds, done.size() / (seconds / 60));
    out.println("  per completed migration       p50      p99      max");
    row(out, "total, requested -> end (ms)", done, i -> i.getTotalTimeMs());
    row(out, "QUEUED (ms)", done, i -> queuedMs(i.getMigrationId()));
    row(out, "admitted -> end (ms)", done, i -> i.getEndedAtEpochMs() - grantedMs(i));
    row(out, "downtime (ms)", done, i -> i.getDowntimeMs());
    row(out, "rounds", done, i -> i.getRounds());
    List<FullPass> passes = fullPasses(done);
    row(out, "full pass (MB/s)", passes, p -> p.bytesPerSecond() / 1e6);
    row(out, "full pass / link share", passes, p -> p.bytesPerSecond() / p.shareBytesPerSecond());
    fairness(out, passes);
    out.printf("  admission: %d grants, %d of them passed an earlier waiter whose hosts were busy; %s%n",
        admission.grants, admission.passed, admission.violations.isEmpty() ? "order and limits as promised"
            : admission.violations.size() + " violations, first: " + admission.violations.get(0));
    out.println("  host peak RSS (MiB, VmHWM): " + peakRssMib);
    out.printf(Locale.ROOT, "  coordinator node CPU: %.1f s, %.0f ms per migration (its journal database and this"
        + " program's status polling included)%n", coordinatorCpuSeconds, 1000 * coordinatorCpuSeconds / infos.size());
    out.println("  coordinator heap per active migration: not measured here (README \"Coordinator cost\": 12-15 KB)");
    if (failures.isEmpty()) out.println("  checks: PASS");
    else {
      failures.stream().limit(20).forEach(f -> out.println("  FAIL: " + f));
      if (failures.size() > 20) out.println("  FAIL: ... and " + (failures.size() - 20) + " more");
    }
  }

  /** Max/min of the rates of full passes that overlapped, from the same source and across hosts at equal shares. */
  private void fairness(PrintStream out, List<FullPass> passes) {
    List<Double> sameSource = new ArrayList<>();
    List<Double> together = new ArrayList<>(); // same source, each pass overlapping 90% of the other
    List<Double> equalShare = new ArrayList<>();
    for (int a = 0; a < passes.size(); a++) {
      for (int b = a + 1; b < passes.size(); b++) {
        FullPass x = passes.get(a);
        FullPass y = passes.get(b);
        if (x.overlapMs(y) < 0.5 * Math.min(x.lengthMs(), y.lengthMs())) continue;
        double ratio = Math.max(x.bytesPerSecond(), y.bytesPerSecond()) / Math.min(x.bytesPerSecond(), y.bytesPerSecond());
        if (x.source().equals(y.source())) {
          sameSource.add(ratio);
          if (x.overlapMs(y) >= 0.9 * Math.max(x.lengthMs(), y.lengthMs())) together.add(ratio);
        } else if (x.shareBytesPerSecond() == y.shareBytesPerSecond()) {
          equalShare.add(ratio);
        }
      }
    }
    out.printf(Locale.ROOT, "  fairness, max/min rate of full passes overlapping by half the shorter (goal <= 1.2):%n"
        + "    same source (sharing one link): %s%n    same source, each within 90%% of the other: %s%n"
        + "    different sources at equal shares: %s%n", ratios(sameSource), ratios(together), ratios(equalShare));
  }

  private static String ratios(List<Double> r) {
    if (r.isEmpty()) return "no overlapping pairs";
    double[] v = r.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    long within = r.stream().filter(x -> x <= 1.2).count();
    return String.format(Locale.ROOT, "%d pairs, p50 %.2f, p99 %.2f, max %.2f; %d%% within 1.2", v.length,
        pct(v, 50), pct(v, 99), v[v.length - 1], 100 * within / v.length);
  }

  /**
   * Round 1 of each migration with its time span: it starts when setup ends (requested +
   * setup_time_ms). Its share is the link over the migrations of its source holding a share at
   * its midpoint (from their copy's start to their end).
   */
  private List<FullPass> fullPasses(List<MigrationInfo> done) {
    List<FullPass> raw = new ArrayList<>();
    for (MigrationInfo i : done) {
      RoundStats r = i.getRoundHistoryList().stream().filter(s -> s.getRound() == 1).findFirst().orElse(null);
      if (r == null || r.getDurationNs() == 0 || i.getSetupTimeMs() <= 0) continue;
      double start = i.getStartedAtEpochMs() + i.getSetupTimeMs();
      raw.add(new FullPass(i.getMigrationId(), i.getSourceHost(), start, start + r.getDurationNs() / 1e6,
          r.getBytesSent() / (r.getDurationNs() / 1e9), 0));
    }
    if (hostBytesPerSecond == 0) return raw.stream().map(p -> withShare(p, Double.NaN)).toList();
    List<FullPass> out = new ArrayList<>();
    for (FullPass p : raw) {
      double mid = (p.startMs() + p.endMs()) / 2;
      long sharing = done.stream().filter(i -> i.getSourceHost().equals(p.source())
          && i.getStartedAtEpochMs() + i.getSetupTimeMs() <= mid && i.getEndedAtEpochMs() >= mid).count();
      out.add(withShare(p, (double) hostBytesPerSecond / Math.max(1, sharing)));
    }
    return out;
  }

  private static FullPass withShare(FullPass p, double share) {
    return new FullPass(p.id(), p.source(), p.startMs(), p.endMs(), p.bytesPerSecond(), share);
  }

  private double queuedMs(String id) {
    AdmissionOrder.Times t = admission.times.get(id);
    return t == null || t.grantedMs() == 0 ? Double.NaN : t.grantedMs() - t.requestedMs();
  }

  private long grantedMs(MigrationInfo i) {
    AdmissionOrder.Times t = admission.times.get(i.getMigrationId());
    return t == null || t.grantedMs() == 0 ? i.getStartedAtEpochMs() : t.grantedMs();
  }

  private static <T> void row(PrintStream out, String name, List<T> samples, ToDoubleFunction<T> f) {
    double[] v = samples.stream().mapToDouble(f).filter(x -> !Double.isNaN(x)).sorted().toArray();
    if (v.length == 0) {
      out.printf("    %-28s (none)%n", name);
      return;
    }
    out.printf(Locale.ROOT, "    %-28s %8.1f %8.1f %8.1f%n", name, pct(v, 50), pct(v, 99), v[v.length - 1]);
  }

  /** Nearest rank. */
  static double pct(double[] sorted, int p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

}
