package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.pattern.StatusReply;
import akka.actor.typed.SupervisorStrategy;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandlerWithReply;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import akka.persistence.typed.javadsl.ReplyEffect;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import com.typesafe.config.Config;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.livemig.engine.serialization.LivemigMessage;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.StartMigration;

/**
 * One per migration, event-sourced and run under Cluster Sharding (entity id = migration id).
 * Drives libvirt's phases Begin -> Prepare -> Perform -> Finish -> Confirm over the host
 * actors. Every decision is an event persisted before it is acted on; who resumes the guest
 * (ResumeOwnerChosen) is decided durably before any host is told to run it.
 */
public final class MigrationCoordinator
    extends EventSourcedBehaviorWithEnforcedReplies<MigrationCoordinator.Command, CoordinatorEvent, MigrationState> {

  public interface Command {}

  public record Start(StartMigration request, ActorRef<StatusReply<MigrationInfo>> replyTo)
      implements Command, LivemigMessage {}

  public record GetStatus(ActorRef<MigrationInfo> replyTo) implements Command, LivemigMessage {}

  public record Cancel(String reason, ActorRef<StatusReply<MigrationInfo>> replyTo) implements Command, LivemigMessage {}

  /** New limits for a running migration; a zero field keeps the current value. */
  public record SetParameters(long maxBandwidthBytesPerSecond, long downtimeLimitMs,
      ActorRef<StatusReply<MigrationInfo>> replyTo) implements Command, LivemigMessage {}

  /** Switch a running precopy to postcopy at the end of its current round. */
  public record StartPostcopy(ActorRef<StatusReply<MigrationInfo>> replyTo) implements Command, LivemigMessage {}

  /**
   * Recover a paused postcopy over a new channel; dataHost empty / dataPort 0 = the destination's
   * data endpoint from Prepare.
   */
  public record Recover(String dataHost, int dataPort, ActorRef<StatusReply<MigrationInfo>> replyTo)
      implements Command, LivemigMessage {}

  /** A host's side of postcopy changed state. */
  public record PostcopyReported(org.livemig.messages.PostcopyReport report) implements Command, LivemigMessage {}

  /** A host's answer to a phase command. */
  public record HostReplied(HostReply reply) implements Command, LivemigMessage {}

  /** The source's report after each precopy round. */
  public record ProgressReported(ProgressReport report) implements Command, LivemigMessage {}

  record StepTimedOut(Step step, long epoch) implements Command {}

  record HostFound(String host, ActorRef<org.livemig.engine.host.HostAgent.Command> agent) implements Command {}

  record HostLost(String host) implements Command {}

  record Resend(Step step) implements Command {}

  record Locate(String host) implements Command {}

  /** This incarnation replayed a migration that had not ended: take over with a new epoch. */
  enum Recovered implements Command { INSTANCE }

  /** The shard's stop message: sent back by the shard once this entity asked to passivate. */
  public enum Passivate implements Command { INSTANCE }

  /** Ended and idle: ask the shard to passivate this entity. */
  enum Idle implements Command { INSTANCE }

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Migration");

  /** Starts sharding of coordinators on this node (role "coordinator" hosts the entities). */
  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ec -> create(ec.getEntityId(), ec.getShard()))
        .withRole("coordinator").withStopMessage(Passivate.INSTANCE));
  }

  /** shard may be null when the coordinator runs outside sharding (tests). */
  public static Behavior<Command> create(String migrationId,
      ActorRef<akka.cluster.sharding.typed.javadsl.ClusterSharding.ShardCommand> shard) {
    return Behaviors.withMdc(Command.class, Map.of("migrationId", migrationId),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
            new MigrationCoordinator(ctx, timers, migrationId, shard))));
  }

  private final ActorContext<Command> ctx;
  private final CoordinatorSettings settings;
  private final String migrationId;
  private final PhaseDriver driver;
  private final EventPublisher publisher;

  private MigrationCoordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, String migrationId,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    // A journal that cannot be written stops this incarnation; the next one replays and takes
    // over with a new epoch, so no decision is ever acted on unpersisted.
    super(PersistenceId.of(TYPE_KEY.name(), migrationId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.migrationId = migrationId;
    Config config = ctx.getSystem().settings().config();
    this.settings = CoordinatorSettings.fromConfig(config);
    this.driver = new PhaseDriver(ctx, timers, settings, this, shard);
    this.publisher = new EventPublisher(ctx.getSystem());
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
          // Signal handlers cannot persist: the takeover is a command, handled before anything new.
          if (state.started() && !state.ended()) ctx.getSelf().tell(Recovered.INSTANCE);
          if (state.ended()) driver.passivateLater();
        })
        .build();
  }

  @Override
  public CommandHandlerWithReply<Command, CoordinatorEvent, MigrationState> commandHandler() {
    var b = newCommandHandlerWithReplyBuilder();
    b.forState(s -> !s.started())
        .onCommand(Start.class, this::onStart)
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), driver.info(s)))
        .onCommand(Cancel.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("unknown migration " + migrationId)))
        .onCommand(SetParameters.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("unknown migration " + migrationId)))
        .onCommand(StartPostcopy.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("unknown migration " + migrationId)))
        .onCommand(Recover.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("unknown migration " + migrationId)))
        .onAnyCommand((s, c) -> Effect().noReply());
    b.forState(MigrationState::ended)
        .onCommand(Start.class, this::onStartAgain)
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), driver.info(s)))
        .onCommand(Cancel.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("migration " + migrationId + " already ended: " + s.status())))
        .onCommand(SetParameters.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("migration " + migrationId + " already ended: " + s.status())))
        .onCommand(StartPostcopy.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("migration " + migrationId + " already ended: " + s.status())))
        .onCommand(Recover.class, (s, c) -> Effect().reply(c.replyTo(),
            StatusReply.error("migration " + migrationId + " already ended: " + s.status())))
        .onCommand(HostReplied.class, (s, c) -> Effect().noReply())
        .onCommand(Passivate.class, (s, c) -> Effect().stop().thenNoReply())
        .onCommand(Idle.class, (s, c) -> {
          driver.passivate();
          return Effect().noReply();
        })
        .onAnyCommand((s, c) -> Effect().noReply());
    b.forAnyState()
        .onCommand(Recovered.class, this::onRecovered)
        .onCommand(Passivate.class, (s, c) -> Effect().stop().thenNoReply())
        .onCommand(Start.class, this::onStartAgain)
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), driver.info(s)))
        .onCommand(Cancel.class, this::onCancel)
        .onCommand(SetParameters.class, this::onSetParameters)
        .onCommand(StartPostcopy.class, this::onStartPostcopy)
        .onCommand(Recover.class, this::onRecover)
        .onCommand(PostcopyReported.class, (s, c) -> {
          var effect = driver.postcopy().onReport(s, c.report());
          if (!s.ended()) publisher.progress(driver.info(s));
          return effect;
        })
        .onCommand(HostReplied.class, (s, c) -> driver.onReply(s, c.reply()))
        .onCommand(ProgressReported.class, (s, c) -> {
          var effect = driver.onProgress(s, c.report());
          if (!s.ended()) publisher.progress(driver.info(s));
          return effect;
        })
        .onCommand(StepTimedOut.class, (s, c) -> driver.onTimeout(s, c.step(), c.epoch()))
        .onCommand(HostFound.class, (s, c) -> driver.onHostFound(s, c.host(), c.agent()))
        .onCommand(HostLost.class, (s, c) -> driver.onHostLost(s, c.host()))
        .onCommand(Resend.class, (s, c) -> driver.onResend(s, c.step()))
        .onCommand(Locate.class, (s, c) -> {
          driver.onLocate(c.host());
          return Effect().noReply();
        });
    return b.build();
  }

  /** A Start for a migration that exists: the same request is answered again, another one refused. */
  private ReplyEffect<CoordinatorEvent, MigrationState> onStartAgain(MigrationState s, Start c) {
    return Effect().reply(c.replyTo(), sameRequest(s, c.request())
        ? StatusReply.success(driver.info(s))
        : StatusReply.error("migration " + migrationId + " already exists with other arguments"));
  }

  private static boolean sameRequest(MigrationState s, StartMigration r) {
    return s.guestId().equals(r.getGuestId()) && s.sourceHost().equals(r.getSourceHost())
        && s.destinationHost().equals(r.getDestinationHost());
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> onStart(MigrationState s, Start c) {
    StartMigration r = c.request();
    String invalid = StartValidation.check(r, migrationId);
    if (invalid != null) return Effect().reply(c.replyTo(), StatusReply.error(invalid));
    CoordinatorEvent requested = Events.requested(r.toBuilder().setMigrationId(migrationId).build(),
        settings.resolve(r.getParameters()), 1);
    return Effect().persist(requested)
        .thenRun(driver::start)
        .thenRun(this::published)
        .thenReply(c.replyTo(), st -> StatusReply.success(driver.info(st)));
  }

  /**
   * Takeover after a crash, by phase: in Begin or Prepare the migration rolls back; in Perform it
   * continues (the source never stopped copying) unless configured to roll back; later phases
   * re-send their command, which hosts answer from what they already did.
   */
  private ReplyEffect<CoordinatorEvent, MigrationState> onRecovered(MigrationState s, Recovered c) {
    long epoch = s.epoch() + 1;
    List<CoordinatorEvent> events = new java.util.ArrayList<>();
    events.add(Events.restarted(epoch, s.phase()));
    boolean rollback = !s.rollingBack() && s.resumeOwner() != ResumeOwner.DESTINATION
        && (s.phase() == org.livemig.messages.Phase.BEGIN || s.phase() == org.livemig.messages.Phase.PREPARE
            || (s.phase() == org.livemig.messages.Phase.PERFORM && !settings.continuePerformAfterRestart()
                && !Switchover.marked(s))); // after the marker Activate may be out: never roll back blind
    if (rollback) events.add(Events.rollback(s, "coordinator restarted in " + s.phase() + "; rolled back", false));
    ctx.getLog().warn("{}: coordinator took over in {} with epoch {}{}", migrationId, s.phase(), epoch,
        rollback ? "; rolling back" : "");
    return Effect().persist(events).thenRun(driver::resume).thenRun(this::published).thenNoReply();
  }

  /** Persisted first; then a running precopy takes the new limits from its next batch on. */
  private ReplyEffect<CoordinatorEvent, MigrationState> onSetParameters(MigrationState s, SetParameters c) {
    if (c.maxBandwidthBytesPerSecond() < 0 || c.downtimeLimitMs() < 0) {
      return Effect().reply(c.replyTo(), StatusReply.error(
          "invalid request: max_bandwidth_bytes_per_second and downtime_limit_ms must not be negative"));
    }
    if (c.maxBandwidthBytesPerSecond() == 0 && c.downtimeLimitMs() == 0) {
      return Effect().reply(c.replyTo(), StatusReply.error(
          "invalid request: max_bandwidth_bytes_per_second and downtime_limit_ms are both 0; nothing to change"));
    }
    if (s.rollingBack() || s.resumeOwner() == ResumeOwner.DESTINATION || driver.current(s).phase() != Phase.BEGIN
        && driver.current(s).phase() != Phase.PREPARE && driver.current(s).phase() != Phase.PERFORM) {
      return Effect().reply(c.replyTo(), StatusReply.error("migration " + migrationId
          + " is past precopy (" + driver.current(s).phase() + "): its limits can no longer change"));
    }
    var p = s.parameters().toBuilder();
    if (c.maxBandwidthBytesPerSecond() > 0) p.setMaxBandwidthBytesPerSecond(c.maxBandwidthBytesPerSecond());
    if (c.downtimeLimitMs() > 0) p.setDowntimeLimitMs(c.downtimeLimitMs());
    ctx.getLog().info("{}: limits changed: max bandwidth {} B/s, downtime limit {} ms", migrationId,
        p.getMaxBandwidthBytesPerSecond(), p.getDowntimeLimitMs());
    return Effect().persist(Events.parametersChanged(p.build()))
        .thenRun(driver::pushParameters)
        .thenReply(c.replyTo(), st -> StatusReply.success(driver.info(st)));
  }

  /** Recorded as a parameter change (so a re-sent Perform carries it), then told to the source. */
  private ReplyEffect<CoordinatorEvent, MigrationState> onStartPostcopy(MigrationState s, StartPostcopy c) {
    Phase at = driver.current(s).phase();
    if (s.postcopy().started()) {
      return Effect().reply(c.replyTo(), StatusReply.error("migration " + migrationId + " is already in postcopy"));
    }
    if (s.rollingBack() || s.resumeOwner() == ResumeOwner.DESTINATION
        || (at != Phase.BEGIN && at != Phase.PREPARE && at != Phase.PERFORM)) {
      return Effect().reply(c.replyTo(), StatusReply.error("migration " + migrationId
          + " is past precopy (" + at + "): too late to start postcopy"));
    }
    if (s.parameters().getPostcopyNow()) return Effect().reply(c.replyTo(), StatusReply.success(driver.info(s)));
    ctx.getLog().info("{}: postcopy requested; switching at the end of the current round", migrationId);
    return Effect().persist(Events.parametersChanged(s.parameters().toBuilder().setPostcopyNow(true).build()))
        .thenRun(driver::pushParameters)
        .thenReply(c.replyTo(), st -> StatusReply.success(driver.info(st)));
  }

  /** Only a paused postcopy recovers: persisted first, then the source opens a new channel. */
  private ReplyEffect<CoordinatorEvent, MigrationState> onRecover(MigrationState s, Recover c) {
    if (c.dataPort() < 0 || c.dataPort() > 65535) {
      return Effect().reply(c.replyTo(), StatusReply.error("invalid request: data_port must be 0..65535, was "
          + c.dataPort()));
    }
    if ((c.dataPort() == 0) != c.dataHost().isBlank()) {
      return Effect().reply(c.replyTo(), StatusReply.error(
          "invalid request: give both data_host and data_port, or neither (the endpoint from Prepare)"));
    }
    // A recovery that seems stuck (POSTCOPY_RECOVER) may be asked again: the source answers with
    // its state as it is, or starts over if it is paused.
    if (s.status() != org.livemig.messages.MigrationStatus.POSTCOPY_PAUSED
        && s.status() != org.livemig.messages.MigrationStatus.POSTCOPY_RECOVER) {
      return Effect().reply(c.replyTo(), StatusReply.error("migration " + migrationId + " is " + s.status()
          + ": only a paused postcopy (POSTCOPY_PAUSED) can recover"));
    }
    String host = c.dataHost().isBlank() ? s.prepare().getDataHost() : c.dataHost();
    int port = c.dataPort() == 0 ? s.prepare().getDataPort() : c.dataPort();
    int attempt = s.postcopy().recoveries() + 1;
    ctx.getLog().warn("{}: postcopy recovery {} over {}:{}", migrationId, attempt, host, port);
    return Effect().persist(Events.recoveryStarted(host, port, attempt))
        .thenRun(st -> driver.tellSource(st, org.livemig.messages.HostCommand.newBuilder()
            .setRecover(org.livemig.messages.RecoverRequest.newBuilder().setDataHost(host).setDataPort(port)
                .setAttempt(attempt))))
        .thenRun(this::published)
        .thenReply(c.replyTo(), st -> StatusReply.success(driver.info(st)));
  }

  private ReplyEffect<CoordinatorEvent, MigrationState> onCancel(MigrationState s, Cancel c) {
    if (s.resumeOwner() == ResumeOwner.DESTINATION) {
      return Effect().reply(c.replyTo(), StatusReply.error("too late to cancel migration " + migrationId
          + ": the destination owns the guest since switchover"));
    }
    if (s.rollingBack()) return Effect().reply(c.replyTo(), StatusReply.success(driver.info(s)));
    if (driver.mayHaveActivated(s)) {
      return Effect().reply(c.replyTo(), StatusReply.error("too late to cancel migration " + migrationId
          + ": the destination may already run the guest; the switchover is being settled"));
    }
    MigrationState at = driver.current(s);
    ctx.getLog().warn("{} cancelled in {}: {}", migrationId, at.phase(), c.reason());
    return Effect().persist(List.of(Events.cancelRequested(c.reason()), Events.rollback(at, "cancelled: " + c.reason(), true)))
        .thenRun(driver::rollback)
        .thenRun(this::published)
        .thenReply(c.replyTo(), st -> StatusReply.success(driver.info(st)));
  }

  /** Persist, then act: the driver never acts on an unpersisted decision. */
  ReplyEffect<CoordinatorEvent, MigrationState> persistThen(List<CoordinatorEvent> events,
      java.util.function.Consumer<MigrationState> then) {
    long started = System.nanoTime();
    return Effect().persist(events).thenRun(st -> {
      driver.journalWriteSampled(System.nanoTime() - started);
      then.accept(st);
      published(st);
      if (st.ended()) driver.passivateLater();
    }).thenNoReply();
  }

  private void published(MigrationState st) {
    publisher.changed(driver.info(st));
  }

  ReplyEffect<CoordinatorEvent, MigrationState> noEffect() {
    return Effect().noReply();
  }

  @Override
  public EventHandler<MigrationState, CoordinatorEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(MigrationState::apply);
  }
}
