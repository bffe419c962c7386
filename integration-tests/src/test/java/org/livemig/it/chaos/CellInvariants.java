package org.livemig.it.chaos;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;

/**
 * What a chaos cell checks once its migration ended, from outside the processes: the copies of
 * the guest the hosts hold (and the oracle of the running one), the data-plane connections, and
 * what the hosts' processes hold beyond what they held before.
 */
final class CellInvariants {
  private CellInvariants() {}

  /**
   * The copies the hosts hold once things settle: never two running; where both hosts live and
   * the migration ended, exactly one, on the destination if it completed; the running copy
   * matches its oracle.
   */
  static void copies(ChaosCluster c, String guest, MigrationInfo end, List<String> violations,
      StringBuilder details) throws Exception {
    boolean ended = end != null && ChaosCell.TERMINAL.matcher(end.getStatus().name()).matches();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    List<String> running;
    String states;
    boolean bothAlive;
    while (true) {
      // A host frozen long enough to be downed exits after SIGCONT: it may die while this looks.
      bothAlive = c.node("host-a").alive() && c.node("host-b").alive();
      running = new ArrayList<>();
      StringBuilder seen = new StringBuilder();
      for (String h : ChaosCluster.HOSTS) {
        if (!c.node(h).alive()) {
          seen.append(h).append(": dead; ");
          continue;
        }
        String state;
        try {
          state = stateOn(c, h, guest);
        } catch (java.io.IOException e) {
          state = c.node(h).alive() ? "unreachable (" + e + ")" : "dead";
        }
        seen.append(h).append(": ").append(state).append("; ");
        if ("RUNNING".equals(state)) running.add(h);
      }
      states = seen.toString();
      // A host that was downed answers NODE_LEAVING while it stops its guests and exits.
      boolean settled = !states.contains("unreachable") && !states.contains("leaving")
          && (running.size() == 1 || !(bothAlive && ended));
      if (settled || System.nanoTime() > deadline) break;
      Thread.sleep(200); // a fenced source runs again once its host hears the migration settled
    }
    details.append("copies: ").append(states).append('\n');
    if (states.contains("leaving")) violations.add("a downed host did not stop within 30 s: " + states);
    if (running.size() > 1) violations.add("guest " + guest + " runs on " + running + " at the end");
    if (bothAlive && ended && running.size() != 1) {
      violations.add("both hosts live and the migration ended " + end.getStatus() + ", but the guest runs on "
          + running + " (" + states + ")");
    }
    if (end != null && end.getStatus() == MigrationStatus.COMPLETED && !running.isEmpty()
        && !running.equals(List.of("host-b"))) {
      violations.add("the migration completed but the guest runs on " + running);
    }
    if (running.size() == 1 && ended) {
      // An arrival is verified once its host heard that the migration is settled (409 until then);
      // a notice that never comes would leave a fenced guest paused for good.
      HttpResponse<String> v;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      do {
        v = c.get(running.get(0), "/guests/" + guest + "/verify");
        if (v.body().contains("NODE_LEAVING")) {
          // Downed while this looked: what it held is gone with it; look again.
          details.append("verify: ").append(v.body()).append('\n');
          copies(c, guest, end, violations, details);
          return;
        }
        if (v.statusCode() != 409) break;
        Thread.sleep(200); // the settled notice is on its way (the new incarnation may still look the host up)
      } while (System.nanoTime() < until);
      details.append("verify: ").append(v.body()).append('\n');
      if (v.statusCode() == 409) {
        violations.add("the destination never heard that the migration is settled: " + v.body());
      } else if (v.statusCode() != 200 || !Pattern.compile("\"verified\":\\s*true").matcher(v.body()).find()) {
        violations.add("the running copy on " + running.get(0) + " does not match its oracle: " + v.body());
      }
    } else if (running.size() == 1) {
      details.append("not verified: the migration did not end (a postcopy copy lacks pages)\n");
    }
  }

  /** The guest's state on the host as the host itself reports it, or "none". */
  private static String stateOn(ChaosCluster c, String host, String guest) throws Exception {
    HttpResponse<String> r = c.get(host, "/guests");
    if (r.body().contains("NODE_LEAVING")) return "leaving";
    Matcher m = Pattern.compile("\"guest_id\":\"" + Pattern.quote(guest) + "\",\"state\":\"(\\w+)\",\"host\":\""
        + Pattern.quote(host) + "\"").matcher(r.body());
    return m.find() ? m.group(1) : "none";
  }

  /** Nothing of the migration's data plane stays connected once it ended: no leaked channel. */
  static void dataConnections(ChaosCluster c, List<String> violations) throws Exception {
    Predicate<String> dataPort = l -> l.contains(":" + c.dataLink.port() + " ") || l.contains(":" + c.dataLink.targetPort() + " ");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    List<String> open;
    do {
      Process p = new ProcessBuilder("ss", "-Htn", "state", "established").redirectErrorStream(true).start();
      open = new String(p.getInputStream().readAllBytes()).lines().map(l -> l + " ").filter(dataPort).toList();
      p.waitFor(10, TimeUnit.SECONDS);
      if (open.isEmpty()) return;
      Thread.sleep(200); // channels close as cleanup runs
    } while (System.nanoTime() < deadline);
    violations.add("data-plane connections still open after the end: " + open);
  }

  /**
   * Once the migration ended, every host that lived through it holds what it held before: no
   * file, port or migration thread more, and a workload thread only for a guest it lists.
   */
  static void leaks(ChaosCluster c, String guest, Map<String, ProcessLeaks> before,
      List<String> violations) throws Exception {
    for (String h : ChaosCluster.HOSTS) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      List<String> leaks;
      do {
        if (!c.node(h).alive()) break;
        int held;
        try {
          held = "none".equals(stateOn(c, h, guest)) ? 0 : 1;
        } catch (java.io.IOException e) {
          break; // a host that does not answer is judged by the copies check
        }
        leaks = ProcessLeaks.of(c.node(h).process.pid()).beyond(before.get(h), held);
        if (leaks.isEmpty()) break;
        if (System.nanoTime() > deadline) {
          violations.add(h + " leaked: " + leaks);
          break;
        }
        Thread.sleep(200); // threads end and files close as cleanup runs
      } while (true);
    }
  }

  static void appendLogs(ChaosCluster c, StringBuilder details) {
    for (var n : c.nodes.values()) {
      List<String> log = n.log();
      details.append("---- ").append(n.name).append(" (last 60 lines) ----\n");
      log.subList(Math.max(0, log.size() - 60), log.size()).forEach(l -> details.append(l).append('\n'));
    }
  }
}
