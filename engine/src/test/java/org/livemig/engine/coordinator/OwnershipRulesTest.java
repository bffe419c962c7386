package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.FinishResult;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.PerformResult;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.StartMigration;

/**
 * Every rule that decides who may run the guest, as a table: a situation (the journal's state
 * and what this incarnation sent), an input (a host's answer, silence, a lost or unfound host,
 * an operator's cancel, a takeover) and the outcome. Plain functions: no actor system.
 */
class OwnershipRulesTest {
  static final CoordinatorSettings SETTINGS = CoordinatorSettings.fromConfig(ConfigFactory.load());
  static final String SOURCE = "host-a";
  static final String DESTINATION = "host-b";

  /** What a decision amounts to for the guest. */
  enum Outcome {
    /** ResumeOwnerChosen(SOURCE): Confirm(failed) resumes the source, Discard drops the destination's copy. */
    SOURCE_RESUMES,
    /** As SOURCE_RESUMES, but Confirm tells the source to stop the guest for good: nobody resumes it. */
    SOURCE_POWERED_OFF,
    /** Nothing decided: the same step is asked again. */
    ASKED_AGAIN,
    /** The source's failure does not decide: the destination's Finish answer will. */
    FINISH_DECIDES,
    /** The guest runs on the destination and stays there; the migration completes. */
    DESTINATION_KEEPS,
    /** Postcopy: the migration fails, the source's stale copy stays paused (never resumed). */
    SOURCE_STAYS_PAUSED,
    /** Postcopy pauses and waits for an operator's recover. */
    POSTCOPY_PAUSED,
    /** Postcopy waits on, however long (re-armed, nothing decided). */
    WAITS,
    /** A rollback in progress ends: the silent host's copy never had ownership. */
    ROLLBACK_ENDS,
    /** A power off's rollback does not end before the source confirmed the guest off. */
    SOURCE_AWAITED,
    /** An operator's cancel is refused: nothing changes. */
    CANCEL_REFUSED,
    /** A new incarnation goes on with the migration. */
    CONTINUES
  }

  /** A situation: the journal's events, and what this incarnation did (Unpersisted). */
  record Situation(String name, List<CoordinatorEvent> events, Consumer<Unpersisted> sent) {
    MigrationState state() {
      MigrationState s = MigrationState.EMPTY;
      for (CoordinatorEvent e : events) s = s.apply(e);
      return s;
    }

    Unpersisted unpersisted() {
      Unpersisted u = new Unpersisted();
      u.found(SOURCE);
      u.found(DESTINATION);
      sent.accept(u);
      return u;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  private static List<CoordinatorEvent> journal(CoordinatorEvent... more) {
    GuestDescription g = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(256).build();
    List<CoordinatorEvent> events = new ArrayList<>(List.of(Events.requested(StartMigration.newBuilder()
        .setMigrationId("m").setGuestId("g").setSourceHost(SOURCE).setDestinationHost(DESTINATION).build(),
        MigrationParameters.newBuilder().setDowntimeLimitMs(300).build(), 1)));
    events.add(Events.begun(BeginCookie.newBuilder().setGuest(g).setSourceHost(SOURCE).build()));
    events.add(Events.prepared(PrepareCookie.newBuilder().setDataHost("127.0.0.1").setDataPort(1).setToken("t")
        .setDestinationHost(DESTINATION).build()));
    events.addAll(List.of(more));
    return events;
  }

  private static final CoordinatorEvent MARKER = Events.switchoverStarted(1_000_000);
  private static final CoordinatorEvent PERFORMED = Events.performed(PerformResult.newBuilder()
      .setStunnedAtEpochUs(1_000_000).build());
  private static final CoordinatorEvent OWNED = Events.destinationOwns("m:1:destination");
  private static final CoordinatorEvent RUNNING = Events.finished(ActivateResult.newBuilder()
      .setRunningAtEpochUs(1_020_000).build());

  static final Situation BEGIN = new Situation("in Begin", journal().subList(0, 1),
      u -> u.awaiting.add(Step.BEGIN));
  static final Situation PREPARE = new Situation("in Prepare", journal().subList(0, 2),
      u -> u.awaiting.add(Step.PREPARE));
  static final Situation PRECOPY = new Situation("precopy, no marker", journal(),
      u -> u.awaiting.add(Step.PERFORM));
  static final Situation MARKED_HERE = new Situation("marker written here, no Finish sent", journal(MARKER), u -> {
    u.awaiting.add(Step.PERFORM);
    u.markedHere = true;
  });
  static final Situation FINISH_OUT = new Situation("marker written here, Finish that runs the guest sent",
      journal(MARKER), u -> {
        u.awaiting.add(Step.PERFORM);
        u.markedHere = true;
        u.finishAskedEarly = true;
        u.sent(Step.FINISH.command(journalState(MARKER), u));
      });
  static final Situation FINISH_AWAITED = new Situation("Perform answered, activating Finish awaited",
      journal(MARKER), u -> {
        u.awaiting.add(Step.FINISH);
        u.markedHere = true;
        u.performed = PerformResult.newBuilder().setStunnedAtEpochUs(1_000_000).build();
        u.sent(Step.FINISH.command(journalState(MARKER), u));
      });
  static final Situation MARKED_BEFORE_TAKEOVER = new Situation("marker replayed (written by a predecessor)",
      journal(MARKER), u -> u.awaiting.add(Step.PERFORM));
  static final Situation OWNED_NOT_RUNNING = new Situation("destination owns, Activate awaited",
      journal(MARKER, PERFORMED, OWNED), u -> u.awaiting.add(Step.ACTIVATE));
  static final Situation RUNNING_ON_DESTINATION = new Situation("runs on the destination, Confirm awaited",
      journal(MARKER, PERFORMED, OWNED, RUNNING, Events.cleanupDone(DESTINATION)), u -> u.awaiting.add(Step.CONFIRM));
  static final Situation POSTCOPY = new Situation("postcopy active", journal(PERFORMED,
      Events.postcopyStarted(100), OWNED, Events.finished(ActivateResult.newBuilder().setPostcopy(true)
          .setRunningAtEpochUs(1_020_000).build())), u -> u.awaiting.add(Step.PAGES_COMPLETE));
  static final Situation POWERING_OFF = new Situation("rolling back to power the guest off", journal(
      Events.cancelRequested("off", true), Events.rollback(journalState(), "cancelled: off", true,
          org.livemig.messages.ErrorKind.ERROR_POWERED_OFF)), u -> {
        u.awaiting.add(Step.CONFIRM);
        u.awaiting.add(Step.DISCARD);
      });
  static final Situation ROLLING_BACK = new Situation("rolling back", journal(Events.rollback(
      journalState(), "perform failed", false)), u -> {
        u.awaiting.add(Step.CONFIRM);
        u.awaiting.add(Step.DISCARD);
      });

  private static MigrationState journalState(CoordinatorEvent... more) {
    MigrationState s = MigrationState.EMPTY;
    for (CoordinatorEvent e : journal(more)) s = s.apply(e);
    return s;
  }

  /** An input, applied to a situation. */
  record Input(String name, BiFunction<MigrationState, Unpersisted, Object> apply) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Input timeout(Step step) {
    return new Input(step + " timed out", (s, u) -> {
      u.timerFired(step);
      return Phases.onTimeout(s, u, step, SETTINGS);
    });
  }

  static Input lost(String host) {
    return new Input("host " + host + " left the cluster", (s, u) -> {
      u.lost(host);
      return Phases.onHostLost(s, u, host, SETTINGS);
    });
  }

  static Input error(Step step) {
    return new Input(step + " answered an error", (s, u) -> Phases.onReply(s, u, HostReply.newBuilder()
        .setMigrationId("m").setEpoch(s.epoch()).setStep(step.number).setHost(step.host(s)).setOk(false)
        .setError("channel 0: connection reset").build()));
  }

  static Input finishAnswered(boolean complete) {
    return new Input("Finish answered " + (complete ? "complete (ran)" : "incomplete"), (s, u) -> Phases.onReply(s, u,
        HostReply.newBuilder().setMigrationId("m").setEpoch(s.epoch()).setStep(Step.FINISH.number)
            .setHost(DESTINATION).setOk(true).setFinish(complete
                ? FinishResult.newBuilder().setComplete(true).setActivated(ActivateResult.newBuilder()
                    .setRunningAtEpochUs(1_020_000))
                : FinishResult.newBuilder().setComplete(false).setReason("pages missing")).build()));
  }

  static final Input NOT_FOUND = notFound(false);
  static final Input NOT_IN_CLUSTER = notFound(true);

  /** The lookup of the awaited step's host gave up, some member unreachable or (notInCluster) none. */
  static Input notFound(boolean notInCluster) {
    return new Input(notInCluster ? "the awaited step's host is not in the cluster (every member reachable)"
        : "the lookup of the awaited step's host gave up while a member is unreachable", (s, u) -> {
          List<Step> waiting = List.copyOf(u.awaiting);
          return Phases.onHostNotFound(s, u, waiting, "unknown host " + waiting.get(0).host(s), notInCluster);
        });
  }
  static final Input CANCEL = new Input("an operator cancels", (s, u) -> OperatorCommands.cancel(s, u, "stop", false));
  static final Input POWER_OFF = new Input("an operator powers the guest off",
      (s, u) -> OperatorCommands.cancel(s, u, "off", true));
  static final Input TAKEOVER = new Input("the coordinator takes over", (s, u) ->
      Ownership.rollBackOnTakeover(s, SETTINGS.continuePerformAfterRestart()));
  static final Input TAKEOVER_ROLLBACK_SETTING = new Input("takeover with after-restart-in-perform = rollback",
      (s, u) -> Ownership.rollBackOnTakeover(s, false));

  static Stream<Arguments> table() {
    return Stream.of(
        // Before the destination may run: any failure, silence included, resumes the source.
        row(BEGIN, error(Step.BEGIN), Outcome.SOURCE_RESUMES),
        row(BEGIN, NOT_FOUND, Outcome.SOURCE_RESUMES),
        row(BEGIN, NOT_IN_CLUSTER, Outcome.SOURCE_RESUMES),
        row(PREPARE, timeout(Step.PREPARE), Outcome.SOURCE_RESUMES),
        row(PRECOPY, timeout(Step.PERFORM), Outcome.SOURCE_RESUMES),
        row(PRECOPY, error(Step.PERFORM), Outcome.SOURCE_RESUMES),
        row(PRECOPY, lost(SOURCE), Outcome.SOURCE_RESUMES),
        row(PRECOPY, CANCEL, Outcome.SOURCE_RESUMES),
        row(PRECOPY, POWER_OFF, Outcome.SOURCE_POWERED_OFF),
        row(MARKED_HERE, POWER_OFF, Outcome.SOURCE_POWERED_OFF),
        row(FINISH_OUT, POWER_OFF, Outcome.CANCEL_REFUSED),
        row(OWNED_NOT_RUNNING, POWER_OFF, Outcome.CANCEL_REFUSED),
        row(POSTCOPY, POWER_OFF, Outcome.CANCEL_REFUSED),
        // Its Confirm may be out already, resuming the guest: a host answers a step once.
        row(ROLLING_BACK, POWER_OFF, Outcome.CANCEL_REFUSED),
        // The marker alone, written here, permits nothing yet.
        row(MARKED_HERE, timeout(Step.PERFORM), Outcome.SOURCE_RESUMES),
        row(MARKED_HERE, CANCEL, Outcome.SOURCE_RESUMES),
        // A Finish that runs the guest is out: only the destination's definite no resumes the source.
        row(FINISH_OUT, timeout(Step.PERFORM), Outcome.ASKED_AGAIN),
        row(FINISH_OUT, error(Step.PERFORM), Outcome.FINISH_DECIDES),
        row(FINISH_OUT, lost(SOURCE), Outcome.FINISH_DECIDES),
        row(FINISH_OUT, CANCEL, Outcome.CANCEL_REFUSED),
        row(FINISH_AWAITED, timeout(Step.FINISH), Outcome.ASKED_AGAIN),
        row(FINISH_AWAITED, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(FINISH_OUT, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(MARKED_BEFORE_TAKEOVER, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(OWNED_NOT_RUNNING, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(FINISH_AWAITED, lost(DESTINATION), Outcome.SOURCE_RESUMES),
        row(FINISH_AWAITED, error(Step.FINISH), Outcome.SOURCE_RESUMES),
        row(FINISH_AWAITED, finishAnswered(false), Outcome.SOURCE_RESUMES),
        row(FINISH_AWAITED, finishAnswered(true), Outcome.DESTINATION_KEEPS),
        // A predecessor wrote the marker: it may have let the destination run.
        row(MARKED_BEFORE_TAKEOVER, timeout(Step.PERFORM), Outcome.ASKED_AGAIN),
        row(MARKED_BEFORE_TAKEOVER, CANCEL, Outcome.CANCEL_REFUSED),
        row(MARKED_BEFORE_TAKEOVER, TAKEOVER_ROLLBACK_SETTING, Outcome.CONTINUES),
        // The destination owns the guest.
        row(OWNED_NOT_RUNNING, timeout(Step.ACTIVATE), Outcome.ASKED_AGAIN),
        row(OWNED_NOT_RUNNING, CANCEL, Outcome.CANCEL_REFUSED),
        row(OWNED_NOT_RUNNING, TAKEOVER_ROLLBACK_SETTING, Outcome.CONTINUES),
        row(RUNNING_ON_DESTINATION, timeout(Step.CONFIRM), Outcome.ASKED_AGAIN),
        row(RUNNING_ON_DESTINATION, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(RUNNING_ON_DESTINATION, NOT_IN_CLUSTER, Outcome.DESTINATION_KEEPS),
        row(FINISH_AWAITED, NOT_IN_CLUSTER, Outcome.SOURCE_RESUMES),
        row(POSTCOPY, NOT_IN_CLUSTER, Outcome.SOURCE_STAYS_PAUSED),
        row(RUNNING_ON_DESTINATION, lost(SOURCE), Outcome.DESTINATION_KEEPS),
        // Postcopy: the source's copy is stale once the destination runs.
        row(POSTCOPY, lost(DESTINATION), Outcome.SOURCE_STAYS_PAUSED),
        row(POSTCOPY, lost(SOURCE), Outcome.POSTCOPY_PAUSED),
        row(POSTCOPY, timeout(Step.PAGES_COMPLETE), Outcome.WAITS),
        row(POSTCOPY, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(POSTCOPY, CANCEL, Outcome.CANCEL_REFUSED),
        // A rollback that meets silence ends: nothing was ever handed over.
        row(ROLLING_BACK, timeout(Step.DISCARD), Outcome.ROLLBACK_ENDS),
        // Until the source answers, nobody knows the guest is off: its Confirm is asked again.
        row(POWERING_OFF, timeout(Step.CONFIRM), Outcome.ASKED_AGAIN),
        row(POWERING_OFF, timeout(Step.DISCARD), Outcome.SOURCE_AWAITED),
        row(POWERING_OFF, NOT_FOUND, Outcome.ASKED_AGAIN),
        row(POWERING_OFF, NOT_IN_CLUSTER, Outcome.ROLLBACK_ENDS), // the source left: its guest went with its node
        // Takeovers.
        row(BEGIN, TAKEOVER, Outcome.SOURCE_RESUMES),
        row(PREPARE, TAKEOVER, Outcome.SOURCE_RESUMES),
        row(PRECOPY, TAKEOVER, Outcome.CONTINUES),
        row(PRECOPY, TAKEOVER_ROLLBACK_SETTING, Outcome.SOURCE_RESUMES));
  }

  private static Arguments row(Situation situation, Input input, Outcome expected) {
    return Arguments.of(situation, input, expected);
  }

  @ParameterizedTest(name = "{0}, {1}: {2}")
  @MethodSource("table")
  void decides(Situation situation, Input input, Outcome expected) {
    MigrationState s = situation.state();
    Unpersisted u = situation.unpersisted();
    Object result = input.apply().apply(s, u);
    assertEquals(expected, outcome(s, result), () -> "decision: " + describe(result));
  }

  private static Outcome outcome(MigrationState s, Object result) {
    if (result instanceof Boolean rollBack) return rollBack ? Outcome.SOURCE_RESUMES : Outcome.CONTINUES;
    if (result instanceof OperatorCommands.Outcome o) {
      if (o.refusal() != null) return Outcome.CANCEL_REFUSED;
      result = o.decision();
    }
    Decision d = (Decision) result;
    MigrationState after = s;
    for (CoordinatorEvent e : d.events) after = after.apply(e);
    List<Decision.Action> actions = d.actions();
    if (d.rollsBack()) {
      // A rollback is only a rollback if the source is told to resume and the destination to discard.
      if (!actions.contains(new Decision.Send(Step.CONFIRM)) || !actions.contains(new Decision.Send(Step.DISCARD))) {
        return null;
      }
      // What the source is told is the journal's: a new incarnation sends the same Confirm.
      boolean powerOff = Step.CONFIRM.command(after, new Unpersisted()).getConfirm().getPowerOff();
      return powerOff && after.poweredOff() ? Outcome.SOURCE_POWERED_OFF : Outcome.SOURCE_RESUMES;
    }
    if (after.status() == org.livemig.messages.MigrationStatus.POSTCOPY_PAUSED) return Outcome.POSTCOPY_PAUSED;
    boolean ranThere = s.activate() == null && after.activate() != null;
    if (after.status() == org.livemig.messages.MigrationStatus.COMPLETED
        || (ranThere && after.resumeOwner() == ResumeOwner.DESTINATION)) {
      return Outcome.DESTINATION_KEEPS;
    }
    if (after.ended() && s.inPostcopy()) return Outcome.SOURCE_STAYS_PAUSED;
    if (after.ended() && s.rollingBack()) return Outcome.ROLLBACK_ENDS;
    if (!d.events.isEmpty()) return null;
    if (s.poweredOff() && actions.stream().noneMatch(a -> a instanceof Decision.Send)) return Outcome.SOURCE_AWAITED;
    if (actions.contains(new Decision.ArmTimer(Step.PAGES_COMPLETE))) return Outcome.WAITS;
    boolean finishAwaited = actions.contains(new Decision.Send(Step.FINISH))
        || actions.contains(new Decision.ArmTimer(Step.FINISH));
    if (finishAwaited && actions.contains(new Decision.CancelTimer(Step.PERFORM))) return Outcome.FINISH_DECIDES;
    if (actions.stream().anyMatch(a -> a instanceof Decision.Send)) return Outcome.ASKED_AGAIN;
    return null;
  }

  private static String describe(Object result) {
    if (result instanceof Decision d) return "events " + d.events.stream().map(e -> e.getEventCase().name()).toList()
        + ", actions " + d.actions();
    return String.valueOf(result);
  }
}
