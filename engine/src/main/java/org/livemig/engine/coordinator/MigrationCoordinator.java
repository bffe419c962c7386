package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandlerWithReply;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import akka.persistence.typed.javadsl.ReplyEffect;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.CommandReply;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.HostCommand;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.Refusal;
import org.livemig.messages.StartMigration;

/**
 * One per migration, event-sourced and run under Cluster Sharding (entity id = migration id).
 * Drives libvirt's phases Begin -> Prepare -> Perform -> Finish -> Confirm over the host agents.
 * What to do is decided by plain functions (Phases, Switchover, PostcopyRules, OperatorCommands,
 * with the ownership rules in Ownership); this actor is the only place that persists their
 * events and, once written, sends their commands. Who resumes the guest (ResumeOwnerChosen) is
 * persisted before any host is told to run it.
 */
public final class MigrationCoordinator
    extends EventSourcedBehaviorWithEnforcedReplies<MigrationCoordinator.Command, CoordinatorEvent, MigrationState> {

  public interface Command {}

  public record Start(StartMigration request, ActorRef<CommandReply> replyTo) implements Command, LivemigMessage {}

  public record GetStatus(ActorRef<MigrationInfo> replyTo) implements Command, LivemigMessage {}

  /** powerOff: the source stops the guest for good instead of resuming it. */
  public record Cancel(String reason, boolean powerOff, ActorRef<CommandReply> replyTo) implements Command, LivemigMessage {}

  /** New limits for a running migration; a zero field keeps the current value. */
  public record SetParameters(long maxBandwidthBytesPerSecond, long downtimeLimitMs, ActorRef<CommandReply> replyTo)
      implements Command, LivemigMessage {}

  /** Switch a running precopy to postcopy at the end of its current round. */
  public record StartPostcopy(ActorRef<CommandReply> replyTo) implements Command, LivemigMessage {}

  /** Recover a paused postcopy over a new channel; dataHost empty / dataPort 0 = the Prepare endpoint. */
  public record Recover(String dataHost, int dataPort, ActorRef<CommandReply> replyTo)
      implements Command, LivemigMessage {}

  /** A host's answer or report, adapted (public for tools that stand in for hosts: the replay benchmark). */
  public record FromHost(HostAgent.Reply reply) implements Command {}

  /** Admission control's answer to this coordinator's request or release. */
  public record FromAdmission(AdmissionControl.Answer answer) implements Command {}

  /** Queued: ask admission control again (a grant may be lost with its node); ended: re-send the release. */
  enum AdmissionRetry implements Command { INSTANCE }

  record StepTimedOut(Step step, long epoch) implements Command {}

  record HostFound(String host, ActorRef<HostAgent.Command> agent) implements Command {}

  record HostLost(String host) implements Command {}

  record Resend(Step step) implements Command {}

  record Locate(String host) implements Command {}

  /** This incarnation replayed a migration that had not ended: take over with a new epoch. */
  enum Recovered implements Command { INSTANCE }

  /** The shard's stop message: sent back by the shard once this entity asked to passivate. */
  public enum Passivate implements Command { INSTANCE }

  enum Idle implements Command { INSTANCE } // ended and idle: ask the shard to passivate this entity

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Migration");

  /** Starts sharding of coordinators on this node (role "coordinator" hosts the entities). */
  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ec -> create(ec.getEntityId(), ec.getShard()))
        .withRole("coordinator").withStopMessage(Passivate.INSTANCE));
    // Every node, so that the singleton can run on any coordinator node (the others hand it over).
    AdmissionControl.init(system);
    MigrationListView.get(system).backfill(); // on coordinator nodes: rows for journals from before the list
  }

  /** shard may be null when the coordinator runs outside sharding (tests). */
  public static Behavior<Command> create(String migrationId, ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.withMdc(Command.class, Map.of("migrationId", migrationId),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
            new MigrationCoordinator(ctx, timers, migrationId, shard))));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final CoordinatorSettings settings;
  private final String migrationId;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorRef<HostAgent.Reply> hostReplies;
  private final HostLookup hosts;
  private final EventPublisher publisher;
  private final Unpersisted unpersisted = new Unpersisted();
  private final Outbox outbox;
  private final AdmissionSlot admission;
  private final Listing listing;

  private MigrationCoordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, String migrationId,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    // A journal that cannot be written stops this incarnation; the next one replays and takes
    // over with a new epoch, so no decision is ever acted on unpersisted.
    super(PersistenceId.of(TYPE_KEY.name(), migrationId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.migrationId = migrationId;
    this.shard = shard;
    this.settings = CoordinatorSettings.fromConfig(ctx.getSystem().settings().config());
    this.hostReplies = ctx.messageAdapter(HostAgent.Reply.class, FromHost::new);
    this.hosts = new HostLookup(ctx, timers, settings);
    this.publisher = new EventPublisher(ctx.getSystem());
    this.outbox = new Outbox(ctx, timers, settings, migrationId, hostReplies, hosts, unpersisted);
    this.admission = new AdmissionSlot(ctx, timers, migrationId);
    this.listing = new Listing(ctx, timers);
  }

  @Override
  public MigrationState emptyState() {
    return MigrationState.EMPTY;
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(settings.snapshotEvery(), 2);
  }

  @Override
  public SignalHandler<MigrationState> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> {
          // After a journal failure the same actor replays again, its timers cancelled by the
          // restart: what it kept unpersisted goes, as at a takeover (see Unpersisted).
          unpersisted.reset();
          hosts.timersLost();
          listing.changed(state, lastSequenceNumber(ctx)); // a crash may have come before the last row's write
          // Signal handlers cannot persist: the takeover is a command, handled before anything new.
          if (state.started() && !state.ended()) ctx.getSelf().tell(Recovered.INSTANCE);
          if (state.ended()) {
            outbox.execute(state, Phases.endNotices(state, unpersisted).afterWrite);
            admission.release(); // its release may not have been acknowledged before this incarnation
            passivateLater();
          }
        })
        // Passivated, handed off or the node stopping: this node no longer runs it.
        .onSignal(akka.actor.typed.PostStop.instance(), state -> publisher.stopped(migrationId))
        .build();
  }

  @Override
  public CommandHandlerWithReply<Command, CoordinatorEvent, MigrationState> commandHandler() {
    Unpersisted u = unpersisted;
    var b = newCommandHandlerWithReplyBuilder();
    b.forState(s -> !s.started())
        .onCommand(Start.class, (s, c) -> admission.enabled()
            ? startQueued(OperatorCommands.start(migrationId, c.request(), settings, u, true), c.replyTo())
            : answer(s, OperatorCommands.start(migrationId, c.request(), settings, u, false), c.replyTo(),
                this::started))
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), info(s)))
        .onCommand(Cancel.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.unknown(migrationId)))
        .onCommand(SetParameters.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.unknown(migrationId)))
        .onCommand(StartPostcopy.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.unknown(migrationId)))
        .onCommand(Recover.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.unknown(migrationId)))
        .onCommand(Passivate.class, (s, c) -> Effect().stop().thenNoReply()) // an unknown id's entity: handoff
        .onAnyCommand((s, c) -> Effect().noReply());
    b.forState(MigrationState::ended)
        .onCommand(Start.class, (s, c) -> answer(s, OperatorCommands.startAgain(s, c.request(), u), c.replyTo(),
            st -> {}))
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), info(s)))
        .onCommand(Cancel.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.ended(s)))
        .onCommand(SetParameters.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.ended(s)))
        .onCommand(StartPostcopy.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.ended(s)))
        .onCommand(Recover.class, (s, c) -> refuse(c.replyTo(), OperatorCommands.ended(s)))
        .onCommand(Passivate.class, (s, c) -> Effect().stop().thenNoReply())
        // Released: acknowledged; a late grant: the slot goes back at once.
        .onCommand(FromAdmission.class, (s, c) -> only(c.answer().kind() == AdmissionControl.Kind.RELEASED
            ? admission::released : admission::release))
        .onCommand(AdmissionRetry.class, (s, c) -> only(admission::releaseAgain))
        .onCommand(Listing.Command.class, (s, c) -> only(() -> listing.on(c)))
        .onCommand(Idle.class, (s, c) -> {
          // the settled notice still looks for its host, the slot's release is unacknowledged, or the row unwritten
          if (hosts.commandsWaiting() || admission.releasing() || listing.behind()) passivateLater();
          else if (shard != null) shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
          return Effect().noReply();
        })
        // Ended, but a command that must arrive (the settled notice) may still wait for its host's lookup.
        .onCommand(HostFound.class, this::onHostFound)
        .onCommand(Locate.class, this::onLocate)
        .onAnyCommand((s, c) -> Effect().noReply());
    // Queued: no host has heard of it; the other commands are handled as in any state.
    b.forState(MigrationState::queued)
        // Nothing to take over from the hosts: no new epoch until Begin needs one.
        .onCommand(Recovered.class, (s, c) -> only(() -> admission.request(s)))
        .onCommand(AdmissionRetry.class, (s, c) -> only(() -> {
          admission.answerStarts(info(s)); // no answer within a retry: the start is queued
          admission.request(s);
        }))
        .onCommand(FromAdmission.class, this::onAdmission)
        .onCommand(Cancel.class, (s, c) -> answer(s, OperatorCommands.cancelQueued(s, u, c.reason()), c.replyTo(),
            this::published));
    b.forAnyState()
        .onCommand(Recovered.class, this::onRecovered)
        .onCommand(FromAdmission.class, (s, c) -> Effect().noReply()) // a repeated grant: admitted already
        .onCommand(AdmissionRetry.class, (s, c) -> Effect().noReply())
        .onCommand(Listing.Command.class, (s, c) -> only(() -> listing.on(c)))
        .onCommand(Passivate.class, (s, c) -> Effect().stop().thenNoReply())
        .onCommand(Start.class, (s, c) -> answer(s, OperatorCommands.startAgain(s, c.request(), u), c.replyTo(),
            st -> {}))
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), info(s)))
        .onCommand(Cancel.class, (s, c) -> answer(s, OperatorCommands.cancel(s, u, c.reason(), c.powerOff()), c.replyTo(),
            this::published))
        .onCommand(SetParameters.class, (s, c) -> answer(s, OperatorCommands.setParameters(s, u,
            c.maxBandwidthBytesPerSecond(), c.downtimeLimitMs()), c.replyTo(), st -> {}))
        .onCommand(StartPostcopy.class, (s, c) -> answer(s, OperatorCommands.startPostcopy(s, u), c.replyTo(),
            st -> {}))
        .onCommand(Recover.class, (s, c) -> answer(s, OperatorCommands.recover(s, u, c.dataHost(), c.dataPort()),
            c.replyTo(), this::published))
        .onCommand(FromHost.class, this::fromHost)
        .onCommand(StepTimedOut.class, (s, c) -> {
          if (c.epoch() != s.epoch() || !u.awaiting.contains(c.step())) return Effect().noReply();
          u.timerFired(c.step());
          return act(s, Phases.onTimeout(s, u, c.step(), settings));
        })
        .onCommand(HostFound.class, this::onHostFound)
        .onCommand(HostLost.class, (s, c) -> {
          hosts.lost(c.host());
          u.lost(c.host());
          return act(s, Phases.onHostLost(s, u, c.host(), settings));
        })
        .onCommand(Resend.class, (s, c) -> {
          if (!s.ended()) outbox.send(s, c.step());
          return Effect().noReply();
        })
        .onCommand(Locate.class, this::onLocate);
    return b.build();
  }

  /** A command that only acts here, persisting and answering nothing. */
  private ReplyEffect<CoordinatorEvent, MigrationState> only(Runnable action) {
    action.run();
    return Effect().noReply();
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> onLocate(MigrationState s, Locate c) {
    hosts.retry(c.host());
    return Effect().noReply();
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> fromHost(MigrationState s, FromHost c) {
    Unpersisted u = unpersisted;
    if (c.reply() instanceof HostAgent.Answered a) {
      return s.ended() ? Effect().noReply() : act(s, Phases.onReply(s, u, a.reply()));
    }
    ReplyEffect<CoordinatorEvent, MigrationState> effect = c.reply() instanceof HostAgent.ProgressReported p
        ? act(s, Phases.onProgress(s, u, p.report(), settings.roundRecordInterval().toNanos()))
        : act(s, PostcopyRules.onReport(s, u, ((HostAgent.PostcopyReported) c.reply()).report()));
    if (!s.ended()) publisher.progress(info(s));
    return effect;
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> onHostFound(MigrationState s, HostFound c) {
    HostLookup.Outcome outcome = hosts.found(c.host(), c.agent());
    if (outcome instanceof HostLookup.Found found) {
      unpersisted.found(c.host());
      for (HostCommand command : found.commands()) outbox.tell(found.agent(), command);
      if (!s.ended()) for (Step st : found.steps()) outbox.send(s, st);
    } else if (outcome instanceof HostLookup.GaveUp gaveUp && !s.ended()) {
      return act(s, Phases.onHostNotFound(s, unpersisted, gaveUp.steps(), gaveUp.why(), gaveUp.notInCluster()));
    }
    return Effect().noReply();
  }

  /** The start is persisted: Begin goes out, or the migration asks for an admission slot first. */
  private void started(MigrationState st) {
    if (st.queued()) admission.request(st);
    else outbox.execute(st, Phases.start(st, unpersisted).afterWrite);
    published(st);
  }

  /** Granted: persisted once, then Begin goes out exactly as for a migration that never queued. */
  private ReplyEffect<CoordinatorEvent, MigrationState> onAdmission(MigrationState s, FromAdmission c) {
    if (c.answer().kind() != AdmissionControl.Kind.GRANTED) return only(() -> {
      admission.answerStarts(info(s));
      if (c.answer().kind() == AdmissionControl.Kind.RELEASED) admission.request(s); // lost there: ask again
    });
    admission.granted();
    return Effect().persist(Events.admitted()).thenRun(st -> {
      started(st);
      admission.answerStarts(info(st));
    }).thenNoReply();
  }

  /** Persisted, then answered when admission control says queued or granted (see AdmissionSlot). */
  private ReplyEffect<CoordinatorEvent, MigrationState> startQueued(OperatorCommands.Outcome o,
      ActorRef<CommandReply> replyTo) {
    if (o.refusal() != null) return refuse(replyTo, o.refusal());
    admission.answerStartLater(replyTo);
    return Effect().persist(o.decision().events).thenRun(this::started).thenNoReply();
  }

  /**
   * Takeover after a crash, with a new epoch (hosts refuse the old one); Ownership decides
   * whether to roll back, and the journal's pending step is re-sent.
   */
  private ReplyEffect<CoordinatorEvent, MigrationState> onRecovered(MigrationState s, Recovered c) {
    long epoch = s.epoch() + 1;
    boolean rollback = Ownership.rollBackOnTakeover(s, settings.continuePerformAfterRestart());
    Decision d = new Decision(unpersisted).persist(Events.restarted(epoch, s.phase()));
    if (rollback) d.persist(Events.rollback(s, "coordinator restarted in " + s.phase() + "; rolled back", false));
    ctx.getLog().warn("{}: coordinator took over in {} with epoch {}{}", migrationId, s.phase(), epoch,
        rollback ? "; rolling back" : "");
    return Effect().persist(d.events).thenRun(st -> {
      outbox.execute(st, Phases.resume(st, unpersisted).afterWrite);
      published(st);
    }).thenNoReply();
  }

  /** An operator's command: refused (nothing changes), or persisted and then answered with the status. */
  private ReplyEffect<CoordinatorEvent, MigrationState> answer(MigrationState s, OperatorCommands.Outcome o,
      ActorRef<CommandReply> replyTo, Consumer<MigrationState> then) {
    if (o.refusal() != null) return refuse(replyTo, o.refusal());
    Decision d = o.decision();
    if (d.events.isEmpty()) {
      outbox.execute(s, d.actions());
      return Effect().reply(replyTo, CommandReply.newBuilder().setInfo(info(s)).build());
    }
    outbox.execute(s, d.beforeWrite);
    return Effect().persist(d.events).thenRun(st -> {
      outbox.execute(st, d.afterWrite);
      then.accept(st);
    }).thenReply(replyTo, st -> CommandReply.newBuilder().setInfo(info(st)).build());
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> refuse(ActorRef<CommandReply> replyTo, Refusal refusal) {
    return Effect().reply(replyTo, CommandReply.newBuilder().setRefusal(refusal).build());
  }

  /** Persist, then act: nothing is sent on an unpersisted decision, save what it marks safe to send before. */
  private ReplyEffect<CoordinatorEvent, MigrationState> act(MigrationState s, Decision d) {
    if (d.events.isEmpty()) {
      outbox.execute(s, d.actions());
      return Effect().noReply();
    }
    MigrationState next = s;
    for (CoordinatorEvent e : d.events) next = next.apply(e);
    outbox.execute(next, d.beforeWrite);
    long started = System.nanoTime();
    return Effect().persist(d.events).thenRun(st -> {
      unpersisted.estimate.journalWriteSampled(System.nanoTime() - started);
      outbox.execute(st, d.afterWrite);
      published(st);
      if (st.ended()) passivateLater();
    }).thenNoReply();
  }

  private MigrationInfo info(MigrationState s) {
    return StatusView.info(s, unpersisted);
  }

  private void published(MigrationState st) {
    publisher.changed(info(st));
    listing.changed(st, lastSequenceNumber(ctx));
    if (!st.ended()) return;
    admission.answerStarts(info(st)); // cancelled before admission control answered its start
    admission.release(); // on every path to the end: completed, failed, cancelled
  }

  /** An ended migration's coordinator leaves memory (and the remembered entities) after a while. */
  private void passivateLater() {
    if (shard != null) timers.startSingleTimer("passivate", Idle.INSTANCE, settings.passivateAfterEnd());
  }

  @Override
  public EventHandler<MigrationState, CoordinatorEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(MigrationState::apply);
  }
}
