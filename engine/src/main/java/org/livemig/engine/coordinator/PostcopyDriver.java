package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.persistence.typed.javadsl.ReplyEffect;
import java.util.List;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.PostcopyReport;

/**
 * The coordinator's part in postcopy: turns the hosts' state reports into persisted
 * PostcopyPaused / PostcopyResumed decisions, and handles the failures that postcopy changes:
 * once the destination runs the guest, no failure ever resumes the source (its copy is stale).
 */
final class PostcopyDriver {
  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final MigrationCoordinator coordinator;
  private PostcopyReport lastSource;
  private PostcopyReport lastDestination;

  PostcopyDriver(ActorContext<MigrationCoordinator.Command> ctx, MigrationCoordinator coordinator) {
    this.ctx = ctx;
    this.coordinator = coordinator;
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onReport(MigrationState s, PostcopyReport r) {
    if (r.getEpoch() > s.epoch()) return coordinator.noEffect();
    if (r.getSource()) lastSource = r;
    else lastDestination = r;
    if (!s.inPostcopy()) return coordinator.noEffect(); // before PostcopyStarted: replayed once it is persisted
    ctx.getLog().info("{}: postcopy on {} ({}): {}{}", s.migrationId(), r.getHost(), r.getSource() ? "source" : "destination",
        r.getState(), r.getReason().isEmpty() ? "" : ": " + r.getReason());
    MigrationStatus now = s.status();
    if (r.getState() == MigrationStatus.POSTCOPY_PAUSED) {
      // Either side may notice first; the destination's word counts only while active (during a
      // recovery the source decides, and the destination's old channel closing is expected).
      boolean destinationComplete = lastDestination != null && lastDestination.getState() == MigrationStatus.COMPLETED;
      boolean pause = !destinationComplete && (now == MigrationStatus.POSTCOPY_ACTIVE
          || (r.getSource() && now == MigrationStatus.POSTCOPY_RECOVER));
      if (!pause) return coordinator.noEffect();
      ctx.getLog().warn("{}: postcopy paused ({}: {}); {} pages missing; waiting for recover", s.migrationId(),
          r.getHost(), r.getReason(), pagesMissing(s));
      return coordinator.persistThen(List.of(Events.postcopyPaused(r.getHost(), r.getReason(), pagesMissing(s))),
          st -> {});
    }
    if (r.getSource() && r.getState() == MigrationStatus.POSTCOPY_ACTIVE
        && (now == MigrationStatus.POSTCOPY_RECOVER || now == MigrationStatus.POSTCOPY_PAUSED)) {
      ctx.getLog().info("{}: postcopy resumed after recovery {} (connection {})", s.migrationId(),
          s.postcopy().recoveries(), r.getConnection());
      return coordinator.persistThen(List.of(Events.postcopyResumed(s.postcopy().recoveries())), st -> {});
    }
    return coordinator.noEffect();
  }

  /** Reports that came before PostcopyStarted was persisted count once it is. */
  void replayReports(ActorRef<MigrationCoordinator.Command> self) {
    if (lastSource != null) self.tell(new MigrationCoordinator.PostcopyReported(lastSource));
    if (lastDestination != null) self.tell(new MigrationCoordinator.PostcopyReported(lastDestination));
  }

  /** Any failure once the destination runs: stated plainly; the source is never resumed. */
  ReplyEffect<CoordinatorEvent, MigrationState> failed(MigrationState s, String reason) {
    String why = reason + "; the guest ran on " + s.destinationHost() + " with " + pagesMissing(s)
        + " pages still missing, so the source's copy on " + s.sourceHost()
        + " is stale: it stays paused and is never resumed automatically";
    ctx.getLog().error("{}: postcopy failed: {}", s.migrationId(), why);
    return coordinator.persistThen(List.of(Events.failedIn(Phase.CONFIRM, why)), st -> {});
  }

  ReplyEffect<CoordinatorEvent, MigrationState> hostLost(MigrationState s, String host) {
    if (host.equals(s.destinationHost())) {
      return failed(s, "destination host " + host + " left the cluster during postcopy");
    }
    if (!host.equals(s.sourceHost())) return coordinator.noEffect();
    String why = "source host " + host + " left the cluster: the pages still missing on " + s.destinationHost()
        + " can never arrive; it stays paused for an operator's decision";
    ctx.getLog().error("{}: {}", s.migrationId(), why);
    return coordinator.persistThen(List.of(Events.postcopyPaused(host, why, pagesMissing(s))), st -> {});
  }

  /** Pages the destination lacks: its latest report, else the last persisted count. */
  long pagesMissing(MigrationState s) {
    if (lastDestination != null) return lastDestination.getPagesMissing();
    return s.postcopy().pagesMissing();
  }

  /** The status with the destination's live count of missing pages (what remains to move). */
  MigrationInfo live(MigrationInfo i, MigrationState s) {
    if (!s.inPostcopy()) return i;
    long pageSize = s.begin() == null ? 4096 : s.begin().getGuest().getPageSize();
    return i.toBuilder().setPostcopyPagesMissing(pagesMissing(s)).setRemainingBytes(pagesMissing(s) * pageSize).build();
  }
}
