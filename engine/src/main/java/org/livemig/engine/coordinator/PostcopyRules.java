package org.livemig.engine.coordinator;

import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.PostcopyReport;

/**
 * The coordinator's decisions in postcopy: the hosts' state reports turned into persisted
 * PostcopyPaused / PostcopyResumed decisions, and the failures that postcopy changes: once the
 * destination runs the guest, no failure ever resumes the source (its copy is stale).
 */
final class PostcopyRules {
  private PostcopyRules() {}

  static Decision onReport(MigrationState s, Unpersisted u, PostcopyReport r) {
    Decision d = new Decision(u);
    if (r.getEpoch() > s.epoch()) return d;
    if (r.getSource()) u.lastSourcePostcopy = r;
    else u.lastDestinationPostcopy = r;
    if (!s.inPostcopy()) return d; // before PostcopyStarted: replayed once it is persisted
    d.log(Decision.Level.INFO, "postcopy on " + r.getHost() + " (" + (r.getSource() ? "source" : "destination")
        + "): " + r.getState() + (r.getReason().isEmpty() ? "" : ": " + r.getReason()));
    MigrationStatus now = s.status();
    if (r.getState() == MigrationStatus.POSTCOPY_PAUSED) {
      // Either side may notice first; the destination's word counts only while active (during a
      // recovery the source decides, and the destination's old channel closing is expected).
      boolean destinationComplete = u.lastDestinationPostcopy != null
          && u.lastDestinationPostcopy.getState() == MigrationStatus.COMPLETED;
      boolean pause = !destinationComplete && (now == MigrationStatus.POSTCOPY_ACTIVE
          || (r.getSource() && now == MigrationStatus.POSTCOPY_RECOVER));
      if (!pause) return d;
      return d.log(Decision.Level.WARN, "postcopy paused (" + r.getHost() + ": " + r.getReason() + "); "
              + pagesMissing(s, u) + " pages missing; waiting for recover")
          .persist(Events.postcopyPaused(r.getHost(), r.getReason(), pagesMissing(s, u)));
    }
    if (r.getSource() && r.getState() == MigrationStatus.POSTCOPY_ACTIVE
        && (now == MigrationStatus.POSTCOPY_RECOVER || now == MigrationStatus.POSTCOPY_PAUSED)) {
      return d.log(Decision.Level.INFO, "postcopy resumed after recovery " + s.postcopy().recoveries()
              + " (connection " + r.getConnection() + ")")
          .persist(Events.postcopyResumed(s.postcopy().recoveries()));
    }
    return d;
  }

  /** Any failure once the destination runs: stated plainly; the source is never resumed. */
  static Decision failed(MigrationState s, Unpersisted u, String reason) {
    String why = reason + "; the guest ran on " + s.destinationHost() + " with " + pagesMissing(s, u)
        + " pages still missing, so the source's copy on " + s.sourceHost()
        + " is stale: it stays paused and is never resumed automatically";
    return abandon(new Decision(u).log(Decision.Level.ERROR, "postcopy failed: " + why)
        .persist(Events.failedIn(Phase.CONFIRM, why)), why);
  }

  /** The source's postcopy channel has nobody left to serve: it closes, its copy stays paused. */
  static Decision abandon(Decision d, String why) {
    return d.then(new Decision.TellSource(org.livemig.messages.HostCommand.newBuilder().setAbandoned(
        org.livemig.messages.PostcopyAbandoned.newBuilder().setReason(why))));
  }

  static Decision hostLost(MigrationState s, Unpersisted u, String host) {
    if (host.equals(s.destinationHost())) {
      return failed(s, u, "destination host " + host + " left the cluster during postcopy");
    }
    if (!host.equals(s.sourceHost())) return new Decision(u);
    String why = "source host " + host + " left the cluster: the pages still missing on " + s.destinationHost()
        + " can never arrive; it stays paused for an operator's decision";
    return new Decision(u).log(Decision.Level.ERROR, why)
        .persist(Events.postcopySourceLost(host, why, pagesMissing(s, u)));
  }

  /** Pages the destination lacks: its latest report, else the last persisted count. */
  static long pagesMissing(MigrationState s, Unpersisted u) {
    if (u.lastDestinationPostcopy != null) return u.lastDestinationPostcopy.getPagesMissing();
    return s.postcopy().pagesMissing();
  }

  /** The status with the destination's live count of missing pages (what remains to move). */
  static MigrationInfo live(MigrationInfo i, MigrationState s, Unpersisted u) {
    if (!s.inPostcopy()) return i;
    long pageSize = s.begin() == null ? 4096 : s.begin().getGuest().getPageSize();
    return i.toBuilder().setPostcopyPagesMissing(pagesMissing(s, u)).setRemainingBytes(pagesMissing(s, u) * pageSize)
        .build();
  }
}
