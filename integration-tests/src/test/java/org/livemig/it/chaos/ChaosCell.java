package org.livemig.it.chaos;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * One cell of the chaos matrix: a fault injected at a moment of a migration from host-a to
 * host-b, with a seed that fixes everything random (the fault's duration, the delay after the
 * moment is seen, the guest). Runs on a fresh {@link ChaosCluster} and returns what it saw:
 * every broken invariant, or none.
 */
record ChaosCell(Fault fault, Moment moment, long seed) {
  enum Fault {
    KILL_SOURCE, KILL_DESTINATION, KILL_COORDINATOR,
    FREEZE_SOURCE, FREEZE_DESTINATION, FREEZE_COORDINATOR,
    CUT_DATA_LINK, BLACKHOLE_DATA_LINK, SLOW_DATA_LINK, CORRUPT_DATA_LINK,
    PARTITION_SOURCE, PARTITION_DESTINATION,
    JOURNAL_BLOCKED
  }

  /** When the fault comes: a phase held open by the hold-phase hook, or a state seen in the status. */
  enum Moment {
    BEGIN, PREPARE, EARLY_PERFORM, NEAR_SWITCHOVER, FINISH, CONFIRM, POSTCOPY_ACTIVE, RECOVERING;

    boolean postcopy() {
      return this == POSTCOPY_ACTIVE || this == RECOVERING;
    }

    /** The host and command the hold-phase hook holds for this moment, or null. */
    String[] held() {
      return switch (this) {
        case BEGIN -> new String[] {"host-a", "BEGIN"};
        case PREPARE -> new String[] {"host-b", "PREPARE"};
        case FINISH -> new String[] {"host-b", "FINISH"};
        case CONFIRM -> new String[] {"host-a", "CONFIRM"};
        default -> null;
      };
    }
  }

  /** What a cell saw: the migration's last status, and every invariant it broke (none = a pass). */
  record Outcome(ChaosCell cell, String finalStatus, List<String> violations, String details) {
    boolean passed() {
      return violations.isEmpty();
    }
  }

  static final int GUEST_MIB = 16;
  static final long CAP_BYTES_PER_SECOND = 4_000_000;
  static final Pattern TERMINAL = Pattern.compile("COMPLETED|FAILED|CANCELLED");

  @Override
  public String toString() {
    return fault + "@" + moment + "#" + seed;
  }

  /** Parses FAULT@MOMENT#seed (as toString prints it, the way to repeat a cell). */
  static ChaosCell parse(String s) {
    String[] a = s.trim().split("[@#]");
    if (a.length != 3) throw new IllegalArgumentException("a chaos cell is FAULT@MOMENT#seed, not '" + s + "'");
    return new ChaosCell(Fault.valueOf(a[0]), Moment.valueOf(a[1]), Long.parseLong(a[2]));
  }

  /** Seconds a lasting fault lasts: 2..maxSeconds, fixed by the seed. */
  int faultSeconds(int maxSeconds) {
    return 2 + new Random(seed * 31 + fault.ordinal()).nextInt(Math.max(1, maxSeconds - 1));
  }

  private int delayMillis() {
    return new Random(seed * 17 + moment.ordinal()).nextInt(300);
  }

  /**
   * Runs the cell on a fresh cluster. A lasting fault lasts faultSeconds(maxFaultSeconds); with
   * freezeUntilDowned a frozen node stays frozen instead until the others have downed it and the
   * migration has ended without it (at most maxFaultSeconds; not downed by then is a violation):
   * the lease's case, for no longer than the cluster takes.
   */
  Outcome run(Path dir, int maxFaultSeconds, boolean freezeUntilDowned) throws Exception {
    Files.createDirectories(dir);
    String[] held = moment.held();
    Map<String, List<String>> hostFaults = held == null ? Map.of() : Map.of(held[0], List.of(
        "livemig.host.faults.hold-phase = " + held[1], "livemig.host.faults.hold-for = 4s"));
    List<String> violations = new ArrayList<>();
    StringBuilder details = new StringBuilder();
    String guest = "g-" + seed;
    String id = "chaos-" + fault.name().toLowerCase().replace('_', '-') + "-" + moment.name().toLowerCase()
        .replace('_', '-') + "-" + seed;
    try (ChaosCluster c = ChaosCluster.start(dir, seed, hostFaults)) {
      HttpResponse<String> created = c.post("host-a", "/guests", "{\"guest_id\":\"" + guest + "\",\"page_size\":4096,"
          + "\"page_count\":" + GUEST_MIB * 256 + ",\"seed\":" + seed + ",\"dirty_pages_per_second\":500,"
          + "\"hot_pages\":64,\"hot_per_mille\":800,\"initial_fill\":\"FILL_PATTERN\"}");
      if (created.statusCode() != 201) throw new IllegalStateException("guest not created: " + created.body());
      Map<String, ProcessLeaks> before = new java.util.HashMap<>();
      for (String h : ChaosCluster.HOSTS) before.put(h, ProcessLeaks.of(c.node(h).process.pid()));
      String params = "\"max_bandwidth_bytes_per_second\":" + CAP_BYTES_PER_SECOND
          + (moment.postcopy() ? ",\"postcopy_after_rounds\":1" : "");
      // Start answers once both hosts accepted (held phases delay it): it runs beside the wait for the moment.
      CompletableFuture<String> started = CompletableFuture.supplyAsync(() -> {
        try {
          HttpResponse<String> r = c.post("host-b", "/migrations", "{\"migration_id\":\"" + id + "\",\"guest_id\":\""
              + guest + "\",\"source_host\":\"host-a\",\"destination_host\":\"host-b\",\"parameters\":{" + params + "}}");
          return r.statusCode() + " " + r.body();
        } catch (Exception e) {
          return e.toString();
        }
      });
      awaitMoment(c, id, held);
      Thread.sleep(delayMillis()); // the seed's offset into the moment: an injection time, not a wait for a condition
      details.append("fault ").append(fault).append(" at ").append(moment).append('\n');
      inject(c, id, maxFaultSeconds, freezeUntilDowned, details, violations);
      details.append("start answered: ").append(started.get(60, TimeUnit.SECONDS)).append('\n');

      MigrationInfo end = awaitEnd(c, id, details);
      String status = end == null ? "UNKNOWN" : end.getStatus().name();
      if (end == null || !(TERMINAL.matcher(status).matches() || documentedPause(c, end))) {
        violations.add("the migration did not end (last status " + (end == null ? "none" : status + "/"
            + end.getPhase()) + ")");
      }
      CellInvariants.copies(c, guest, end, violations, details);
      List<String> overlaps = RunStateCheck.overlaps(RunStateCheck.intervals(c.runStateLines(), c.observedUntil()));
      violations.addAll(overlaps);
      // The logs must have seen what surely happened, or the overlap check proves nothing.
      List<String> lines = c.runStateLines();
      if (lines.stream().noneMatch(l -> l.endsWith(" host-a " + guest + " RUNNING"))) {
        violations.add("host-a's run-state log does not show the guest running: " + lines);
      }
      if (end != null && end.getStatus() == MigrationStatus.COMPLETED
          && lines.stream().noneMatch(l -> l.endsWith(" host-b " + guest + " RUNNING"))) {
        violations.add("the migration completed but host-b's run-state log never shows the guest running: " + lines);
      }
      CellInvariants.dataConnections(c, violations);
      if (TERMINAL.matcher(status).matches()) CellInvariants.leaks(c, guest, before, violations);
      details.append("run-state log:\n  ").append(String.join("\n  ", c.runStateLines())).append('\n');
      if (!violations.isEmpty()) CellInvariants.appendLogs(c, details);
      return new Outcome(this, status, violations, details.toString());
    }
  }

  /** Postcopy paused with a host of the migration gone: the documented end when no recovery can run. */
  private static boolean documentedPause(ChaosCluster c, MigrationInfo end) {
    return end.getStatus() == MigrationStatus.POSTCOPY_PAUSED
        && (!c.node("host-a").alive() || !c.node("host-b").alive());
  }

  private void awaitMoment(ChaosCluster c, String id, String[] held) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    boolean cutForRecovery = false;
    while (System.nanoTime() < deadline) {
      if (held != null) {
        if (c.node(held[0]).log().stream().anyMatch(l -> l.contains("holds " + held[1]))) return;
      } else {
        MigrationInfo i = c.status(id);
        if (i != null) {
          switch (moment) {
            case EARLY_PERFORM -> {
              if (i.getPhase() == Phase.PERFORM && i.getTransferredBytes() > 0) return;
            }
            case NEAR_SWITCHOVER -> {
              if (i.getStatus() == MigrationStatus.PRE_SWITCHOVER || i.getStatus() == MigrationStatus.DEVICE
                  || (i.getPhase() == Phase.PERFORM && i.getTransferredBytes() >= i.getTotalBytes() * 85 / 100
                  && i.getTotalBytes() > 0)) {
                return;
              }
            }
            case POSTCOPY_ACTIVE -> {
              if (i.getStatus() == MigrationStatus.POSTCOPY_ACTIVE) return;
            }
            case RECOVERING -> {
              // Postcopy runs, the data link is cut, postcopy pauses, an operator asks to recover.
              if (i.getStatus() == MigrationStatus.POSTCOPY_ACTIVE && !cutForRecovery) {
                c.dataLink.cut();
                cutForRecovery = true;
              } else if (i.getStatus() == MigrationStatus.POSTCOPY_PAUSED) {
                // Accepted means persisted: the recovery runs from now on (it may be over in milliseconds).
                if (c.post("host-b", "/migrations/" + id + "/recover", "").statusCode() == 200) return;
              } else if (i.getStatus() == MigrationStatus.POSTCOPY_RECOVER) {
                return;
              }
            }
            default -> throw new IllegalStateException(moment + " is a held moment");
          }
          if (TERMINAL.matcher(i.getStatus().name()).matches()) {
            throw new IllegalStateException("the migration ended " + i.getStatus() + " before " + moment + ": " + i);
          }
        }
      }
      Thread.sleep(20); // polling another process's status: nothing to await here
    }
    throw new IllegalStateException(moment + " not reached within 60 s; status " + c.status(id));
  }

  private static String coordinatorOf(ChaosCluster c, String id) {
    for (String n : ChaosCluster.COORDINATORS) {
      // Its lines name the sharded entity: .../sharding/Migration/<shard>/<migration id>.
      if (c.node(n).log().stream().anyMatch(l -> l.contains("/sharding/Migration/") && l.contains("/" + id + "]"))) {
        return n;
      }
    }
    throw new IllegalStateException("no coordinator JVM logged migration " + id);
  }

  private void inject(ChaosCluster c, String id, int maxFaultSeconds, boolean freezeUntilDowned, StringBuilder details,
      List<String> violations) throws Exception {
    int seconds = faultSeconds(maxFaultSeconds);
    long ms = seconds * 1000L;
    switch (fault) {
      case KILL_SOURCE -> c.signal("host-a", "KILL");
      case KILL_DESTINATION -> c.signal("host-b", "KILL");
      case KILL_COORDINATOR -> c.signal(coordinatorOf(c, id), "KILL");
      case FREEZE_SOURCE, FREEZE_DESTINATION, FREEZE_COORDINATOR -> {
        String node = fault == Fault.FREEZE_SOURCE ? "host-a" : fault == Fault.FREEZE_DESTINATION ? "host-b"
            : coordinatorOf(c, id);
        if (freezeUntilDowned) {
          c.signal(node, "STOP");
          long frozenAt = System.nanoTime();
          long deadline = frozenAt + TimeUnit.SECONDS.toNanos(maxFaultSeconds);
          boolean downed = false;
          MigrationInfo seen = null;
          while (System.nanoTime() < deadline) {
            downed = downed || c.downedByTheOthers(node);
            seen = c.status(id);
            if (downed && seen != null && TERMINAL.matcher(seen.getStatus().name()).matches()) break;
            Thread.sleep(200); // polling the other processes' view from outside: no event reaches this JVM
          }
          long frozenMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - frozenAt);
          details.append("frozen ").append(node).append(" for ").append(frozenMs).append(" ms: ")
              .append(downed ? "downed" : "not downed").append(", migration ")
              .append(seen == null ? "status unknown" : seen.getStatus()).append('\n');
          if (!downed) violations.add("the cluster did not down " + node + ", frozen for " + maxFaultSeconds + " s");
          c.signal(node, "CONT");
        } else {
          details.append("frozen ").append(node).append(" for ").append(seconds).append(" s\n");
          c.signal(node, "STOP");
          Thread.sleep(ms); // the fault's duration
          c.signal(node, "CONT");
        }
      }
      case CUT_DATA_LINK -> c.dataLink.cut();
      case BLACKHOLE_DATA_LINK, SLOW_DATA_LINK, CORRUPT_DATA_LINK -> {
        if (fault == Fault.BLACKHOLE_DATA_LINK) c.dataLink.blackhole();
        else if (fault == Fault.SLOW_DATA_LINK) c.dataLink.throttle(100_000);
        else c.dataLink.corrupt(64 << 10, seed); // random offsets: frames, payloads and checksums alike
        details.append(fault).append(" for ").append(seconds).append(" s\n");
        Thread.sleep(ms);
        c.dataLink.throttle(0);
        c.dataLink.heal();
      }
      case PARTITION_SOURCE, PARTITION_DESTINATION -> {
        String node = fault == Fault.PARTITION_SOURCE ? "host-a" : "host-b";
        details.append("partitioned ").append(node).append(" for ").append(seconds).append(" s\n");
        c.partition(node);
        Thread.sleep(ms);
        c.heal(node);
      }
      case JOURNAL_BLOCKED -> {
        details.append("journal blocked for ").append(seconds).append(" s\n");
        c.journalLink.blackhole();
        Thread.sleep(ms);
        c.journalLink.heal();
      }
    }
  }

  /**
   * Until the migration ends (or pauses for good). A paused postcopy whose hosts both live is
   * recovered as an operator would: POST recover.
   */
  private MigrationInfo awaitEnd(ChaosCluster c, String id, StringBuilder details) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    MigrationInfo last = null;
    long nextRecover = 0;
    while (System.nanoTime() < deadline) {
      MigrationInfo i = c.status(id);
      if (i != null) {
        last = i;
        if (TERMINAL.matcher(i.getStatus().name()).matches()) return i;
        if (i.getStatus() == MigrationStatus.POSTCOPY_PAUSED) {
          if (documentedPause(c, i)) return i;
          if (System.nanoTime() > nextRecover && !c.node("host-a").frozen && !c.node("host-b").frozen) {
            try {
              HttpResponse<String> r = c.post("host-b", "/migrations/" + id + "/recover", "");
              details.append("recover asked: ").append(r.statusCode()).append(' ').append(r.body()).append('\n');
            } catch (java.io.IOException e) {
              details.append("recover not asked: host-b does not answer: ").append(e).append('\n');
            }
            nextRecover = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
          }
        }
      }
      Thread.sleep(100); // polling another process's status
    }
    return last;
  }
}
