package org.livemig.engine.storage;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.disk.DiskMirror;
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.guest.disk.VirtualDisk;
import org.livemig.engine.storage.StorageMove.End;
import org.livemig.engine.storage.StorageMove.Outcome;
import org.livemig.engine.storage.StorageMove.Phase;
import org.livemig.engine.storage.StorageMove.State;
import org.livemig.messages.DiskMoveStatus;
import org.slf4j.Logger;

/**
 * One disk move on one host: runs the action of each phase of {@link StorageMove} on its own
 * thread (file I/O, the bulk copy, drains: blocking) and feeds back how it ended; takes pivot,
 * cancel and power-off requests at any time. The state machine decides; this only does.
 */
public final class StorageMoveActor {
  public sealed interface Command permits Pivot, Cancel, PowerOff, GetStatus, ActionEnded, MirrorFailed, Tick {}

  /** Progress for whoever started the move, between phase changes (a long bulk copy). */
  private enum Tick implements Command { INSTANCE }

  private static final java.time.Duration REPORT_INTERVAL = java.time.Duration.ofSeconds(1);

  public record Pivot() implements Command {}

  public record Cancel(String reason) implements Command {}

  /** The guest is powered off: it ends with the move, on whichever disk it is then. */
  public record PowerOff() implements Command {}

  public record GetStatus(ActorRef<DiskMoveStatus> replyTo) implements Command {}

  private record ActionEnded(Phase phase, String error) implements Command {}

  private record MirrorFailed(String reason) implements Command {}

  /** Told to whoever started the move at each phase it enters; the last one has the outcome. */
  public record Report(DiskMoveStatus status) implements LivemigMessage {
    public boolean ended() {
      return !status.getOutcome().equals("RUNNING");
    }
  }

  /**
   * What to move where. A remote target (another host) is pivoted when asked (at the migration's
   * switchover) and committed by the migration's Confirm; autoPivot applies to local ones.
   */
  public record Request(MigratableGuest guest, VirtualDisk disk, MoveTarget target, DiskMirror.Mode mode,
      long bytesPerSecond, boolean autoPivot) {
    boolean remote() {
      return target instanceof MoveTarget.Remote;
    }
  }

  public static Behavior<Command> create(Request request, MoveSettings settings, MirrorFaults faults,
      ActorRef<Report> reports) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Tick.INSTANCE, REPORT_INTERVAL);
      return new StorageMoveActor(ctx, request, settings, faults, reports).running();
    }));
  }

  private final ActorContext<Command> ctx;
  private final Logger log;
  private final Request request;
  private final MoveSettings settings;
  private final ActorRef<Report> reports;
  private final ExecutorService thread;
  private final MoveActions actions;
  private State state;
  private final java.util.List<String> phases = new java.util.ArrayList<>();
  /** Completed when the running action should stop early (see {@link StorageMove#shouldStop}). */
  private CompletableFuture<Void> stop = new CompletableFuture<>();

  private StorageMoveActor(ActorContext<Command> ctx, Request request, MoveSettings settings, MirrorFaults faults,
      ActorRef<Report> reports) {
    this.ctx = ctx;
    this.log = ctx.getLog();
    this.request = request;
    this.settings = settings;
    this.reports = reports;
    String name = "move-" + request.guest().description().getGuestId() + "-" + request.disk().diskId();
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
    this.actions = new MoveActions(request, settings, faults, reason -> ctx.getSelf().tell(new MirrorFailed(reason)));
    this.state = request.remote() ? StorageMove.startRemote(request.mode())
        : StorageMove.start(request.mode(), request.autoPivot());
    log.info("disk {} of guest {}: moving from datastore {} to {}{} ({}, {} pivot)", request.disk().diskId(),
        guestId(), request.disk().description().getDatastore(), request.target().datastore(),
        request.remote() ? " on the destination host" : "", actions.modeName(),
        request.remote() ? "switchover" : request.autoPivot() ? "automatic" : "manual");
    runPhase();
  }

  private String guestId() {
    return request.guest().description().getGuestId();
  }

  private Behavior<Command> running() {
    return Behaviors.receive(Command.class)
        .onMessage(ActionEnded.class, this::onActionEnded)
        .onMessage(Pivot.class, p -> request(StorageMove.pivotRequested(state)))
        .onMessage(Cancel.class, c -> request(StorageMove.endRequested(state, new End(Outcome.CANCELLED, c.reason(), false))))
        .onMessage(PowerOff.class, p -> request(StorageMove.endRequested(state,
            new End(Outcome.CANCELLED, "the guest was powered off during the move", true))))
        .onMessage(MirrorFailed.class, f -> request(StorageMove.endRequested(state, new End(Outcome.FAILED, f.reason(), false))))
        .onMessageEquals(Tick.INSTANCE, () -> {
          reports.tell(new Report(status()));
          return Behaviors.same();
        })
        .onMessage(GetStatus.class, g -> {
          g.replyTo().tell(status());
          return Behaviors.same();
        })
        .onSignal(akka.actor.typed.PostStop.class, sig -> {
          // The host agent stopped (its node is going): nobody would see the next phases. The
          // running action stops; the guest was paused with the agent and never resumes here.
          if (!state.ended() && !state.has(StorageMove.Flag.PIVOTED)) {
            log.warn("disk {} of guest {}: move abandoned in {}: whoever started it stopped", request.disk().diskId(),
                guestId(), state.phase());
          }
          stop.complete(null);
          thread.shutdown();
          actions.abandon(); // never leave the disk stunned or a mirror in its write path
          return Behaviors.same();
        })
        .build();
  }

  private Behavior<Command> request(State next) {
    if (next.end() != null && state.end() == null) {
      log.warn("disk {} of guest {}: move ends in {}: {}", request.disk().diskId(), guestId(), state.phase(),
          next.end().reason());
    }
    state = next;
    if (StorageMove.shouldStop(state)) stop.complete(null);
    return Behaviors.same();
  }

  private Behavior<Command> onActionEnded(ActionEnded a) {
    if (a.phase() != state.phase()) return Behaviors.same();
    if (a.error() != null) {
      log.warn("disk {} of guest {}: {} failed: {}", request.disk().diskId(), guestId(), a.phase(), a.error());
    }
    state = StorageMove.completed(state, a.error());
    if (state.phase() == Phase.READY) {
      log.info("disk {} of guest {}: READY ({} left to copy)", request.disk().diskId(), guestId(),
          actions.remainingBytes());
    }
    if (state.ended()) return finished();
    runPhase();
    return Behaviors.same();
  }

  /** Starts the current phase's action on the move's thread. */
  private void runPhase() {
    stop = new CompletableFuture<>();
    if (StorageMove.shouldStop(state)) stop.complete(null);
    Phase phase = state.phase();
    phases.add(phase.name());
    reports.tell(new Report(status()));
    CompletableFuture<Void> stopped = stop;
    ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> actions.run(phase, stopped), thread),
        (error, thrown) -> new ActionEnded(phase, thrown != null ? String.valueOf(thrown) : error));
  }

  private Behavior<Command> finished() {
    phases.add(Phase.DONE.name()); // the path's end: no action runs for it
    DiskMoveStatus last = status();
    thread.shutdown();
    if (state.outcome() == Outcome.COMPLETED) {
      log.info("disk {} of guest {}: move COMPLETED: the disk is on datastore {}{}", request.disk().diskId(), guestId(),
          request.target().datastore(), state.has(StorageMove.Flag.POWERED_OFF) ? " (the guest was powered off after the pivot)" : "");
    } else {
      log.warn("disk {} of guest {}: move {}: {}; the disk stays on datastore {}", request.disk().diskId(), guestId(),
          state.outcome(), state.end().reason(), last.getSourceDatastore());
    }
    reports.tell(new Report(last));
    return Behaviors.stopped();
  }

  private DiskMoveStatus status() {
    return actions.status(state, phases);
  }
}
