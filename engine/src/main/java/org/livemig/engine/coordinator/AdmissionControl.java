package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.typed.ClusterSingleton;
import akka.cluster.typed.ClusterSingletonSettings;
import akka.cluster.typed.SingletonActor;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.messages.AdmissionEvent;
import org.livemig.messages.AdmissionReleased;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;

/**
 * Admission control: one per cluster (a singleton on the coordinator role). A coordinator asks for
 * a slot before Begin and gives it back when its migration ends; Admission decides who starts, and
 * the queue and the granted slots are in the journal (AdmissionJournal, a child), so they survive
 * this actor's node. Requests and releases are decided in arrival order; those that arrive while a
 * write is in flight are written together with the next one, each decided as if it had come alone
 * (a burst of 200 starts costs a few writes, not 200 one after another). A repeated request (a
 * queued coordinator asks again every retry) is answered at once from the last written state, never
 * held behind a write. Replies to waiting coordinators are not persisted: a coordinator re-sends
 * its request while QUEUED, so a grant lost with this actor's node is answered again by the next
 * incarnation.
 */
public final class AdmissionControl extends AbstractBehavior<AdmissionControl.Command> {

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

  /** A coordinator's status, asked by the reconciliation; info null with failure set when unanswered. */
  private record Checked(String migrationId, MigrationInfo info, Throwable failure) implements Command {}

  private record JournalRecovered(Admission.State state) implements Command {}

  private record Written(AdmissionJournal.Decided decided) implements Command {}

  /** A request or release waiting for its decision, and whom to answer (none for a reconciled release). */
  private record Input(String migrationId, AdmissionEvent proposed, ActorRef<Answer> replyTo) {}

  public static final String PERSISTENCE_ID = "admission";

  /** At most this many requests and releases in one write. */
  static final int MAX_BATCH = 1000;

  /** Runs the singleton on the coordinator nodes; every node gets the proxy (call on each node at start). */
  public static ActorRef<Command> init(ActorSystem<?> system) {
    return ClusterSingleton.get(system).init(SingletonActor.of(create(), "admission")
        .withSettings(ClusterSingletonSettings.create(system).withRole("coordinator")));
  }

  public static Behavior<Command> create() {
    // A failure here starts it again with a new journal child, which replays the queue and the slots.
    return Behaviors.supervise(Behaviors.<Command>setup(ctx -> Behaviors.withTimers(timers ->
        new AdmissionControl(ctx, timers)))).onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200),
        Duration.ofSeconds(10), 0.2));
  }

  private final TimerScheduler<Command> timers;
  private final Admission.Limits limits;
  private final Duration reconcileInterval;
  private final Duration askTimeout;
  private final ActorRef<AdmissionJournal.Decide> journal;
  private final ActorRef<AdmissionJournal.Decided> written;
  /** Coordinators waiting for a grant, by migration id: not persisted (they ask again). */
  private final Map<String, ActorRef<Answer>> waiting = new HashMap<>();
  /** What arrived while the journal was being read or written, in arrival order. */
  private final ArrayDeque<Input> pending = new ArrayDeque<>();
  /** The write in flight. */
  private List<Input> inFlight = List.of();
  /** Inputs not yet decided (pending or in flight), per migration id; and those that are requests. */
  private final Map<String, Integer> undecided = new HashMap<>();
  private final Set<String> undecidedRequests = new HashSet<>();
  /** The journal's state after its last write. */
  private Admission.State state = Admission.State.EMPTY;
  private boolean recovered;
  private boolean writing;
  /** The next write first grants what the limits allow (after a replay: they may have changed). */
  private boolean regrant;

  private AdmissionControl(ActorContext<Command> ctx, TimerScheduler<Command> timers) {
    super(ctx);
    this.timers = timers;
    var config = ctx.getSystem().settings().config();
    this.limits = Admission.Limits.fromConfig(config);
    this.reconcileInterval = config.getDuration("livemig.admission.reconcile-interval");
    this.askTimeout = config.getDuration("livemig.admission.ask-timeout");
    this.written = ctx.messageAdapter(AdmissionJournal.Decided.class, Written::new);
    this.journal = ctx.spawn(AdmissionJournal.create(ctx.messageAdapter(AdmissionJournal.Recovered.class,
        r -> new JournalRecovered(r.state())), limits), "journal");
    // A journal that stops for good (not a write failure: it restarts itself then) fails this actor,
    // which starts again with a new one.
    ctx.watch(journal);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Request.class, this::onRequest)
        .onMessage(Release.class, this::onRelease)
        .onMessage(JournalRecovered.class, this::onRecovered)
        .onMessage(Written.class, this::onWritten)
        .onMessageEquals(Reconcile.INSTANCE, this::reconcile)
        .onMessage(Checked.class, this::onChecked)
        .build();
  }

  private Behavior<Command> onRequest(Request r) {
    String id = r.migrationId();
    if (undecidedRequests.contains(id)) {
      waiting.put(id, r.replyTo()); // decided soon: its grant goes to the newest address
      return this;
    }
    if (state.knows(id) && !undecided.containsKey(id)) {
      // The newest address: a coordinator that took over elsewhere asks from there.
      if (state.granted().containsKey(id)) waiting.remove(id);
      else waiting.put(id, r.replyTo());
      r.replyTo().tell(answer(state, id));
      return this;
    }
    AdmissionEvent requested = event().setRequested(new Admission.Claim(id, r.sourceHost(), r.destinationHost())
        .toProto()).build();
    return enqueue(new Input(id, requested, r.replyTo()));
  }

  private Behavior<Command> onRelease(Release r) {
    waiting.remove(r.migrationId());
    return enqueue(new Input(r.migrationId(), released(r.migrationId(), "released by its coordinator"), r.replyTo()));
  }

  private Behavior<Command> enqueue(Input input) {
    pending.add(input);
    undecided.merge(input.migrationId(), 1, Integer::sum);
    if (input.proposed().hasRequested()) undecidedRequests.add(input.migrationId());
    return write();
  }

  /** Hands the journal what waits, unless it is still being read or a write is in flight. */
  private Behavior<Command> write() {
    if (!recovered || writing || (pending.isEmpty() && !regrant)) return this;
    List<Input> batch = new ArrayList<>();
    while (!pending.isEmpty() && batch.size() < MAX_BATCH) batch.add(pending.poll());
    inFlight = batch;
    writing = true;
    journal.tell(new AdmissionJournal.Decide(batch.stream().map(Input::proposed).toList(), regrant, written));
    regrant = false;
    return this;
  }

  private Behavior<Command> onWritten(Written w) {
    state = w.decided().state();
    writing = false;
    for (String id : w.decided().granted()) {
      getContext().getLog().info("{}: admitted ({} queued, {} running)", id, state.queued().size(),
          state.granted().size());
      ActorRef<Answer> coordinator = waiting.remove(id);
      if (coordinator != null) coordinator.tell(new Answer(id, Kind.GRANTED, 0));
    }
    for (Input input : inFlight) {
      String id = input.migrationId();
      undecided.computeIfPresent(id, (k, n) -> n == 1 ? null : n - 1);
      Answer answer = input.proposed().hasRequested() ? answer(state, id) : new Answer(id, Kind.RELEASED, 0);
      if (input.proposed().hasRequested()) undecidedRequests.remove(id);
      // Answered here, granted or queued; told later only if queued now.
      if (answer.kind() == Kind.QUEUED) waiting.putIfAbsent(id, input.replyTo()); // a repeat's is newer
      if (input.replyTo() != null) input.replyTo().tell(answer);
    }
    inFlight = List.of();
    return write();
  }

  private Behavior<Command> onRecovered(JournalRecovered r) {
    state = r.state();
    regrant = true; // the limits may have changed with the configuration: grant what they now allow
    if (writing) {
      // The journal restarted after a failed write: what was in flight is decided again (idempotent).
      for (int i = inFlight.size() - 1; i >= 0; i--) pending.addFirst(inFlight.get(i));
      inFlight = List.of();
      writing = false;
    }
    if (!recovered) {
      recovered = true;
      getContext().getLog().info("admission control up: {} queued, {} running, limits {}", state.queued().size(),
          state.granted().size(), limits);
      timers.startTimerWithFixedDelay(Reconcile.INSTANCE, reconcileInterval);
    }
    return write();
  }

  /**
   * A slot is held until its coordinator releases it, and a release can be lost for good (a
   * journal wiped by hand, a coordinator that crashed between its end and the release and is
   * never asked again). Without this, one lost release would take a slot from a host forever,
   * and enough of them would wedge every migration in the cluster: so every known migration's
   * coordinator is asked its status now and then, and an ended (or unknown) one is released.
   */
  private Behavior<Command> reconcile() {
    ClusterSharding sharding = ClusterSharding.get(getContext().getSystem());
    List<String> ids = new ArrayList<>(state.granted().keySet());
    ids.addAll(state.queued().keySet());
    for (String id : ids) {
      getContext().ask(MigrationInfo.class, sharding.entityRefFor(MigrationCoordinator.TYPE_KEY, id), askTimeout,
          MigrationCoordinator.GetStatus::new, (info, failure) -> new Checked(id, info, failure));
    }
    return this;
  }

  private Behavior<Command> onChecked(Checked c) {
    if (c.failure() != null) {
      getContext().getLog().warn("{}: its coordinator did not say whether it ended ({}); asked again in {}",
          c.migrationId(), c.failure().toString(), reconcileInterval);
      return this;
    }
    MigrationStatus status = c.info().getStatus();
    boolean gone = status == MigrationStatus.STATUS_NONE || MigrationState.ended(status);
    if (!gone || !state.knows(c.migrationId())) return this;
    getContext().getLog().warn("{}: ended ({}) without releasing its admission slot; released", c.migrationId(),
        status);
    waiting.remove(c.migrationId());
    return enqueue(new Input(c.migrationId(), released(c.migrationId(), "reconciled: " + status), null));
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
}
