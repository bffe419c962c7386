package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.persistence.typed.javadsl.ReplyEffect;
import java.util.ArrayList;
import java.util.List;
import org.livemig.engine.host.EpochMicros;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.PerformResult;
import org.livemig.messages.Phase;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.SetParametersRequest;

/**
 * The precopy switchover as this incarnation sees it: the rounds' reports (a few recorded, the
 * control-path estimate pushed back to the source), the switchover marker, Finish asked while
 * the source stuns, Perform's and Finish's answers joined into the ownership decision, and the
 * rule that once the destination may run the guest only its own definite no resumes the
 * source. What it keeps is safe to lose in a crash: a later incarnation that replays the marker
 * treats the destination as possibly running.
 */
final class Switchover {
  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final CoordinatorSettings settings;
  private final MigrationCoordinator coordinator;
  private final PhaseDriver driver;
  private final HostLookup hosts;
  private final SwitchoverEstimate estimate = new SwitchoverEstimate();
  /** Perform's answer, held until Finish answers (then persisted with the ownership decision). */
  private PerformResult performed;
  /** Finish went out when the source reported its stun, before Perform's answer (no timer yet). */
  private boolean finishAskedEarly;
  /** When a round was last written to the journal (System.nanoTime; 0 = never). */
  private long lastRoundRecordedNanos;
  /** This incarnation wrote the switchover marker, so it knows whether it let the destination run. */
  private boolean markedHere;
  /** This incarnation sent Activate, or a Finish that runs the destination on completion. */
  private boolean runPermitted;
  /** Finish's answer when it came before Perform's: acted on once Perform answers. */
  private HostReply finishedEarly;
  /** The source failed or left after the destination may have been told to run: Finish decides. */
  private String sourceFailure;

  Switchover(ActorContext<MigrationCoordinator.Command> ctx, TimerScheduler<MigrationCoordinator.Command> timers,
      CoordinatorSettings settings, MigrationCoordinator coordinator, PhaseDriver driver, HostLookup hosts) {
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.coordinator = coordinator;
    this.driver = driver;
    this.hosts = hosts;
  }

  /** Finish answered before Perform: held (true) until Perform's answer, then acted on. */
  boolean holdsEarlyFinish(MigrationState s, Step step, HostReply r) {
    if (step != Step.FINISH || !finishAskedEarly || performed != null || s.rollingBack()
        || !timers.isTimerActive(Step.PERFORM)) {
      return false;
    }
    finishedEarly = r; // the destination had everything before the source's answer arrived
    return true;
  }

  /**
   * Perform answered: the guest is stunned. Finish is only a question, so it went out with the
   * source's stun report (or goes now), and Perform's result is persisted with the ownership
   * decision.
   */
  ReplyEffect<CoordinatorEvent, MigrationState> onPerformed(MigrationState s, HostReply r) {
    performed = r.getPerform();
    if (finishedEarly != null) {
      HostReply f = finishedEarly;
      finishedEarly = null;
      return f.getOk() ? onFinished(s, f) : driver.fail(s, f.getHost() + " failed FINISH: " + f.getError());
    }
    if (finishAskedEarly) driver.armTimer(s, Step.FINISH); // asked while the final copy travelled
    else driver.send(s, Step.FINISH);
    return coordinator.noEffect();
  }

  /** Finish answered (with Perform's answer in hand): persist the switchover and the owner, or roll back. */
  ReplyEffect<CoordinatorEvent, MigrationState> onFinished(MigrationState s, HostReply r) {
    List<CoordinatorEvent> events = new ArrayList<>();
    if (performed != null && s.perform() == null) {
      events.add(Events.switchoverStarted(performed.getStunnedAtEpochUs()));
      events.add(Events.performed(performed));
    }
    if (!r.getFinish().getComplete()) {
      String why = withSourceFailure("finish on " + r.getHost() + ": copy incomplete: " + r.getFinish().getReason());
      ctx.getLog().warn("{}: failed in FINISH: {}", s.migrationId(), why);
      events.add(Events.rollback(current(s), why, false));
      return coordinator.persistThen(events, driver::rollback);
    }
    if (r.getFinish().getPostcopy()) {
      // From here on the source never resumes: the destination runs the guest with pages missing.
      events.add(Events.postcopyStarted(r.getFinish().getPagesMissing()));
    }
    events.add(Events.destinationOwns(Step.destinationToken(s)));
    if (r.getFinish().hasActivated()) {
      // The destination ran the guest as soon as its copy was complete (Finish went out after the
      // switchover marker): no Activate, only the source's Confirm is left.
      events.add(Events.finished(r.getFinish().getActivated()));
      events.add(Events.cleanupDone(r.getHost()));
      return coordinator.persistThen(events, st -> {
        ctx.getLog().info("{}: destination {} runs the guest (it ran on completion){}; confirming on {}",
            st.migrationId(), st.destinationHost(), sourceFailure == null ? "" : "; the source had failed: "
                + sourceFailure, st.sourceHost());
        driver.send(st, Step.CONFIRM);
      });
    }
    long decided = System.nanoTime();
    if (!r.getFinish().getPostcopy() && marked(s)) {
      // The marker is in the journal, so any later incarnation treats Activate as possibly sent:
      // it goes now, and the ownership write follows it instead of sitting in the downtime.
      MigrationState owned = s;
      for (CoordinatorEvent e : events) owned = owned.apply(e);
      runPermitted = true;
      driver.send(owned, Step.ACTIVATE);
      return coordinator.persistThen(events, st -> ctx.getLog().info("{}: destination owns the guest; activated on {} "
          + "before the journal write ({} us) completed", st.migrationId(), st.destinationHost(),
          (System.nanoTime() - decided) / 1000));
    }
    return coordinator.persistThen(events, st -> {
      ctx.getLog().info("{}: destination owns the guest (journal write {} us); activating on {}", st.migrationId(),
          (System.nanoTime() - decided) / 1000, st.destinationHost());
      driver.send(st, Step.ACTIVATE);
      if (st.inPostcopy()) driver.postcopy().replayReports(ctx.getSelf());
    });
  }

  /**
   * Whether the destination may run the guest: once it may, the source resumes only on the
   * destination's definite no (an error answer, an incomplete copy, or its host gone from the
   * cluster), never on silence or on the source's failure. True when this incarnation sent
   * Activate or a Finish that runs on completion (see Step.FINISH), or the destination owns the
   * guest, and in an incarnation that replayed a switchover marker it did not write (its
   * predecessor may have sent either just before it stopped).
   */
  boolean mayHaveActivated(MigrationState s) {
    if (s.rollingBack()) return false;
    return runPermitted || s.resumeOwner() == ResumeOwner.DESTINATION || (marked(s) && !markedHere);
  }

  /** The source stuns next, or its rounds come within twice the limit, or it throttles the guest. */
  private static boolean switchoverNear(MigrationState s, ProgressReport p) {
    return p.getStunning() || p.getRound().getThrottlePercent() > 0
        || p.getRound().getExpectedDowntimeMs() <= 2 * s.parameters().getDowntimeLimitMs();
  }

  /** The switchover marker is in the journal (its time is the source's report, never 0). */
  static boolean marked(MigrationState s) {
    return s.stunnedAtUs() != 0;
  }

  /**
   * The source failed Perform, or left, after the destination may have been told to run on
   * completion: the guest may already run there (the copy can be whole though the source's
   * answer is an error), so the destination's Finish answer decides, not this failure.
   */
  ReplyEffect<CoordinatorEvent, MigrationState> sourceFailed(MigrationState s, String why) {
    ctx.getLog().error("{}: {}; the destination may run the guest once its copy is whole: its Finish answer decides",
        s.migrationId(), why);
    sourceFailure = why;
    timers.cancel(Step.PERFORM);
    if (finishedEarly != null) {
      HostReply f = finishedEarly;
      finishedEarly = null;
      return f.getOk() ? onFinished(s, f) : driver.fail(s, f.getHost() + " failed FINISH: " + f.getError());
    }
    if (finishAskedEarly) driver.armTimer(s, Step.FINISH);
    else driver.send(s, Step.FINISH);
    return coordinator.noEffect();
  }

  /** A report from the running source (the driver has already checked its epoch). */
  ReplyEffect<CoordinatorEvent, MigrationState> onProgress(MigrationState s, ProgressReport p) {
    estimate.hopSampled(p.getSentAtEpochUs());
    boolean stun = p.getSwitchover() || p.getStunning();
    if (stun && (marked(s) || !p.getRoundDone())) askFinishEarly(s);
    if (!p.getRoundDone()) return coordinator.noEffect(); // a live sample: shown, not persisted
    if (!marked(s) && switchoverNear(s, p)) {
      // The switchover marker: with it in the journal, Finish tells the destination to run as
      // soon as its copy is whole (see mayHaveActivated). Written as soon as a switchover is near,
      // while rounds still run, so that at the stun nothing waits for it; at the latest with the
      // last round's report, and then Finish goes once it is written.
      markedHere = true;
      long at = p.getSentAtEpochUs() > 0 ? p.getSentAtEpochUs() : EpochMicros.now(); // 0 = unmarked
      return coordinator.persistThen(List.of(Events.switchoverStarted(at)), st -> {
        if (stun) askFinishEarly(st);
        else pushEstimate(st); // no write waits at the switchover any more
      });
    }
    // The last precopy round and the final copy travel in Perform's result; a journal write here
    // would sit inside the downtime (commands wait while an event is persisted).
    if (p.getFinalCopy() || p.getStunning()) return coordinator.noEffect();
    long now = System.nanoTime();
    if (lastRoundRecordedNanos != 0 && now - lastRoundRecordedNanos < settings.roundRecordInterval().toNanos()) {
      pushEstimate(s); // the source decides on every round: keep it current
      return coordinator.noEffect(); // shown live; Perform's answer brings it to the journal
    }
    lastRoundRecordedNanos = now;
    return coordinator.persistThen(List.of(Events.round(p.getRound())), this::pushEstimate);
  }

  /**
   * The source is stunning the guest (its last round's report) or has stunned it, and the marker
   * is written: Finish goes to the destination now, so that it is there when the last page is and
   * the guest runs at once. No timer yet: the destination waits for its channels' end of stream
   * as long as pages keep arriving; the timer starts with Perform's answer.
   */
  private void askFinishEarly(MigrationState s) {
    ActorRef<HostAgent.Command> destination = hosts.agent(s.destinationHost());
    if (finishAskedEarly || performed != null || destination == null || !timers.isTimerActive(Step.PERFORM)) return;
    finishAskedEarly = true;
    destination.tell(new HostAgent.Control(finishCommand(s), ctx.getSelf()));
  }

  void journalWriteSampled(long nanos) {
    estimate.journalWriteSampled(nanos);
  }

  /** Tells the running source how long the control path of its switchover is likely to take, when that moved. */
  void pushEstimate(MigrationState s) {
    long overheadMs = estimate.estimateToPush(marked(s));
    if (overheadMs > 0) {
      driver.tellSource(s, HostCommand.newBuilder().setSetParameters(
          SetParametersRequest.newBuilder().setSwitchoverOverheadMs(overheadMs)));
    }
  }

  /** Finish's command; one that runs the destination on completion counts as permission given. */
  HostCommand finishCommand(MigrationState s) {
    HostCommand finish = Step.FINISH.command(s);
    if (finish.getFinish().getActivateWhenComplete()) runPermitted = true;
    return finish;
  }

  /** A failure's reason, led by the source's failure that Finish's answer was awaited for. */
  String withSourceFailure(String failure) {
    return sourceFailure == null ? failure : sourceFailure + "; " + failure;
  }

  /** The state as the hosts see it: in FINISH once Perform answered, even before that is persisted. */
  MigrationState current(MigrationState s) {
    return performed != null && s.perform() == null && !s.rollingBack() ? s.withPhase(Phase.FINISH) : s;
  }

  /** Perform answered, Finish pending: the guest is stunned, its result not yet persisted. */
  boolean stunned(MigrationState s) {
    return performed != null && s.perform() == null && !s.rollingBack() && !s.ended();
  }
}
