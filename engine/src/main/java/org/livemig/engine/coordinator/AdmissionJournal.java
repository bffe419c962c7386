package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandlerWithReply;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.livemig.messages.AdmissionEvent;

/**
 * Admission control's journal (persistence id "admission"): the queue and the granted slots. Its
 * parent, AdmissionControl, hands it the requests and releases that arrived while the previous
 * write was in flight, in arrival order; each is decided in turn as if it had come alone (its own
 * event, then a grant for every queued migration that may start after it), and all of them are
 * written at once. The journal reads exactly as if each had been written alone; a burst of requests
 * costs a few writes instead of one each.
 */
final class AdmissionJournal
    extends EventSourcedBehaviorWithEnforcedReplies<AdmissionJournal.Decide, AdmissionEvent, Admission.State> {

  /**
   * Decide these, in order: Requested events (ignored for a migration known already) and Released
   * events (ignored for an unknown one); regrant first grants what the limits allow now (after a
   * recovery: the limits may have changed with the configuration).
   */
  record Decide(List<AdmissionEvent> proposed, boolean regrant, ActorRef<Decided> replyTo) {}

  /** Written (or nothing to write): the state now and the migrations granted by this decision, in grant order. */
  record Decided(Admission.State state, List<String> granted) {}

  /** Told to the parent once the journal is replayed, and again after each restart. */
  record Recovered(Admission.State state) {}

  static Behavior<Decide> create(ActorRef<Recovered> parent, Admission.Limits limits) {
    return Behaviors.setup(ctx -> new AdmissionJournal(ctx, parent, limits));
  }

  private final ActorContext<Decide> ctx;
  private final ActorRef<Recovered> parent;
  private final Admission.Limits limits;

  private AdmissionJournal(ActorContext<Decide> ctx, ActorRef<Recovered> parent, Admission.Limits limits) {
    super(PersistenceId.ofUniqueId(AdmissionControl.PERSISTENCE_ID),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.parent = parent;
    this.limits = limits;
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
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> parent.tell(new Recovered(state)))
        .build();
  }

  @Override
  public CommandHandlerWithReply<Decide, AdmissionEvent, Admission.State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState().onCommand(Decide.class, (s, d) -> {
      Admission.State next = s;
      List<AdmissionEvent> events = new ArrayList<>();
      List<String> granted = new ArrayList<>();
      if (d.regrant()) next = grant(next, events, granted);
      for (AdmissionEvent e : d.proposed()) {
        boolean known = next.knows(e.hasRequested() ? e.getRequested().getMigrationId()
            : e.getReleased().getMigrationId());
        if (e.hasRequested() == known) continue; // a repeated request, or the release of an unknown migration
        events.add(e);
        if (e.hasRequested()) ctx.getLog().info("{}: admission requested ({} -> {})", e.getRequested().getMigrationId(),
            e.getRequested().getSourceHost(), e.getRequested().getDestinationHost());
        next = grant(next.apply(e), events, granted);
      }
      if (events.isEmpty()) return Effect().reply(d.replyTo(), new Decided(s, List.of()));
      if (d.proposed().size() > 1) ctx.getLog().debug("{} admission decisions in one write", d.proposed().size());
      return Effect().persist(events).thenReply(d.replyTo(), st -> new Decided(st, granted));
    }).build();
  }

  /** Grants every queued migration that may start now (Admission.grants), adding their events. */
  private Admission.State grant(Admission.State s, List<AdmissionEvent> events, List<String> granted) {
    Admission.State next = s;
    for (Admission.Claim c : Admission.grants(s.queue(), s.granted().values(), limits)) {
      AdmissionEvent e = AdmissionEvent.newBuilder().setSchemaVersion(1).setGranted(c.migrationId()).build();
      events.add(e);
      next = next.apply(e);
      granted.add(c.migrationId());
    }
    return next;
  }

  @Override
  public EventHandler<Admission.State, AdmissionEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(Admission.State::apply);
  }
}
