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
 * runs the phase timers, and turns host answers into the next persisted decision; the precopy
 * switchover's part (the marker, Finish asked early, Perform and Finish joined) is Switchover's.
 * It keeps only what is safe to lose in a crash (host refs, the last progress sample);
 * everything that decides anything is in MigrationState.
 */
final class PhaseDriver {
  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final CoordinatorSettings settings;
  private final MigrationCoordinator coordinator;
  private final ActorRef<akka.cluster.sharding.typed.javadsl.ClusterSharding.ShardCommand> shard;
  private final HostLookup hosts;
  private final Switchover switchover;
  private ProgressReport lastProgress;
  private final PostcopyDriver postcopy;

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
    this.switchover = new Switchover(ctx, timers, settings, coordinator, this, hosts);
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
    if (switchover.holdsEarlyFinish(s, step, r)) return coordinator.noEffect();
    if (!timers.isTimerActive(step)) {
      ctx.getLog().debug("{}: late or repeated answer to {} ignored", s.migrationId(), step);
      return coordinator.noEffect();
    }
    timers.cancel(step);
    if (s.rollingBack()) return onRollbackAnswer(s, step, r);
    if (!r.getOk()) {
      String why = r.getHost() + " failed " + step + ": " + r.getError();
      return step == Step.PERFORM && mayHaveActivated(s) ? switchover.sourceFailed(s, why) : fail(s, why);
    }
    return switch (step) {
      case BEGIN -> coordinator.persistThen(List.of(Events.begun(r.getBegin())), st -> send(st, Step.PREPARE));
      case PREPARE -> coordinator.persistThen(List.of(Events.prepared(r.getPrepare())), st -> send(st, Step.PERFORM));
      case PERFORM -> switchover.onPerformed(s, r);
      case FINISH -> switchover.onFinished(s, r);
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

  /** A failure before the destination owns the guest: the source resumes. */
  ReplyEffect<CoordinatorEvent, MigrationState> fail(MigrationState s, String failure) {
    String reason = switchover.withSourceFailure(failure);
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
    return switchover.onProgress(s, p);
  }

  void journalWriteSampled(long nanos) {
    switchover.journalWriteSampled(nanos);
  }

  /** See Switchover.mayHaveActivated. */
  boolean mayHaveActivated(MigrationState s) {
    return switchover.mayHaveActivated(s);
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
          return switchover.sourceFailed(s, "host " + host + " left the cluster while PERFORM was pending");
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

  void armTimer(MigrationState s, Step step) {
    Duration timeout = step == Step.PERFORM ? settings.performSilenceTimeout() : settings.stepTimeout();
    timers.startSingleTimer(step, new MigrationCoordinator.StepTimedOut(step, s.epoch()), timeout.plus(
        settings.hostLookupTimeout()));
  }

  void send(MigrationState s, Step step) {
    armTimer(s, step);
    ActorRef<HostAgent.Command> agent = hosts.agent(step.host(s));
    if (agent == null) {
      hosts.awaitHost(step.host(s), step); // sent again once found
      return;
    }
    agent.tell(new HostAgent.Control(step == Step.FINISH ? switchover.finishCommand(s) : step.command(s), ctx.getSelf()));
    if (step == Step.PERFORM) switchover.pushEstimate(s); // the first round may already converge
  }

  /** The state as the hosts see it: in FINISH once Perform answered, even before that is persisted. */
  MigrationState current(MigrationState s) {
    return switchover.current(s);
  }

  MigrationInfo info(MigrationState s) {
    MigrationInfo i = postcopy.live(StatusView.info(s, lastProgress), s);
    if (switchover.stunned(s)) {
      // Perform answered, Finish pending: the guest is stunned, its result not yet persisted.
      return i.toBuilder().setPhase(org.livemig.messages.Phase.FINISH)
          .setStatus(org.livemig.messages.MigrationStatus.DEVICE).build();
    }
    return i;
  }
}
