package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.persistence.typed.javadsl.ReplyEffect;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.ResumeOwner;

/**
 * The coordinator's hands: sends phase commands to host agents (found through HostLookup),
 * runs the phase timers, and turns host answers into the next persisted
 * decision. It keeps only what is safe to lose in a crash (host refs, the last progress sample);
 * everything that decides anything is in MigrationState.
 */
final class PhaseDriver {
  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final CoordinatorSettings settings;
  private final MigrationCoordinator coordinator;
  private final ActorRef<akka.cluster.sharding.typed.javadsl.ClusterSharding.ShardCommand> shard;
  private final HostLookup hosts;
  private ProgressReport lastProgress;
  private final SwitchoverEstimate switchover = new SwitchoverEstimate();
  private final PostcopyDriver postcopy;
  /** Perform's answer, held until Finish answers (then persisted with the ownership decision). */
  private org.livemig.messages.PerformResult performed;
  /** Finish went out when the source reported its stun, before Perform's answer (no timer yet). */
  private boolean finishAskedEarly;
  /** When a round was last written to the journal (System.nanoTime; 0 = never). */
  private long lastRoundRecordedNanos;
  /** This incarnation wrote the switchover marker, so it knows whether it sent Activate. */
  private boolean switchoverMarkedHere;
  /** This incarnation sent Activate, or a Finish that runs the destination on completion. */
  private boolean activateSent;
  /** Finish's answer when it came before Perform's: acted on once Perform answers. */
  private HostReply finishedEarly;
  /** The source failed or left after the destination may have been told to run: Finish decides. */
  private String sourceFailure;

  PhaseDriver(ActorContext<MigrationCoordinator.Command> ctx, TimerScheduler<MigrationCoordinator.Command> timers,
      CoordinatorSettings settings, MigrationCoordinator coordinator,
      ActorRef<akka.cluster.sharding.typed.javadsl.ClusterSharding.ShardCommand> shard) {
    this.ctx = ctx;
    this.shard = shard;
    this.timers = timers;
    this.settings = settings;
    this.coordinator = coordinator;
    this.postcopy = new PostcopyDriver(ctx, coordinator);
    this.hosts = new HostLookup(ctx, timers, settings);
  }

  PostcopyDriver postcopy() {
    return postcopy;
  }

  void start(MigrationState s) {
    ctx.getLog().info("{}: migrating guest {} from {} to {}", s.migrationId(), s.guestId(), s.sourceHost(),
        s.destinationHost());
    send(s, Step.BEGIN);
  }

  /** An ended migration's coordinator leaves memory (and the remembered entities) after a while. */
  void passivateLater() {
    if (shard == null) return;
    timers.startSingleTimer("passivate", MigrationCoordinator.Idle.INSTANCE, settings.passivateAfterEnd());
  }

  void passivate() {
    if (shard != null) shard.tell(new akka.cluster.sharding.typed.javadsl.ClusterSharding.Passivate<>(ctx.getSelf()));
  }

  /** After recovery: re-send whatever the journal says is pending (hosts deduplicate). */
  void resume(MigrationState s) {
    if (s.rollingBack()) {
      rollback(s);
      return;
    }
    switch (s.phase()) {
      case BEGIN -> send(s, Step.BEGIN);
      case PREPARE -> send(s, Step.PREPARE);
      case PERFORM -> send(s, Step.PERFORM);
      case FINISH -> send(s, s.resumeOwner() == ResumeOwner.DESTINATION ? Step.ACTIVATE : Step.FINISH);
      case CONFIRM -> {
        if (s.inPostcopy()) hosts.locate(s.sourceHost()); // watched: its loss pauses postcopy
        send(s, s.inPostcopy() ? Step.PAGES_COMPLETE : Step.CONFIRM);
      }
      default -> ctx.getLog().error("{}: nothing to resume in phase {}", s.migrationId(), s.phase());
    }
  }

  /** The source resumes and the destination is discarded; both answers end the migration. */
  void rollback(MigrationState s) {
    ctx.getLog().warn("{}: rolling back from {}: {}", s.migrationId(), s.failedPhase(), s.error());
    for (Step st : Step.values()) timers.cancel(st);
    if (!s.cleanedUp().contains(s.sourceHost())) send(s, Step.CONFIRM);
    if (!s.cleanedUp().contains(s.destinationHost())) send(s, Step.DISCARD);
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onReply(MigrationState s, HostReply r) {
    if (r.getEpoch() != s.epoch() || r.getStep() < 1 || r.getStep() > Step.values().length) {
      ctx.getLog().warn("{}: answer from epoch {} step {} ignored (current epoch {})", s.migrationId(), r.getEpoch(),
          r.getStep(), s.epoch());
      return coordinator.noEffect();
    }
    Step step = Step.of(r.getStep());
    if (step == Step.FINISH && finishAskedEarly && performed == null && !s.rollingBack()
        && timers.isTimerActive(Step.PERFORM)) {
      finishedEarly = r; // the destination had everything before the source's answer arrived
      return coordinator.noEffect();
    }
    if (!timers.isTimerActive(step)) {
      ctx.getLog().debug("{}: late or repeated answer to {} ignored", s.migrationId(), step);
      return coordinator.noEffect();
    }
    timers.cancel(step);
    if (s.rollingBack()) return onRollbackAnswer(s, step, r);
    if (!r.getOk()) {
      String why = r.getHost() + " failed " + step + ": " + r.getError();
      return step == Step.PERFORM && mayHaveActivated(s) ? awaitFinish(s, why) : fail(s, why);
    }
    return switch (step) {
      case BEGIN -> coordinator.persistThen(List.of(Events.begun(r.getBegin())), st -> send(st, Step.PREPARE));
      case PREPARE -> coordinator.persistThen(List.of(Events.prepared(r.getPrepare())), st -> send(st, Step.PERFORM));
      case PERFORM -> {
        // The guest is stunned: Finish is only a question, so it went out with the source's stun
        // report (or goes now), and Perform's result is persisted with the ownership decision.
        performed = r.getPerform();
        if (finishedEarly != null) {
          HostReply f = finishedEarly;
          finishedEarly = null;
          yield f.getOk() ? onFinished(s, f) : fail(s, f.getHost() + " failed FINISH: " + f.getError());
        }
        if (finishAskedEarly) armTimer(s, Step.FINISH); // asked while the final copy travelled
        else send(s, Step.FINISH);
        yield coordinator.noEffect();
      }
      case FINISH -> onFinished(s, r);
      case ACTIVATE -> r.getActivate().getPostcopy()
          ? coordinator.persistThen(List.of(Events.finished(r.getActivate())), st -> send(st, Step.PAGES_COMPLETE))
          : coordinator.persistThen(List.of(Events.finished(r.getActivate()), Events.cleanupDone(r.getHost())),
              st -> send(st, Step.CONFIRM));
      case PAGES_COMPLETE -> coordinator.persistThen(
          List.of(Events.postcopyCompleted(r.getPagesComplete()), Events.cleanupDone(r.getHost())), st -> {
            ctx.getLog().info("{}: postcopy complete: {} pages over {} connection(s), {} duplicates, {} faults "
                + "(median {} us, p99 {} us); destroying the source", st.migrationId(),
                r.getPagesComplete().getPagesReceived(), r.getPagesComplete().getConnections(),
                r.getPagesComplete().getDuplicatePages(), r.getPagesComplete().getFaults(),
                r.getPagesComplete().getFaultMedianUs(), r.getPagesComplete().getFaultP99Us());
            send(st, Step.CONFIRM);
          });
      case CONFIRM -> {
        long downtime = s.activate().getRunningAtEpochUs() - s.stunnedAtUs();
        yield coordinator.persistThen(List.of(Events.confirmed(r.getConfirm()), Events.cleanupDone(r.getHost()),
            Events.completed(downtime, s.activate().getRunningAtEpochUs())), st -> ctx.getLog().info(
            "{}: completed; guest {} runs on {}; downtime {} ms", st.migrationId(), st.guestId(),
            st.destinationHost(), downtime / 1000.0));
      }
      case DISCARD -> coordinator.noEffect();
    };
  }

  /** Finish answered (with Perform's answer in hand): persist the switchover and the owner, or roll back. */
  private ReplyEffect<CoordinatorEvent, MigrationState> onFinished(MigrationState s, HostReply r) {
    List<CoordinatorEvent> events = new ArrayList<>();
    if (performed != null && s.perform() == null) {
      events.add(Events.switchoverStarted(performed.getStunnedAtEpochUs()));
      events.add(Events.performed(performed));
    }
    if (!r.getFinish().getComplete()) {
      String why = (sourceFailure == null ? "" : sourceFailure + "; ") + "finish on " + r.getHost()
          + ": copy incomplete: " + r.getFinish().getReason();
      ctx.getLog().warn("{}: failed in FINISH: {}", s.migrationId(), why);
      events.add(Events.rollback(current(s), why, false));
      return coordinator.persistThen(events, this::rollback);
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
        send(st, Step.CONFIRM);
      });
    }
    long decided = System.nanoTime();
    if (!r.getFinish().getPostcopy() && switchoverMarked(s)) {
      // The marker is in the journal, so any later incarnation treats Activate as possibly sent:
      // it goes now, and the ownership write follows it instead of sitting in the downtime.
      MigrationState owned = s;
      for (CoordinatorEvent e : events) owned = owned.apply(e);
      activateSent = true;
      send(owned, Step.ACTIVATE);
      return coordinator.persistThen(events, st -> ctx.getLog().info("{}: destination owns the guest; activated on {} "
          + "before the journal write ({} us) completed", st.migrationId(), st.destinationHost(),
          (System.nanoTime() - decided) / 1000));
    }
    return coordinator.persistThen(events, st -> {
      ctx.getLog().info("{}: destination owns the guest (journal write {} us); activating on {}", st.migrationId(),
          (System.nanoTime() - decided) / 1000, st.destinationHost());
      send(st, Step.ACTIVATE);
      if (st.inPostcopy()) postcopy.replayReports(ctx.getSelf());
    });
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> onRollbackAnswer(MigrationState s, Step step, HostReply r) {
    if (step != Step.CONFIRM && step != Step.DISCARD) return coordinator.noEffect();
    if (!r.getOk()) {
      ctx.getLog().error("{}: rollback {} on {} answered with an error: {}", s.migrationId(), step, r.getHost(),
          r.getError());
    }
    List<CoordinatorEvent> events = new ArrayList<>();
    events.add(Events.cleanupDone(r.getHost()));
    String other = step == Step.CONFIRM ? s.destinationHost() : s.sourceHost();
    if (s.cleanedUp().contains(other)) {
      String sourceState = step == Step.CONFIRM && r.getConfirm().getSourceRunning() ? "; source guest running" : "";
      events.add(Events.failed(s, s.failedPhase() + ": " + s.error() + sourceState));
    }
    return coordinator.persistThen(events, st -> {
      if (st.ended()) ctx.getLog().warn("{}: {} in {}: {}", st.migrationId(), st.status(), st.failedPhase(), st.error());
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
    return activateSent || s.resumeOwner() == ResumeOwner.DESTINATION || (switchoverMarked(s) && !switchoverMarkedHere);
  }

  /** The source stuns next, or its rounds come within twice the limit, or it throttles the guest. */
  private static boolean switchoverNear(MigrationState s, ProgressReport p) {
    return p.getStunning() || p.getRound().getThrottlePercent() > 0
        || p.getRound().getExpectedDowntimeMs() <= 2 * s.parameters().getDowntimeLimitMs();
  }

  static boolean switchoverMarked(MigrationState s) {
    return s.stunnedAtUs() != 0;
  }

  /**
   * The source failed Perform, or left, after the destination may have been told to run on
   * completion: the guest may already run there (the copy can be whole though the source's
   * answer is an error), so the destination's Finish answer decides, not this failure.
   */
  private ReplyEffect<CoordinatorEvent, MigrationState> awaitFinish(MigrationState s, String why) {
    ctx.getLog().error("{}: {}; the destination may run the guest once its copy is whole: its Finish answer decides",
        s.migrationId(), why);
    sourceFailure = why;
    timers.cancel(Step.PERFORM);
    if (finishedEarly != null) {
      HostReply f = finishedEarly;
      finishedEarly = null;
      return f.getOk() ? onFinished(s, f) : fail(s, f.getHost() + " failed FINISH: " + f.getError());
    }
    if (finishAskedEarly) armTimer(s, Step.FINISH);
    else send(s, Step.FINISH);
    return coordinator.noEffect();
  }

  /** A failure before the destination owns the guest: the source resumes. */
  ReplyEffect<CoordinatorEvent, MigrationState> fail(MigrationState s, String failure) {
    String reason = sourceFailure == null ? failure : sourceFailure + "; " + failure;
    if (s.inPostcopy()) return postcopy.failed(s, reason);
    if (s.resumeOwner() == ResumeOwner.DESTINATION && s.activate() != null) {
      // The guest already runs on the destination; only the source's Confirm is left.
      ctx.getLog().error("{}: after switchover: {}; the destination keeps the guest", s.migrationId(), reason);
      return coordinator.persistThen(List.of(Events.confirmed(),
          Events.completed(s.activate().getRunningAtEpochUs() - s.stunnedAtUs(), s.activate().getRunningAtEpochUs())),
          st -> {});
    }
    MigrationState at = current(s);
    ctx.getLog().warn("{}: failed in {}: {}", s.migrationId(), at.phase(), reason);
    return coordinator.persistThen(List.of(Events.rollback(at, reason, false)), this::rollback);
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onProgress(MigrationState s, ProgressReport p) {
    if (s.ended() || s.rollingBack() || p.getEpoch() != s.epoch()) return coordinator.noEffect();
    lastProgress = p;
    if (timers.isTimerActive(Step.PERFORM)) {
      timers.startSingleTimer(Step.PERFORM, new MigrationCoordinator.StepTimedOut(Step.PERFORM, s.epoch()),
          settings.performSilenceTimeout());
    }
    switchover.hopSampled(p.getSentAtEpochUs());
    boolean stun = p.getSwitchover() || p.getStunning();
    if (stun && (switchoverMarked(s) || !p.getRoundDone())) askFinishEarly(s);
    if (!p.getRoundDone()) return coordinator.noEffect(); // a live sample: shown, not persisted
    if (!switchoverMarked(s) && switchoverNear(s, p)) {
      // The switchover marker: with it in the journal, Finish tells the destination to run as
      // soon as its copy is whole (see mayHaveActivated). Written as soon as a switchover is near,
      // while rounds still run, so that at the stun nothing waits for it; at the latest with the
      // last round's report, and then Finish goes once it is written.
      switchoverMarkedHere = true;
      long at = p.getSentAtEpochUs() > 0 ? p.getSentAtEpochUs() : org.livemig.engine.host.EpochMicros.now(); // 0 = unmarked
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
   * The source is stunning the guest (its last round's report) or has stunned it: Finish goes to
   * the destination now, ahead of the switchover marker's journal write, so that the question
   * and its answer travel while the stun and the last pages do. No timer yet: the destination
   * waits for its channels' end of stream as long as pages keep arriving; the timer starts with
   * Perform's answer.
   */
  private void askFinishEarly(MigrationState s) {
    ActorRef<HostAgent.Command> destination = hosts.agent(s.destinationHost());
    if (finishAskedEarly || performed != null || destination == null || !timers.isTimerActive(Step.PERFORM)) return;
    finishAskedEarly = true;
    destination.tell(new HostAgent.Control(finishCommand(s), ctx.getSelf()));
  }

  void journalWriteSampled(long nanos) {
    switchover.journalWriteSampled(nanos);
  }

  /** Tells the running source how long the control path of its switchover is likely to take, when that moved. */
  private void pushEstimate(MigrationState s) {
    long overheadMs = switchover.estimateToPush(switchoverMarked(s));
    if (overheadMs > 0) {
      tellSource(s, org.livemig.messages.SetParametersRequest.newBuilder().setSwitchoverOverheadMs(overheadMs));
    }
  }

  /** Set-parameters is not a phase step: told to the source as it is, no timer, no answer awaited. */
  private void tellSource(MigrationState s, org.livemig.messages.SetParametersRequest.Builder request) {
    tellSource(s, HostCommand.newBuilder().setSetParameters(request));
  }

  /**
   * A command that is not a phase step (set-parameters, recover): told to the source as it is, no
   * timer, no answer awaited. Returns false when the source's agent is not known (yet).
   */
  void tellSource(MigrationState s, HostCommand.Builder command) {
    HostCommand cmd = command.setMigrationId(s.migrationId()).setEpoch(s.epoch()).build();
    ActorRef<HostAgent.Command> source = hosts.agent(s.sourceHost());
    if (source != null) {
      source.tell(new HostAgent.Control(cmd, ctx.getSelf()));
    } else if (cmd.hasRecover()) {
      // After a takeover the source may not be known yet: the recovery goes out once it is found.
      hosts.awaitHost(s.sourceHost(), cmd);
    }
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onTimeout(MigrationState s, Step step, long epoch) {
    if (epoch != s.epoch() || s.ended()) return coordinator.noEffect();
    if (step == Step.PAGES_COMPLETE) {
      // Postcopy is never timed out: a paused one waits for a recovery, however long.
      ctx.getLog().info("{}: postcopy {}: {} pages missing{}", s.migrationId(), s.status(), postcopy.pagesMissing(s),
          s.postcopy().pausedReason().isEmpty() ? "" : " (" + s.postcopy().pausedReason() + ")");
      armTimer(s, step);
      return coordinator.noEffect();
    }
    String host = step.host(s);
    String why = "host " + host + " did not answer " + step + " within "
        + (step == Step.PERFORM ? settings.performSilenceTimeout() : settings.stepTimeout());
    if (s.rollingBack()) {
      // The host is gone or mute; its copy never got ownership, so the rollback ends here.
      ctx.getLog().error("{}: rollback: {}", s.migrationId(), why);
      return coordinator.persistThen(List.of(Events.failed(s, s.failedPhase() + ": " + s.error() + "; " + why)), st -> {});
    }
    if (!s.inPostcopy() && mayHaveActivated(s) && s.activate() == null) {
      // Silence is no answer: the destination may run the guest, so resuming the source could
      // leave two running. The source is not resumed and the host is asked again.
      ctx.getLog().error("{}: {}; the switchover's outcome is unknown (the destination may already run the guest): "
          + "the source is not resumed, asking again", s.migrationId(), why);
      send(s, step);
      return coordinator.noEffect();
    }
    return fail(s, why);
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onHostFound(MigrationState s, String host,
      ActorRef<HostAgent.Command> agent) {
    HostLookup.Outcome outcome = hosts.found(host, agent);
    if (outcome instanceof HostLookup.Found found) {
      for (Step st : found.steps()) send(s, st);
    } else if (outcome instanceof HostLookup.GaveUp gaveUp) {
      if (s.rollingBack()) {
        return coordinator.persistThen(List.of(Events.failed(s, s.failedPhase() + ": " + s.error() + "; "
            + gaveUp.why())), st -> {});
      }
      if (!s.ended()) return fail(s, gaveUp.why());
    }
    return coordinator.noEffect();
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onHostLost(MigrationState s, String host) {
    hosts.lost(host);
    if (s.ended()) return coordinator.noEffect();
    if (s.inPostcopy()) return postcopy.hostLost(s, host);
    for (Step st : Step.values()) {
      if (st.host(s).equals(host) && timers.isTimerActive(st)) {
        timers.cancel(st);
        ctx.getLog().warn("{}: host {} left the cluster while {} was pending", s.migrationId(), host, st);
        if (s.rollingBack()) return onTimeout(s, st, s.epoch());
        if (st == Step.PERFORM && mayHaveActivated(s)) {
          return awaitFinish(s, "host " + host + " left the cluster while PERFORM was pending");
        }
        // Its guests went with it: a definite answer, unlike silence.
        return fail(s, "host " + host + " left the cluster while " + st + " was pending");
      }
    }
    return coordinator.noEffect();
  }

  /** The source of a running precopy takes the new limits (a later Perform carries them anyway). */
  void pushParameters(MigrationState s) {
    if (s.phase() != org.livemig.messages.Phase.PERFORM) return;
    tellSource(s, org.livemig.messages.SetParametersRequest.newBuilder()
        .setMaxBandwidthBytesPerSecond(s.parameters().getMaxBandwidthBytesPerSecond())
        .setDowntimeLimitMs(s.parameters().getDowntimeLimitMs())
        .setStartPostcopy(s.parameters().getPostcopyNow()));
  }

  void onLocate(String host) {
    hosts.retry(host);
  }

  ReplyEffect<CoordinatorEvent, MigrationState> onResend(MigrationState s, Step step) {
    if (!s.ended()) send(s, step);
    return coordinator.noEffect();
  }

  /** Finish's command; one that runs the destination on completion counts as Activate sent. */
  private HostCommand finishCommand(MigrationState s) {
    HostCommand finish = Step.FINISH.command(s);
    if (finish.getFinish().getActivateWhenComplete()) activateSent = true;
    return finish;
  }

  private void armTimer(MigrationState s, Step step) {
    Duration timeout = step == Step.PERFORM ? settings.performSilenceTimeout() : settings.stepTimeout();
    timers.startSingleTimer(step, new MigrationCoordinator.StepTimedOut(step, s.epoch()), timeout.plus(
        settings.hostLookupTimeout()));
  }

  private void send(MigrationState s, Step step) {
    armTimer(s, step);
    ActorRef<HostAgent.Command> agent = hosts.agent(step.host(s));
    if (agent == null) {
      hosts.awaitHost(step.host(s), step); // sent again once found
      return;
    }
    agent.tell(new HostAgent.Control(step == Step.FINISH ? finishCommand(s) : step.command(s), ctx.getSelf()));
    if (step == Step.PERFORM) pushEstimate(s); // the first round may already converge
  }

  /** The state as the hosts see it: in FINISH once Perform answered, even before that is persisted. */
  MigrationState current(MigrationState s) {
    return performed != null && s.perform() == null && !s.rollingBack()
        ? s.withPhase(org.livemig.messages.Phase.FINISH) : s;
  }

  MigrationInfo info(MigrationState s) {
    MigrationInfo i = postcopy.live(StatusView.info(s, lastProgress), s);
    if (performed != null && s.perform() == null && !s.ended() && !s.rollingBack()) {
      // Perform answered, Finish pending: the guest is stunned, its result not yet persisted.
      return i.toBuilder().setPhase(org.livemig.messages.Phase.FINISH)
          .setStatus(org.livemig.messages.MigrationStatus.DEVICE).build();
    }
    return i;
  }
}
