package org.livemig.engine.coordinator;

import java.util.ArrayList;
import java.util.List;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.HostCommand;

/**
 * What a decision wants done: events to persist, and what to send before the write (rare: only
 * what is safe to send before its journal write, see Switchover.onFinished) and after it. The
 * decisions (Phases, Switchover, PostcopyRules, OperatorCommands) build these as plain functions
 * of the persisted state, the Unpersisted record and one input; MigrationCoordinator is the only
 * place that persists and sends them.
 */
final class Decision {
  /** One thing to do towards the hosts or the actor itself. */
  sealed interface Action {}

  /** Send the step's command to its host (looked up if not known yet) with the step's timer. */
  record Send(Step step) implements Action {}

  /** Start the step's timer without sending: its command went out earlier. */
  record ArmTimer(Step step) implements Action {}

  /** Stop awaiting the step's answer. */
  record CancelTimer(Step step) implements Action {}

  /** Send the step's command now, without a timer (Finish asked while the final copy travels). */
  record SendEarly(Step step) implements Action {}

  /** A command that is not a phase step (limits, estimate, recovery): no timer, no answer awaited. */
  record TellSource(HostCommand.Builder command) implements Action {}

  /** Tell the source the switchover's control-path estimate if it moved (with the last write sampled). */
  record PushEstimate() implements Action {}

  /** Tell the destination that the migration is settled (best effort: a fenced guest runs again). */
  record TellDestination(HostCommand.Builder command) implements Action {}

  /** Look a host up and watch it, without sending it a step. */
  record Locate(String host) implements Action {}

  /** Postcopy reports that arrived before PostcopyStarted count once it is persisted. */
  record ReplayPostcopyReports() implements Action {}

  enum Level { INFO, WARN, ERROR }

  record Log(Level level, String message) implements Action {}

  final List<CoordinatorEvent> events = new ArrayList<>();
  final List<Action> beforeWrite = new ArrayList<>();
  final List<Action> afterWrite = new ArrayList<>();
  private final Unpersisted unpersisted;

  Decision(Unpersisted unpersisted) {
    this.unpersisted = unpersisted;
  }

  Decision persist(CoordinatorEvent... e) {
    events.addAll(List.of(e));
    return this;
  }

  Decision persist(List<CoordinatorEvent> e) {
    events.addAll(e);
    return this;
  }

  /** Sends the step once the events are written; its answer is awaited from now on. */
  Decision send(Step step) {
    unpersisted.awaiting.add(step);
    afterWrite.add(new Send(step));
    return this;
  }

  /** Sends the step before the journal write (the write follows it instead of sitting in the downtime). */
  Decision sendBeforeWrite(Step step) {
    unpersisted.awaiting.add(step);
    beforeWrite.add(new Send(step));
    return this;
  }

  Decision armTimer(Step step) {
    unpersisted.awaiting.add(step);
    afterWrite.add(new ArmTimer(step));
    return this;
  }

  /** Cancelled at once: an answer or a timeout must not come in while the events are written. */
  Decision cancel(Step step) {
    unpersisted.awaiting.remove(step);
    beforeWrite.add(new CancelTimer(step));
    return this;
  }

  Decision cancelAll() {
    for (Step st : Step.values()) cancel(st);
    return this;
  }

  Decision then(Action a) {
    afterWrite.add(a);
    return this;
  }

  Decision log(Level level, String message) {
    afterWrite.add(new Log(level, message));
    return this;
  }

  boolean rollsBack() {
    return events.stream().anyMatch(e -> e.hasResumeOwnerChosen()
        && e.getResumeOwnerChosen().getOwner() == org.livemig.messages.ResumeOwner.SOURCE);
  }

  /** Every action, in the order they run. */
  List<Action> actions() {
    List<Action> all = new ArrayList<>(beforeWrite);
    all.addAll(afterWrite);
    return all;
  }
}
