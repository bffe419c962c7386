package org.livemig.engine.coordinator;

import org.livemig.engine.common.EpochMicros;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.Phase;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.SetParametersRequest;

/**
 * The precopy switchover's decisions: the rounds' reports (a few recorded, the control-path
 * estimate pushed back to the source), the switchover marker, Finish asked while the source
 * stuns, and Perform's and Finish's answers joined into the ownership decision. What they keep
 * between inputs is in Unpersisted (see there why losing it is safe).
 */
final class Switchover {
  private Switchover() {}

  /** Finish answered before Perform: held (true) until Perform's answer, then acted on. */
  static boolean holdsEarlyFinish(MigrationState s, Unpersisted u, Step step, HostReply r) {
    if (step != Step.FINISH || !u.finishAskedEarly || u.performed != null || s.rollingBack()
        || !u.awaiting.contains(Step.PERFORM)) {
      return false;
    }
    u.finishedEarly = r; // the destination had everything before the source's answer arrived
    return true;
  }

  /**
   * Perform answered: the guest is stunned. Finish is only a question, so it went out with the
   * source's stun report (or goes now), and Perform's result is persisted with the ownership
   * decision.
   */
  static Decision onPerformed(MigrationState s, Unpersisted u, HostReply r) {
    u.performed = r.getPerform();
    return finishDecides(s, u);
  }

  /**
   * The source failed Perform, or left, after the destination may have been told to run on
   * completion: the guest may already run there (the copy can be whole though the source's
   * answer is an error), so the destination's Finish answer decides, not this failure.
   */
  static Decision sourceFailed(MigrationState s, Unpersisted u, String why) {
    u.sourceFailure = why;
    return finishDecides(s, u).cancel(Step.PERFORM).log(Decision.Level.ERROR, why
        + "; the destination may run the guest once its copy is whole: its Finish answer decides");
  }

  /** With Perform settled: act on Finish's early answer, or await Finish (asking it if not yet). */
  private static Decision finishDecides(MigrationState s, Unpersisted u) {
    if (u.finishedEarly != null) {
      HostReply f = u.finishedEarly;
      u.finishedEarly = null;
      return f.getOk() ? onFinished(s, u, f) : Phases.fail(s, u, f.getHost() + " failed FINISH: " + f.getError());
    }
    Decision d = new Decision(u);
    return u.finishAskedEarly ? d.armTimer(Step.FINISH) : d.send(Step.FINISH); // early: asked while the copy travelled
  }

  /** Finish answered (with Perform's answer in hand): persist the switchover and the owner, or roll back. */
  static Decision onFinished(MigrationState s, Unpersisted u, HostReply r) {
    Decision d = new Decision(u);
    if (u.performed != null && s.perform() == null) {
      d.persist(Events.switchoverStarted(u.performed.getStunnedAtEpochUs()), Events.performed(u.performed));
    }
    if (!r.getFinish().getComplete()) {
      String why = withSourceFailure(u, "finish on " + r.getHost() + ": copy incomplete: " + r.getFinish().getReason());
      d.persist(Events.rollback(current(s, u), why, false)).log(Decision.Level.WARN, "failed in FINISH: " + why);
      return Phases.rollback(d, s, u);
    }
    if (r.getFinish().getPostcopy()) {
      // From here on the source never resumes: the destination runs the guest with pages missing.
      d.persist(Events.postcopyStarted(r.getFinish().getPagesMissing()));
    }
    d.persist(Events.destinationOwns(Step.destinationToken(s)));
    if (r.getFinish().hasActivated()) {
      // The destination ran the guest as soon as its copy was complete (Finish went out after the
      // switchover marker): no Activate, only the source's Confirm is left.
      d.persist(Events.finished(r.getFinish().getActivated()), Events.cleanupDone(r.getHost()));
      return d.log(Decision.Level.INFO, "destination " + s.destinationHost() + " runs the guest (it ran on completion)"
          + (u.sourceFailure == null ? "" : "; the source had failed: " + u.sourceFailure) + "; confirming on "
          + s.sourceHost()).send(Step.CONFIRM);
    }
    if (!r.getFinish().getPostcopy() && Ownership.marked(s)) {
      // The marker is in the journal, so any later incarnation treats Activate as possibly sent:
      // it goes now, and the ownership write follows it instead of sitting in the downtime.
      return d.sendBeforeWrite(Step.ACTIVATE).log(Decision.Level.INFO, "destination owns the guest; activated on "
          + s.destinationHost() + " before the journal write completed");
    }
    d.log(Decision.Level.INFO, "destination owns the guest; activating on " + s.destinationHost()).send(Step.ACTIVATE);
    return r.getFinish().getPostcopy() ? d.then(new Decision.ReplayPostcopyReports()) : d;
  }

  /** The source stuns next, or its rounds come within twice the limit, or it throttles the guest. */
  private static boolean switchoverNear(MigrationState s, ProgressReport p) {
    return p.getStunning() || p.getRound().getThrottlePercent() > 0
        || p.getRound().getExpectedDowntimeMs() <= 2 * s.parameters().getDowntimeLimitMs();
  }

  /** A report from the running source (its epoch already checked). */
  static Decision onProgress(MigrationState s, Unpersisted u, ProgressReport p, long roundRecordIntervalNanos) {
    u.estimate.hopSampled(p.getSentAtEpochUs());
    Decision d = new Decision(u);
    boolean stun = p.getSwitchover() || p.getStunning();
    if (stun && (Ownership.marked(s) || !p.getRoundDone())) askFinishEarly(d, s, u);
    if (!p.getRoundDone()) return d; // a live sample: shown, not persisted
    if (!Ownership.marked(s) && switchoverNear(s, p)) {
      // The switchover marker: with it in the journal, Finish tells the destination to run as
      // soon as its copy is whole (see Ownership.mayHaveRun). Written as soon as a switchover is
      // near, while rounds still run, so that at the stun nothing waits for it; at the latest with
      // the last round's report, and then Finish goes once it is written.
      u.markedHere = true;
      long at = p.getSentAtEpochUs() > 0 ? p.getSentAtEpochUs() : EpochMicros.now(); // 0 = unmarked
      d.persist(Events.switchoverStarted(at));
      MigrationState marked = s.apply(d.events.get(0));
      if (stun) askFinishEarly(d, marked, u);
      else d.then(new Decision.PushEstimate()); // no write waits at the switchover any more
      return d;
    }
    // The last precopy round and the final copy travel in Perform's result; a journal write here
    // would sit inside the downtime (commands wait while an event is persisted).
    if (p.getFinalCopy() || p.getStunning()) return d;
    long now = System.nanoTime();
    if (u.lastRoundRecordedNanos != 0 && now - u.lastRoundRecordedNanos < roundRecordIntervalNanos) {
      return pushEstimate(d, s, u); // shown live; Perform's answer brings it to the journal
    }
    u.lastRoundRecordedNanos = now;
    return d.persist(Events.round(p.getRound())).then(new Decision.PushEstimate()); // with this write sampled
  }

  /**
   * The source is stunning the guest (its last round's report) or has stunned it, and the marker
   * is written: Finish goes to the destination now, so that it is there when the last page is and
   * the guest runs at once. No timer yet: the destination waits for its channels' end of stream
   * as long as pages keep arriving; the timer starts with Perform's answer.
   */
  private static void askFinishEarly(Decision d, MigrationState s, Unpersisted u) {
    if (u.finishAskedEarly || u.performed != null || !u.reachable.contains(s.destinationHost())
        || !u.awaiting.contains(Step.PERFORM)) {
      return;
    }
    u.finishAskedEarly = true;
    d.then(new Decision.SendEarly(Step.FINISH));
  }

  /** Tells the running source how long the control path of its switchover is likely to take, when that moved. */
  static Decision pushEstimate(Decision d, MigrationState s, Unpersisted u) {
    long overheadMs = u.estimate.estimateToPush(Ownership.marked(s));
    if (overheadMs > 0) {
      d.then(new Decision.TellSource(HostCommand.newBuilder().setSetParameters(
          SetParametersRequest.newBuilder().setSwitchoverOverheadMs(overheadMs))));
    }
    return d;
  }

  /** A failure's reason, led by the source's failure that Finish's answer was awaited for. */
  static String withSourceFailure(Unpersisted u, String failure) {
    return u.sourceFailure == null ? failure : u.sourceFailure + "; " + failure;
  }

  /** The state as the hosts see it: in FINISH once Perform answered, even before that is persisted. */
  static MigrationState current(MigrationState s, Unpersisted u) {
    return stunnedUnpersisted(s, u) ? s.withPhase(Phase.FINISH) : s;
  }

  /** Perform answered, Finish pending: the guest is stunned, its result not yet persisted. */
  static boolean stunned(MigrationState s, Unpersisted u) {
    return stunnedUnpersisted(s, u) && !s.ended();
  }

  private static boolean stunnedUnpersisted(MigrationState s, Unpersisted u) {
    return u.performed != null && s.perform() == null && !s.rollingBack();
  }
}
