package org.livemig.bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.livemig.engine.coordinator.Admission;
import org.livemig.messages.AdmissionEvent;

/**
 * Admission control's journal (persistence id "admission") read back after a run and checked
 * against what README "Admission control" promises: the limits were never exceeded; a queued
 * migration was passed only by one that needs neither its source's outbound nor its
 * destination's inbound slot (a host's freed slot goes to its earliest waiter); and after each
 * decision nothing that could start was left waiting (no head-of-line blocking). Also when each
 * migration was requested and granted (the rows' write timestamps), which gives the time QUEUED.
 */
final class AdmissionOrder {
  /** One migration's requested and granted times (epoch ms; granted 0 if never). */
  record Times(long requestedMs, long grantedMs) {}

  final Map<String, Times> times = new HashMap<>();
  final List<String> violations = new ArrayList<>();
  /** This run's grants given while an earlier-requested migration still waited (allowed: its hosts were busy). */
  int passed;
  int grants;

  private AdmissionOrder() {}

  static AdmissionOrder check(String journalUrl, Admission.Limits limits, String idPrefix) throws Exception {
    boolean postgres = journalUrl.startsWith("jdbc:postgresql:");
    String user = System.getenv().getOrDefault("LIVEMIG_JOURNAL_USER", postgres ? "postgres" : "sa");
    String password = System.getenv().getOrDefault("LIVEMIG_JOURNAL_PASSWORD", "");
    AdmissionOrder o = new AdmissionOrder();
    try (Connection c = DriverManager.getConnection(journalUrl, user, password); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select \"write_timestamp\", \"event_payload\" from \"event_journal\" "
            + "where \"persistence_id\" = 'admission' order by \"ordering\"")) {
      List<Object[]> rows = new ArrayList<>();
      while (rs.next()) rows.add(new Object[] {rs.getLong(1), AdmissionEvent.parseFrom(rs.getBytes(2))});
      o.replay(rows, limits, idPrefix);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read admission control's journal at " + journalUrl, e);
    }
    return o;
  }

  private void replay(List<Object[]> rows, Admission.Limits limits, String idPrefix) {
    Map<String, Admission.Claim> queued = new LinkedHashMap<>(); // request order
    Map<String, Admission.Claim> granted = new LinkedHashMap<>();
    for (Object[] row : rows) {
      long at = (Long) row[0];
      AdmissionEvent e = (AdmissionEvent) row[1];
      switch (e.getEventCase()) {
        case REQUESTED -> {
          // A decision (its grants follow it in the same write) starts here: the previous one must
          // have left nothing startable waiting.
          checkNothingStartable(queued, granted, limits);
          var r = e.getRequested();
          queued.putIfAbsent(r.getMigrationId(), new Admission.Claim(r.getMigrationId(), r.getSourceHost(),
              r.getDestinationHost()));
          if (r.getMigrationId().startsWith(idPrefix)) times.put(r.getMigrationId(), new Times(at, 0));
        }
        case RELEASED -> {
          checkNothingStartable(queued, granted, limits);
          queued.remove(e.getReleased().getMigrationId());
          granted.remove(e.getReleased().getMigrationId());
        }
        case GRANTED -> {
          String id = e.getGranted();
          Admission.Claim c = queued.get(id);
          if (c == null) continue;
          boolean passedOne = false;
          for (Admission.Claim earlier : queued.values()) {
            if (earlier.migrationId().equals(id)) break;
            passedOne = true;
            if (earlier.sourceHost().equals(c.sourceHost()) || earlier.destinationHost().equals(c.destinationHost())) {
              violations.add(id + " was granted before " + earlier.migrationId() + ", requested earlier, which waits for "
                  + "the same " + (earlier.sourceHost().equals(c.sourceHost()) ? "source " + c.sourceHost()
                  : "destination " + c.destinationHost()));
            }
          }
          queued.remove(id);
          granted.put(id, c);
          if (id.startsWith(idPrefix)) { // this run's own (the journal holds the earlier runs' too)
            grants++;
            if (passedOne) passed++;
          }
          checkLimits(granted, limits, id);
          if (id.startsWith(idPrefix)) times.computeIfPresent(id, (k, t) -> new Times(t.requestedMs(), at));
        }
        case EVENT_NOT_SET -> violations.add("an admission event without a case");
      }
    }
  }

  private void checkLimits(Map<String, Admission.Claim> granted, Admission.Limits limits, String id) {
    Map<String, Integer> out = new HashMap<>();
    Map<String, Integer> in = new HashMap<>();
    for (Admission.Claim c : granted.values()) {
      out.merge(c.sourceHost(), 1, Integer::sum);
      in.merge(c.destinationHost(), 1, Integer::sum);
    }
    if (over(granted.size(), limits.maxConcurrent())) violations.add("granting " + id + " ran " + granted.size()
        + " migrations, above max-concurrent " + limits.maxConcurrent());
    out.forEach((h, n) -> {
      if (over(n, limits.maxOutboundPerHost())) violations.add("granting " + id + " sent " + n + " out of " + h);
    });
    in.forEach((h, n) -> {
      if (over(n, limits.maxInboundPerHost())) violations.add("granting " + id + " brought " + n + " into " + h);
    });
  }

  /** A queued migration whose hosts and the cluster had room, and no earlier waiter for either host, yet not granted. */
  private void checkNothingStartable(Map<String, Admission.Claim> queued, Map<String, Admission.Claim> granted,
      Admission.Limits limits) {
    if (over(granted.size() + 1, limits.maxConcurrent())) return;
    Map<String, Integer> out = new HashMap<>();
    Map<String, Integer> in = new HashMap<>();
    for (Admission.Claim c : granted.values()) {
      out.merge(c.sourceHost(), 1, Integer::sum);
      in.merge(c.destinationHost(), 1, Integer::sum);
    }
    java.util.Set<String> keptOut = new java.util.HashSet<>();
    java.util.Set<String> keptIn = new java.util.HashSet<>();
    for (Admission.Claim c : queued.values()) {
      boolean room = !over(out.getOrDefault(c.sourceHost(), 0) + 1, limits.maxOutboundPerHost())
          && !over(in.getOrDefault(c.destinationHost(), 0) + 1, limits.maxInboundPerHost());
      if (room && !keptOut.contains(c.sourceHost()) && !keptIn.contains(c.destinationHost())) {
        violations.add(c.migrationId() + " was left waiting though its hosts and the cluster had room");
        return;
      }
      keptOut.add(c.sourceHost());
      keptIn.add(c.destinationHost());
    }
  }

  private static boolean over(int n, int max) {
    return max > 0 && n > max;
  }
}
