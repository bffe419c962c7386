package org.livemig.it.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The exactly-one-copy invariant, checked from the hosts' run-state logs
 * (livemig.host.run-state-log lines "{@code <epoch micros> <host> <guest> <state>}"): a guest's
 * RUNNING intervals on different hosts never overlap. An interval starts at RUNNING and ends at
 * the host's next PAUSED or DESTROYED line for that guest; one still open ends where the host's
 * observation ends (the moment its process was seen dead, or the end of the run for a live one).
 * Plain code: the chaos harness feeds it the files of every JVM, killed and frozen ones included.
 */
public final class RunStateCheck {
  private RunStateCheck() {}

  /** A guest executing on a host from start to end (epoch micros). */
  public record Interval(String guest, String host, long start, long end) {
    boolean overlaps(Interval o) {
      return start < o.end && o.start < end;
    }
  }

  /** Parses one log line; throws on anything malformed (a torn line is a bug in the log, not noise). */
  static String[] parse(String line) {
    String[] f = line.trim().split(" ");
    if (f.length != 4) throw new IllegalArgumentException("not a run-state line: '" + line + "'");
    Long.parseLong(f[0]);
    if (!List.of("RUNNING", "PAUSED", "DESTROYED").contains(f[3])) {
      throw new IllegalArgumentException("unknown run state in '" + line + "'");
    }
    return f;
  }

  /**
   * The RUNNING intervals in the lines of all hosts. observedUntil gives, per host, when its
   * observation ended (a host missing from it is observed until Long.MAX_VALUE).
   */
  public static List<Interval> intervals(List<String> lines, Map<String, Long> observedUntil) {
    List<String[]> parsed = new ArrayList<>();
    for (String l : lines) if (!l.isBlank()) parsed.add(parse(l));
    parsed.sort(Comparator.comparingLong(f -> Long.parseLong(f[0])));
    Map<String, Long> openSince = new HashMap<>(); // host + " " + guest -> start
    List<Interval> out = new ArrayList<>();
    for (String[] f : parsed) {
      long at = Long.parseLong(f[0]);
      String key = f[1] + " " + f[2];
      if (f[3].equals("RUNNING")) {
        openSince.putIfAbsent(key, at); // a second RUNNING continues the same run
      } else {
        Long start = openSince.remove(key);
        if (start != null) out.add(new Interval(f[2], f[1], start, at));
      }
    }
    for (var e : new TreeMap<>(openSince).entrySet()) {
      String[] hg = e.getKey().split(" ");
      out.add(new Interval(hg[1], hg[0], e.getValue(), observedUntil.getOrDefault(hg[0], Long.MAX_VALUE)));
    }
    return out;
  }

  /** Every pair of intervals of one guest on two different hosts that overlap, described; empty if none. */
  public static List<String> overlaps(List<Interval> intervals) {
    List<String> found = new ArrayList<>();
    for (int i = 0; i < intervals.size(); i++) {
      for (int j = i + 1; j < intervals.size(); j++) {
        Interval a = intervals.get(i);
        Interval b = intervals.get(j);
        if (a.guest().equals(b.guest()) && !a.host().equals(b.host()) && a.overlaps(b)) {
          found.add("guest " + a.guest() + " ran on " + a.host() + " [" + a.start() + ", " + a.end() + ") and on "
              + b.host() + " [" + b.start() + ", " + b.end() + ") at the same time ("
              + (Math.min(a.end(), b.end()) - Math.max(a.start(), b.start())) + " us)");
        }
      }
    }
    return found;
  }
}
