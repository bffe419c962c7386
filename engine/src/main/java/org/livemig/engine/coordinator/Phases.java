package org.livemig.engine.coordinator;

import java.util.List;
import org.livemig.engine.security.DataToken;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.HostReply;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.ResumeOwner;

/**
 * The phases' decisions: a host's answer, a timeout, a host lost or not found, a takeover. Each
 * is a plain function of the persisted state, the Unpersisted record and the input, returning
 * what to persist and send; the precopy switchover's part is Switchover's, postcopy's is
 * PostcopyRules'.
 */
final class Phases {
  private Phases() {}

  static Decision start(MigrationState s, Unpersisted u) {
    return new Decision(u).log(Decision.Level.INFO, "migrating guest " + s.guestId() + " from " + s.sourceHost()
        + " to " + s.destinationHost()).send(Step.BEGIN);
  }

  /** After a takeover: re-send whatever the journal says is pending (hosts deduplicate). */
  static Decision resume(MigrationState s, Unpersisted u) {
    Decision d = new Decision(u);
    // A journal written before tokens were hashed holds the token itself.
    if (u.dataToken == null && s.prepare() != null && !s.prepare().getToken().isEmpty()) u.dataToken = s.prepare().getToken();
    if (s.rollingBack()) return rollback(d, s, u);
    return switch (s.phase()) {
      case BEGIN -> d.send(Step.BEGIN);
      case PREPARE -> d.send(Step.PREPARE);
      case PERFORM -> u.dataToken == null && !Ownership.marked(s)
          // The source may never have had Perform, and the journal has only the token's hash.
          ? d.log(Decision.Level.INFO, "asking " + s.destinationHost() + " for its Prepare answer again: the data "
              + "token is not journaled").send(Step.PREPARE)
          : d.send(Step.PERFORM); // once stunned, the source has Perform and its token
      case FINISH -> d.send(s.resumeOwner() == ResumeOwner.DESTINATION ? Step.ACTIVATE : Step.FINISH);
      case CONFIRM -> s.inPostcopy()
          ? d.then(new Decision.Locate(s.sourceHost())).send(Step.PAGES_COMPLETE) // watched: its loss pauses postcopy
          : d.send(Step.CONFIRM);
      default -> d.log(Decision.Level.ERROR, "nothing to resume in phase " + s.phase());
    };
  }

  /** The source resumes and the destination is discarded; both answers end the migration. */
  static Decision rollback(Decision d, MigrationState s, Unpersisted u) {
    MigrationState at = s;
    for (var e : d.events) at = at.apply(e);
    d.cancelAll().log(Decision.Level.WARN, "rolling back from " + at.failedPhase() + ": " + at.error());
    if (!at.cleanedUp().contains(at.sourceHost())) d.send(Step.CONFIRM);
    if (!at.cleanedUp().contains(at.destinationHost())) d.send(Step.DISCARD);
    return d;
  }

  static Decision onReply(MigrationState s, Unpersisted u, HostReply r) {
    Decision none = new Decision(u);
    if (r.getEpoch() != s.epoch() || r.getStep() < 1 || r.getStep() > Step.values().length) {
      return none.log(Decision.Level.WARN, "answer from epoch " + r.getEpoch() + " step " + r.getStep()
          + " ignored (current epoch " + s.epoch() + ")");
    }
    Step step = Step.of(r.getStep());
    if (Switchover.holdsEarlyFinish(s, u, step, r)) return none;
    if (!u.awaiting.contains(step)) return none; // a late or repeated answer
    none.cancel(step);
    if (step == Step.CONFIRM && r.getConfirm().getDisksCount() > 0) finalDisks(s, u, r.getConfirm().getDisksList());
    if (s.rollingBack()) return onRollbackAnswer(none, s, u, step, r);
    if (!r.getOk()) {
      String why = r.getHost() + " failed " + step + ": " + r.getError();
      return join(none, step == Step.PERFORM && Ownership.mayHaveRun(s, u)
          ? Switchover.sourceFailed(s, u, why) : fail(s, u, why, r.getErrorKind()));
    }
    Decision d = none;
    return switch (step) {
      case BEGIN -> d.persist(Events.begun(r.getBegin())).send(Step.PREPARE);
      case PREPARE -> join(d, prepared(s, u, r));
      case PERFORM -> join(d, Switchover.onPerformed(s, u, r));
      case FINISH -> join(d, Switchover.onFinished(s, u, r));
      case ACTIVATE -> r.getActivate().getPostcopy()
          ? d.persist(Events.finished(r.getActivate())).send(Step.PAGES_COMPLETE)
          : d.persist(Events.finished(r.getActivate()), Events.cleanupDone(r.getHost())).send(Step.CONFIRM);
      case PAGES_COMPLETE -> {
        var p = r.getPagesComplete();
        yield d.persist(Events.postcopyCompleted(p), Events.cleanupDone(r.getHost()))
            .log(Decision.Level.INFO, "postcopy complete: " + p.getPagesReceived() + " pages over "
                + p.getConnections() + " connection(s), " + p.getDuplicatePages() + " duplicates, " + p.getFaults()
                + " faults (median " + p.getFaultMedianUs() + " us, p99 " + p.getFaultP99Us()
                + " us); destroying the source")
            .send(Step.CONFIRM);
      }
      case CONFIRM -> {
        long downtime = s.activate().getRunningAtEpochUs() - s.stunnedAtUs();
        yield settled(d, s).persist(Events.confirmed(r.getConfirm()), Events.cleanupDone(r.getHost()),
                Events.completed(downtime, s.activate().getRunningAtEpochUs()))
            .log(Decision.Level.INFO, "completed; guest " + s.guestId() + " runs on " + s.destinationHost()
                + "; downtime " + downtime / 1000.0 + " ms");
      }
      case DISCARD -> d;
    };
  }

  /**
   * Prepare's answer: the data token is kept in memory, the rest journaled. Answered again after
   * a takeover in Perform, its token must be the one whose hash the journal holds: a destination
   * that answers without it (restarted, its endpoint gone) or with another has nothing for the
   * source to send to.
   */
  static Decision prepared(MigrationState s, Unpersisted u, HostReply r) {
    String token = r.getPrepare().getToken();
    boolean again = s.prepare() != null;
    if (token.isEmpty() || (again && !DataToken.matches(s.prepare(), token))) {
      return fail(s, u, r.getHost() + " answered Prepare " + (token.isEmpty() ? "without a data token" : "with another "
          + "data token") + ": its data endpoint for this migration is gone (host restarted?)");
    }
    u.dataToken = token;
    Decision d = new Decision(u);
    return (again ? d : d.persist(Events.prepared(r.getPrepare()))).send(Step.PERFORM);
  }

  /**
   * An ended migration's notices to its hosts, told again whenever its coordinator starts after
   * the end: one told just before a crash may never have arrived, and a fenced arrival would
   * then stay paused for good. Hosts act on a notice once and ignore it after that.
   */
  static Decision endNotices(MigrationState s, Unpersisted u) {
    Decision d = new Decision(u);
    if (s.status() == org.livemig.messages.MigrationStatus.COMPLETED) return settled(d, s);
    boolean postcopyFailed = s.status() == org.livemig.messages.MigrationStatus.FAILED && s.postcopy().started()
        && !s.postcopy().complete();
    return postcopyFailed ? PostcopyRules.abandon(d, s.error()) : d;
  }

  /** Once completed, the destination's guest is no longer in question (hosts fence only those). */
  private static Decision settled(Decision d, MigrationState s) {
    return d.then(new Decision.TellDestination(org.livemig.messages.HostCommand.newBuilder().setSettled(
        org.livemig.messages.SettledNotice.newBuilder().setGuestId(s.guestId()))));
  }

  /** The first decision's actions, then the second's (which owns the events). */
  private static Decision join(Decision first, Decision second) {
    second.beforeWrite.addAll(0, first.beforeWrite);
    second.afterWrite.addAll(0, first.afterWrite);
    return second;
  }

  private static Decision onRollbackAnswer(Decision d, MigrationState s, Unpersisted u, Step step, HostReply r) {
    if (step != Step.CONFIRM && step != Step.DISCARD) return d;
    if (!r.getOk()) {
      d.log(Decision.Level.ERROR, "rollback " + step + " on " + r.getHost() + " answered with an error: "
          + r.getError());
    }
    d.persist(Events.cleanupDone(r.getHost()));
    String other = step == Step.CONFIRM ? s.destinationHost() : s.sourceHost();
    boolean discardGivenUp = step == Step.CONFIRM && u.discardUnanswered != null;
    if (s.cleanedUp().contains(other) || discardGivenUp) {
      String sourceState = step != Step.CONFIRM ? "" : r.getConfirm().getSourceRunning() ? "; source guest running"
          : r.getConfirm().getSourcePoweredOff() ? "; source guest powered off" : "";
      if (step == Step.CONFIRM && s.poweredOff() && !r.getConfirm().getSourcePoweredOff()) {
        sourceState = "; the source did NOT confirm the guest off (" + (r.getOk() ? "no power off done" : r.getError())
            + "): power it off again";
        d.log(Decision.Level.ERROR, "power off of guest " + s.guestId() + " on " + s.sourceHost() + " not confirmed");
      }
      String reason = s.failedPhase() + ": " + s.error() + sourceState
          + (discardGivenUp ? "; " + u.discardUnanswered : "");
      d.persist(Events.failed(s, reason)).log(Decision.Level.WARN, (s.cancelled() ? "CANCELLED" : "FAILED") + " in "
          + s.failedPhase() + ": " + reason);
    }
    return d;
  }

  /** A failure before the destination owns the guest: the source resumes. */
  static Decision fail(MigrationState s, Unpersisted u, String failure) {
    return fail(s, u, failure, ErrorKind.ERROR_NONE);
  }

  /** kind: what refused, when a host's refusal or a host not found is the cause (the client reads it). */
  static Decision fail(MigrationState s, Unpersisted u, String failure, ErrorKind kind) {
    String reason = Switchover.withSourceFailure(u, failure);
    if (s.inPostcopy()) return PostcopyRules.failed(s, u, reason);
    Decision d = new Decision(u);
    if (s.resumeOwner() == ResumeOwner.DESTINATION && s.activate() != null) {
      // The guest already runs on the destination; only the source's Confirm is left.
      return settled(d, s).persist(Events.confirmed(), Events.completed(
              s.activate().getRunningAtEpochUs() - s.stunnedAtUs(), s.activate().getRunningAtEpochUs()))
          .log(Decision.Level.ERROR, "after switchover: " + reason + "; the destination keeps the guest");
    }
    MigrationState at = Switchover.current(s, u);
    d.persist(Events.rollback(at, reason, false, kind)).log(Decision.Level.WARN, "failed in " + at.phase() + ": " + reason);
    return rollback(d, s, u);
  }

  /** How each disk's copy ended, reported by Confirm: the status shows it after the last progress report. */
  private static void finalDisks(MigrationState s, Unpersisted u, List<org.livemig.messages.DiskMoveStatus> disks) {
    var p = u.lastProgress != null && u.lastProgress.getEpoch() == s.epoch() ? u.lastProgress.toBuilder()
        : ProgressReport.newBuilder().setEpoch(s.epoch());
    u.lastProgress = p.clearDisks().addAllDisks(disks).build();
  }

  static Decision onProgress(MigrationState s, Unpersisted u, ProgressReport p, long roundRecordIntervalNanos) {
    if (s.ended() || s.rollingBack() || p.getEpoch() != s.epoch()) return new Decision(u);
    // A sample names the round it was taken in: one of a round already reported done is older than that report.
    boolean stale = !p.getRoundDone() && u.lastRoundDone != null && p.getRound().getRound() <= u.lastRoundDone.getRound();
    if (!stale) u.lastProgress = p;
    // The final copy's report is a round the guest did not run in (it dirtied nothing): not shown as one.
    if (p.getRoundDone() && !p.getFinalCopy()) u.lastRoundDone = p.getRound();
    Decision d = Switchover.onProgress(s, u, p, roundRecordIntervalNanos);
    if (u.awaiting.contains(Step.PERFORM)) d.beforeWrite.add(new Decision.ArmTimer(Step.PERFORM)); // heard from
    return d;
  }

  /** A step's timer fired: silence, never a no once the destination may run the guest. */
  static Decision onTimeout(MigrationState s, Unpersisted u, Step step, CoordinatorSettings settings) {
    Decision d = new Decision(u);
    if (s.ended()) return d;
    if (step == Step.PAGES_COMPLETE) {
      // Postcopy is never timed out: a paused one waits for a recovery, however long.
      return d.log(Decision.Level.INFO, "postcopy " + s.status() + ": " + PostcopyRules.pagesMissing(s, u)
          + " pages missing" + (s.postcopy().pausedReason().isEmpty() ? "" : " (" + s.postcopy().pausedReason() + ")"))
          .armTimer(step);
    }
    String why = "host " + step.host(s) + " did not answer " + step + " within "
        + (step == Step.PERFORM ? settings.performSilenceTimeout() : settings.stepTimeout());
    if (Ownership.confirmAgainOnSilence(s, step)) {
      u.sourceUnconfirmed = why + "; the source copy on " + s.sourceHost() + " is not confirmed "
          + (s.poweredOff() ? "off" : "destroyed");
      return d.log(Decision.Level.ERROR, u.sourceUnconfirmed + ": asking again").send(step);
    }
    if (s.rollingBack() && s.poweredOff() && !s.cleanedUp().contains(s.sourceHost())) {
      u.discardUnanswered = why;
      return d.log(Decision.Level.ERROR, "rollback: " + why + "; the end waits for the source's power off");
    }
    if (s.rollingBack()) {
      // The host is gone or mute; its copy never got ownership, so the rollback ends here.
      return d.persist(Events.failed(s, s.failedPhase() + ": " + s.error() + "; " + why))
          .log(Decision.Level.ERROR, "rollback: " + why);
    }
    if (Ownership.askAgainOnSilence(s, u)) {
      // Silence is no answer: the destination may run the guest, so resuming the source could
      // leave two running. The source is not resumed and the host is asked again.
      return d.log(Decision.Level.ERROR, why + "; the switchover's outcome is unknown (the destination may already "
          + "run the guest): the source is not resumed, asking again").send(step);
    }
    return fail(s, u, why);
  }

  /**
   * The lookup of a host that steps wait for gave up. While some member is unreachable that is
   * silence, not a no (a new incarnation starts with an empty address book, and the receptionist
   * lists only reachable hosts): in postcopy, once the destination may run the guest, and for
   * Confirm after it runs there, the steps are asked again. With every member reachable the host
   * is not in the cluster: a definite answer, as when its node is removed.
   */
  static Decision onHostNotFound(MigrationState s, Unpersisted u, List<Step> steps, String why,
      boolean notInCluster) {
    Decision d = new Decision(u);
    if (s.rollingBack() && s.poweredOff() && !s.cleanedUp().contains(s.sourceHost()) && !notInCluster) {
      // Nobody knows the guest is off until the source says so: the end waits for it.
      if (!steps.contains(Step.CONFIRM)) {
        u.discardUnanswered = why;
        return d.log(Decision.Level.ERROR, "rollback: " + why + "; the end waits for the source's power off");
      }
      u.sourceUnconfirmed = why + "; the guest on " + s.sourceHost() + " is not confirmed off";
      d.log(Decision.Level.ERROR, u.sourceUnconfirmed + ": looking again");
      for (Step st : steps) d.send(st);
      return d;
    }
    if (s.rollingBack()) return d.persist(Events.failed(s, s.failedPhase() + ": " + s.error() + "; " + why));
    if (s.ended()) return d;
    if (notInCluster) {
      // Every member is reachable and none is this host: it left the cluster, a definite answer.
      return fail(s, u, why, ErrorKind.ERROR_HOST_UNREACHABLE);
    }
    if (s.inPostcopy()) {
      // Postcopy is never timed out, by a timer or by a lookup: it waits for the host.
      d.log(Decision.Level.WARN, why + "; postcopy waits for it, looking again");
    } else if (steps.stream().anyMatch(st -> Ownership.confirmAgainOnSilence(s, st))) {
      u.sourceUnconfirmed = why + "; the source copy on " + s.sourceHost() + " is not confirmed destroyed";
      d.log(Decision.Level.ERROR, u.sourceUnconfirmed + ": looking again");
    } else if (Ownership.askAgainOnSilence(s, u)) {
      d.log(Decision.Level.ERROR, why + "; the destination may already run the guest: the source is not resumed, "
          + "looking again");
    } else {
      return fail(s, u, why, ErrorKind.ERROR_HOST_UNREACHABLE);
    }
    for (Step st : steps) d.send(st);
    return d;
  }

  /** A host's agent terminated (its node left the cluster): a definite answer, unlike silence. */
  static Decision onHostLost(MigrationState s, Unpersisted u, String host, CoordinatorSettings settings) {
    if (s.ended()) return new Decision(u);
    if (s.inPostcopy()) return PostcopyRules.hostLost(s, u, host);
    for (Step st : Step.values()) {
      if (st.host(s).equals(host) && u.awaiting.contains(st)) {
        Decision d = new Decision(u).cancel(st)
            .log(Decision.Level.WARN, "host " + host + " left the cluster while " + st + " was pending");
        String why = "host " + host + " left the cluster while " + st + " was pending";
        if (s.rollingBack()) return join(d, onTimeout(s, u, st, settings));
        if (st == Step.PERFORM && Ownership.mayHaveRun(s, u)) return join(d, Switchover.sourceFailed(s, u, why));
        return join(d, fail(s, u, why));
      }
    }
    return new Decision(u);
  }
}
