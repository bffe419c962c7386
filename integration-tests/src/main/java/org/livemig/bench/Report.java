package org.livemig.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.RoundStats;

/**
 * Collects the benchmark's samples and prints min/median/max. Engine time is the migration
 * after setup (Begin and Prepare, where the destination memory is touched) up to Confirm;
 * GB/s is the guest size over that time.
 */
final class Report {
  /** One repetition: the socket baseline, the memory-to-memory baseline and the engine, back to back. */
  private record Pair(long rawNanos, long memoryNanos, MigrationInfo engine) {}

  /** One migration host-a -> host-b of a paused guest: resident memory before and at peak, heap after GC (MiB). */
  record Memory(long guestMib, long sourceBefore, long sourcePeak, long destBefore, long destPeak, long destHeapAfterGc) {
    long sourceOverhead() {
      return sourcePeak - sourceBefore; // the guest was already resident
    }

    long destinationOverhead() {
      return destPeak - destBefore - guestMib; // beyond the destination's copy of the guest
    }
  }

  private final List<Memory> memory = new ArrayList<>();
  private final List<long[]> caps = new ArrayList<>(); // {cap, achieved} bytes per second

  private final long guestBytes;
  private final List<Pair> pairs = new ArrayList<>();
  private final Map<String, List<MigrationInfo>> live = new LinkedHashMap<>();
  private final Map<String, Long> limits = new LinkedHashMap<>();
  private final Map<String, long[]> rss = new LinkedHashMap<>();
  /** Paused-guest migrations per data-plane mode, with the CPU seconds both hosts used for each. */
  private final Map<String, List<Sample>> dataPlane = new LinkedHashMap<>();

  private record Sample(MigrationInfo info, double cpuSeconds) {}

  Report(long guestBytes) {
    this.guestBytes = guestBytes;
  }

  void pair(long rawNanos, long memoryNanos, MigrationInfo engine) {
    pairs.add(new Pair(rawNanos, memoryNanos, engine));
    System.out.printf(Locale.ROOT, "  raw socket %.2f GB/s, raw memory-to-memory %.2f GB/s, engine %.2f GB/s, "
        + "ratio to socket %.2f, to memory-to-memory %.2f%n", rawGbps(rawNanos), rawGbps(memoryNanos),
        engineGbps(engine), engineGbps(engine) / rawGbps(rawNanos), engineGbps(engine) / rawGbps(memoryNanos));
  }

  void dataPlane(String mode, MigrationInfo info, double cpuSeconds) {
    dataPlane.computeIfAbsent(mode, k -> new ArrayList<>()).add(new Sample(info, cpuSeconds));
    System.out.printf(Locale.ROOT, "  data plane %s: %.2f GB/s, %.2f CPU s/GB (both hosts)%n", mode, engineGbps(info),
        cpuPerGb(cpuSeconds));
  }

  private double cpuPerGb(double cpuSeconds) {
    return cpuSeconds / (guestBytes / 1e9);
  }

  void live(long dirtyMbPerS, long limitMs, MigrationInfo info) {
    String key = String.format(Locale.ROOT, "live %3d MB/s dirty, limit %3d ms", dirtyMbPerS, limitMs);
    live.computeIfAbsent(key, k -> new ArrayList<>()).add(info);
    limits.put(key, limitMs);
  }

  /** A live guest with a disk on shared storage (its drain is part of the blackout). */
  void disk(long dirtyMbPerS, long limitMs, MigrationInfo info) {
    String key = String.format(Locale.ROOT, "disk QD 32 at 10 ms + live %3d MB/s dirty, limit %3d ms", dirtyMbPerS, limitMs);
    live.computeIfAbsent(key, k -> new ArrayList<>()).add(info);
    limits.put(key, limitMs);
  }

  void memory(Memory m) {
    memory.add(m);
    System.out.printf(Locale.ROOT, "  memory, %d MiB guest: engine overhead source %d MiB, destination %d MiB; "
        + "destination heap after GC %d MiB%n", m.guestMib(), m.sourceOverhead(), m.destinationOverhead(),
        m.destHeapAfterGc());
  }

  /** A capped migration: the cap against the first (bulk) round's rate on the wire. */
  void cap(long capBytesPerS, MigrationInfo i) {
    RoundStats first = i.getRoundHistory(0);
    long achieved = (long) (first.getBytesSent() * 1e9 / Math.max(1, first.getDurationNs()));
    caps.add(new long[] {capBytesPerS, achieved});
    System.out.printf(Locale.ROOT, "  cap %.0f MB/s: first round %.1f MB/s (%.3f of the cap)%n", capBytesPerS / 1e6,
        achieved / 1e6, achieved / (double) capBytesPerS);
  }

  void peakRss(String guest, long[] mib) {
    rss.put(guest, mib);
  }

  private double rawGbps(long nanos) {
    return guestBytes / (double) nanos;
  }

  private double engineGbps(MigrationInfo i) {
    return guestBytes / (double) (migrationMs(i) * 1_000_000L);
  }

  private static long migrationMs(MigrationInfo i) {
    return Math.max(1, i.getTotalTimeMs() - i.getSetupTimeMs());
  }

  void print(PrintStream out) {
    out.printf(Locale.ROOT, "%n==== livemig benchmark: %d MiB guest (min / median / max) ====%n", guestBytes >> 20);
    out.println(line("raw socket    time ms", pairs, p -> p.rawNanos() / 1e6, "%.0f"));
    out.println(line("raw socket    GB/s   ", pairs, p -> rawGbps(p.rawNanos()), "%.2f"));
    out.println(line("raw memory-to-memory time ms", pairs, p -> p.memoryNanos() / 1e6, "%.0f"));
    out.println(line("raw memory-to-memory GB/s   ", pairs, p -> rawGbps(p.memoryNanos()), "%.2f"));
    out.println(line("paused engine total ms", pairs, p -> p.engine().getTotalTimeMs(), "%.0f"));
    out.println(line("paused engine setup ms", pairs, p -> p.engine().getSetupTimeMs(), "%.0f"));
    out.println(line("paused engine migr. ms", pairs, p -> migrationMs(p.engine()), "%.0f"));
    out.println(line("paused engine GB/s   ", pairs, p -> engineGbps(p.engine()), "%.2f"));
    out.println(line("paused engine downtime ms", pairs, p -> p.engine().getDowntimeMs(), "%.0f"));
    out.println(line("ratio engine/raw socket (per repetition)", pairs,
        p -> engineGbps(p.engine()) / rawGbps(p.rawNanos()), "%.2f"));
    out.println(line("ratio engine/raw memory-to-memory (per repetition)", pairs,
        p -> engineGbps(p.engine()) / rawGbps(p.memoryNanos()), "%.2f"));
    for (var e : dataPlane.entrySet()) {
      out.println("paused, data plane " + e.getKey() + ":");
      out.println(line("  GB/s", e.getValue(), x -> engineGbps(x.info()), "%.2f"));
      out.println(line("  CPU s/GB (both hosts)", e.getValue(), x -> cpuPerGb(x.cpuSeconds()), "%.2f"));
    }
    List<Sample> plain = dataPlane.get("plain");
    for (var e : dataPlane.entrySet()) {
      if (plain == null || e.getKey().equals("plain")) continue;
      out.printf(Locale.ROOT, "data plane %s / plain, median GB/s: %.2f; median CPU s/GB: %.2f%n", e.getKey(),
          median(e.getValue(), x -> engineGbps(x.info())) / median(plain, x -> engineGbps(x.info())),
          median(e.getValue(), Sample::cpuSeconds) / median(plain, Sample::cpuSeconds));
    }
    for (var e : live.entrySet()) {
      List<MigrationInfo> s = e.getValue();
      long over = s.stream().filter(i -> i.getDowntimeMs() > limits.get(e.getKey()) * 1.2).count();
      out.println(e.getKey() + ":");
      out.println(line("  total ms", s, i -> i.getTotalTimeMs(), "%.0f"));
      out.println(line("  GB/s", s, this::engineGbps, "%.2f"));
      out.println(line("  downtime ms", s, i -> i.getDowntimeMs(), "%.0f"));
      out.println(line("  rounds", s, i -> i.getRounds(), "%.0f"));
      if (e.getKey().startsWith("disk")) {
        out.println(line("  disk requests in flight at stun", s, i -> i.getBlackout().getDiskRequestsInFlightAtStun(), "%.0f"));
        out.println(line("  drain ms", s, i -> i.getBlackout().getDrainUs() / 1e3, "%.1f"));
        out.println(line("  stun ms", s, i -> i.getBlackout().getStunUs() / 1e3, "%.1f"));
        out.println(line("  final copy ms", s, i -> i.getBlackout().getFinalCopyUs() / 1e3, "%.1f"));
        out.println(line("  source teardown ms (after)", s, i -> i.getSourceTeardownUs() / 1e3, "%.1f"));
      }
      out.printf(Locale.ROOT, "  downtime above limit + 20%%: %d of %d%n", over, s.size());
    }
    for (Memory m : memory) {
      out.printf(Locale.ROOT, "memory, %4d MiB guest: engine overhead source %d MiB, destination %d MiB (%.1f%% of "
          + "the guest); destination heap after GC %d MiB (-Xmx256m)%n", m.guestMib(), m.sourceOverhead(),
          m.destinationOverhead(), 100.0 * m.destinationOverhead() / m.guestMib(), m.destHeapAfterGc());
    }
    for (long[] c : caps) {
      out.printf(Locale.ROOT, "bandwidth cap %4.0f MB/s: achieved %.1f MB/s, %+.1f%% off the cap%n", c[0] / 1e6,
          c[1] / 1e6, 100.0 * (c[1] - c[0]) / c[0]);
    }
    for (var e : rss.entrySet()) {
      out.printf(Locale.ROOT, "peak RSS of the host JVMs, case %s: host-a %d MiB, host-b %d MiB%n", e.getKey(),
          e.getValue()[0], e.getValue()[1]);
    }
  }

  private static <T> double median(List<T> samples, ToDoubleFunction<T> f) {
    return median(samples.stream().mapToDouble(f).sorted().toArray());
  }

  private static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static <T> String line(String label, List<T> samples, ToDoubleFunction<T> f, String fmt) {
    double[] v = samples.stream().mapToDouble(f).sorted().toArray();
    if (v.length == 0) return label + ": no samples";
    double median = median(v);
    return String.format(Locale.ROOT, "%-28s " + fmt + " / " + fmt + " / " + fmt, label, v[0], median, v[v.length - 1]);
  }
}
