package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.typed.ClusterSingleton;
import akka.cluster.typed.ClusterSingletonSettings;
import akka.cluster.typed.SingletonActor;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandlerWithReply;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import akka.persistence.typed.javadsl.ReplyEffect;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.messages.AdmissionEvent;
import org.livemig.messages.AdmissionReleased;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;

/**
 * Admission control: one per cluster (a singleton on the coordinator role), event-sourced, so
 * the queue and the granted slots survive its node. A coordinator asks for a slot before Begin
 * and gives it back when its migration ends; Admission decides who starts. Replies to waiting
 * coordinators are not persisted: a coordinator re-sends its request while QUEUED, so a grant
 * lost with this actor's node is answered again by the next incarnation.
 */
public final class AdmissionControl
    extends EventSourcedBehaviorWithEnforcedReplies<AdmissionControl.Command, AdmissionEvent, Admission.State> {

  public interface Command {}

  /** A slot for a migration; repeated, it is answered with the current state (queued or granted). */
  public record Request(String migrationId, String sourceHost, String destinationHost, ActorRef<Answer> replyTo)
      implements Command, LivemigMessage {}

  /** The migration ended (or was cancelled while queued): its slot or place in the queue goes. Idempotent. */
  public record Release(String migrationId, ActorRef<Answer> replyTo) implements Command, LivemigMessage {}

  public enum Kind { QUEUED, GRANTED, RELEASED }

  /** position: QUEUED only, 1 = next in line. */
  public record Answer(String migrationId, Kind kind, int position) implements LivemigMessage {}

  private enum Reconcile implements Command { INSTANCE }

  private enum Recovered implements Command { INSTANCE }

  /** A coordinator's status, asked by the reconciliation; info null with failure set when unanswered. */
  private record Checked(String migrationId, MigrationInfo info, Throwable failure) implements Command {}

  public static final String PERSISTENCE_ID = "admission";

  /** Runs the singleton on the coordinator nodes; every node gets the proxy (call on each node at start). */
  public static ActorRef<Command> init(ActorSystem<?> system) {
    return ClusterSingleton.get(system).init(SingletonActor.of(create(), "admission")
        .withSettings(ClusterSingletonSettings.create(system).withRole("coordinator")));
  }

  public static Behavior<Command> create() {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new AdmissionControl(ctx, timers)));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Admission.Limits limits;
  private final Duration reconcileInterval;
  private final Duration askTimeout;
  /** Coordinators waiting for a grant, by migration id: not persisted (they ask again). */
  private final Map<String, ActorRef<Answer>> waiting = new HashMap<>();

  private AdmissionControl(ActorContext<Command> ctx, TimerScheduler<Command> timers) {
    super(PersistenceId.ofUniqueId(PERSISTENCE_ID),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    var config = ctx.getSystem().settings().config();
    this.limits = Admission.Limits.fromConfig(config);
    this.reconcileInterval = config.getDuration("livemig.admission.reconcile-interval");
    this.askTimeout = config.getDuration("livemig.admission.ask-timeout");
  }

  @Override
  public Admission.State emptyState() {
    return Admission.State.EMPTY;
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }

  @Override
  public SignalHandler<Admission.State> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), state -> {
      ctx.getLog().info("admission control up: {} queued, {} running, limits {}", state.queued().size(),
          state.granted().size(), limits);
      // The limits may have changed with the configuration: grant what they now allow.
      ctx.getSelf().tell(Recovered.INSTANCE);
      timers.startTimerWithFixedDelay(Reconcile.INSTANCE, reconcileInterval);
    }).build();
  }

  @Override
  public CommandHandlerWithReply<Command, AdmissionEvent, Admission.State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Request.class, this::onRequest)
        .onCommand(Release.class, this::onRelease)
        .onCommand(Recovered.class, (s, c) -> grant(s, List.of()))
        .onCommand(Reconcile.class, this::reconcile)
        .onCommand(Checked.class, this::onChecked)
        .build();
  }

  private ReplyEffect<AdmissionEvent, Admission.State> onRequest(Admission.State s, Request r) {
    if (s.knows(r.migrationId())) {
      // The newest address: a coordinator that took over elsewhere asks from there.
      if (s.granted().containsKey(r.migrationId())) waiting.remove(r.migrationId());
      else waiting.put(r.migrationId(), r.replyTo());
      return Effect().reply(r.replyTo(), answer(s, r.migrationId()));
    }
    List<AdmissionEvent> events = new ArrayList<>();
    events.add(event().setRequested(new Admission.Claim(r.migrationId(), r.sourceHost(), r.destinationHost())
        .toProto()).build());
    ctx.getLog().info("{}: admission requested ({} -> {})", r.migrationId(), r.sourceHost(), r.destinationHost());
    // Answered here, granted or queued; told later only if queued now.
    return grantAnd(s, events).thenRun(st -> {
      if (!st.granted().containsKey(r.migrationId())) waiting.put(r.migrationId(), r.replyTo());
    }).thenReply(r.replyTo(), st -> answer(st, r.migrationId()));
  }

  private ReplyEffect<AdmissionEvent, Admission.State> onRelease(Admission.State s, Release r) {
    waiting.remove(r.migrationId());
    Answer released = new Answer(r.migrationId(), Kind.RELEASED, 0);
    if (!s.knows(r.migrationId())) return Effect().reply(r.replyTo(), released);
    return grantAnd(s, List.of(released(r.migrationId(), "released by its coordinator")))
        .thenReply(r.replyTo(), st -> released);
  }

  private ReplyEffect<AdmissionEvent, Admission.State> grant(Admission.State s, List<AdmissionEvent> first) {
    return grantAnd(s, first).thenNoReply();
  }

  /** The events, then a grant for every queued migration that may start after them; grants are told once written. */
  private akka.persistence.typed.javadsl.EffectBuilder<AdmissionEvent, Admission.State> grantAnd(Admission.State s,
      List<AdmissionEvent> first) {
    Admission.State next = s;
    for (AdmissionEvent e : first) next = next.apply(e);
    List<AdmissionEvent> events = new ArrayList<>(first);
    List<String> granted = new ArrayList<>();
    for (Admission.Claim c : Admission.grants(next.queue(), next.granted().values(), limits)) {
      events.add(event().setGranted(c.migrationId()).build());
      granted.add(c.migrationId());
    }
    if (events.isEmpty()) return Effect().none();
    return Effect().persist(events).thenRun(st -> {
      for (String id : granted) {
        ctx.getLog().info("{}: admitted ({} queued, {} running)", id, st.queued().size(), st.granted().size());
        ActorRef<Answer> coordinator = waiting.remove(id);
        if (coordinator != null) coordinator.tell(new Answer(id, Kind.GRANTED, 0));
      }
    });
  }

  /**
   * A slot is held until its coordinator releases it, and a release can be lost for good (a
   * journal wiped by hand, a coordinator that crashed between its end and the release and is
   * never asked again). Without this, one lost release would take a slot from a host forever,
   * and enough of them would wedge every migration in the cluster: so every known migration's
   * coordinator is asked its status now and then, and an ended (or unknown) one is released.
   */
  private ReplyEffect<AdmissionEvent, Admission.State> reconcile(Admission.State s, Reconcile r) {
    ClusterSharding sharding = ClusterSharding.get(ctx.getSystem());
    List<String> ids = new ArrayList<>(s.granted().keySet());
    ids.addAll(s.queued().keySet());
    for (String id : ids) {
      ctx.ask(MigrationInfo.class, sharding.entityRefFor(MigrationCoordinator.TYPE_KEY, id), askTimeout,
          MigrationCoordinator.GetStatus::new, (info, failure) -> new Checked(id, info, failure));
    }
    return Effect().noReply();
  }

  private ReplyEffect<AdmissionEvent, Admission.State> onChecked(Admission.State s, Checked c) {
    if (c.failure() != null) {
      ctx.getLog().warn("{}: its coordinator did not say whether it ended ({}); asked again in {}", c.migrationId(),
          c.failure().toString(), reconcileInterval);
      return Effect().noReply();
    }
    MigrationStatus status = c.info().getStatus();
    boolean gone = status == MigrationStatus.STATUS_NONE || MigrationState.ended(status);
    if (!gone || !s.knows(c.migrationId())) return Effect().noReply();
    ctx.getLog().warn("{}: ended ({}) without releasing its admission slot; released", c.migrationId(), status);
    waiting.remove(c.migrationId());
    return grant(s, List.of(released(c.migrationId(), "reconciled: " + status)));
  }

  private static Answer answer(Admission.State s, String migrationId) {
    if (s.granted().containsKey(migrationId)) return new Answer(migrationId, Kind.GRANTED, 0);
    int position = s.position(migrationId);
    return position > 0 ? new Answer(migrationId, Kind.QUEUED, position) : new Answer(migrationId, Kind.RELEASED, 0);
  }

  private static AdmissionEvent.Builder event() {
    return AdmissionEvent.newBuilder().setSchemaVersion(1);
  }

  private static AdmissionEvent released(String migrationId, String reason) {
    return event().setReleased(AdmissionReleased.newBuilder().setMigrationId(migrationId).setReason(reason)).build();
  }

  @Override
  public EventHandler<Admission.State, AdmissionEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(Admission.State::apply);
  }
}
