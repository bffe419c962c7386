package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import java.util.List;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.ConfirmRequest;
import org.livemig.messages.ConfirmResult;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;

/**
 * Confirm on the source, its last state: the guest copy is destroyed on success (after the
 * destination runs, never inside the blackout) or resumed on failure; then cleanup runs, then
 * Confirm is answered.
 */
final class SourceConfirm {
  private record CleanedUp(CleanupActor.Finished finished) implements SourceActor.Command {}

  private final ActorContext<SourceActor.Command> ctx;
  private final String migrationId;
  private final MigratableGuest guest;
  private final HostSettings settings;
  private final ActorRef<HostReply> replies;
  private final ActorRef<HostAgent.Command> hostAgent;

  SourceConfirm(ActorContext<SourceActor.Command> ctx, String migrationId, MigratableGuest guest, HostSettings settings,
      ActorRef<HostReply> replies, ActorRef<HostAgent.Command> hostAgent) {
    this.ctx = ctx;
    this.migrationId = migrationId;
    this.guest = guest;
    this.settings = settings;
    this.replies = replies;
    this.hostAgent = hostAgent;
  }

  /**
   * storage: with copy_storage, the disks' moves, which Confirm commits or rolls back and waits for
   * (their cleanup must run before this actor, their parent, stops); the source's disk files are
   * deleted once the destination owns the guest.
   */
  Behavior<SourceActor.Command> confirm(HostCommand cmd, boolean pausedAtBegin, List<ActorRef<CopyActor.Command>> copies,
      SourcePostcopy postcopyRole, SourceStorage storage) {
    List<java.nio.file.Path> copiedDisks = storage == null ? List.of() : storage.sourceFiles();
    disks = storage;
    boolean success = cmd.getConfirm().getSuccess();
    boolean powerOff = !success && cmd.getConfirm().getPowerOff();
    if (storage != null) storage.confirmed(success, powerOff, cmd.getConfirm().getReason());
    MigratableGuest toDestroy = null;
    if (success) {
      toDestroy = guest;
      hostAgent.tell(new HostAgent.GuestReleased(guest.description().getGuestId()));
      ctx.getLog().info("{}: confirmed; the source copy of {} goes", migrationId, guest.description().getGuestId());
    } else if (powerOff) {
      toDestroy = guest; // stopped for good by the cleanup (and by its disk moves); it stays listed here, off
      ctx.getLog().warn("{}: cancelled ({}); source guest {} is powered off, nobody resumes it", migrationId,
          cmd.getConfirm().getReason(), guest.description().getGuestId());
    } else {
      resume(guest, cmd.getConfirm(), pausedAtBegin);
      ctx.getLog().warn("{}: rolled back ({}); source guest {} {}", migrationId, cmd.getConfirm().getReason(),
          guest.description().getGuestId(), pausedAtBegin ? "stays paused, as it was" : "runs");
    }
    ActorRef<CleanupActor.Finished> done = ctx.messageAdapter(CleanupActor.Finished.class, CleanedUp::new);
    hostAgent.tell(new HostAgent.CleanupRequested(migrationId,
        new CleanupActor.Plan("source", List.copyOf(copies), postcopyRole == null ? null : postcopyRole::close,
            toDestroy, success ? copiedDisks : List.of()), done));
    if (storage != null && storage.enabled()) {
      movesDeadline = ctx.scheduleOnce(settings.cleanupStopTimeout().multipliedBy(2), ctx.getSelf(), MovesTimedOut.INSTANCE);
    }
    return awaiting(cmd, success, postcopyRole, storage, null);
  }

  private enum MovesTimedOut implements SourceActor.Command { INSTANCE }

  private akka.actor.Cancellable movesDeadline;
  /** copy_storage: the disks' moves, whose last statuses Confirm's answer carries. */
  private SourceStorage disks;

  /** Answers Confirm once the cleanup is done and every disk move ended (or could not be waited for). */
  private Behavior<SourceActor.Command> awaiting(HostCommand cmd, boolean success, SourcePostcopy postcopyRole,
      SourceStorage storage, CleanupActor.Finished cleaned) {
    if (cleaned != null && (storage == null || storage.allEnded())) {
      if (movesDeadline != null) movesDeadline.cancel();
      replies.tell(Replies.ok(cmd, settings.hostId()).setConfirm(result(cmd, success, postcopyRole, cleaned.teardownMicros()))
          .build());
      return Behaviors.stopped();
    }
    return Behaviors.receive(SourceActor.Command.class)
        .onMessage(CleanedUp.class, m -> awaiting(cmd, success, postcopyRole, storage, m.finished()))
        .onMessage(SourceStorage.Reported.class, m -> {
          storage.onReport(m, reason -> Behaviors.same()); // decided already: it only has to end
          return awaiting(cmd, success, postcopyRole, storage, cleaned);
        })
        .onMessage(SourceStorage.Connected.class, m -> {
          storage.onConnectedLate(m);
          return awaiting(cmd, success, postcopyRole, storage, cleaned);
        })
        .onMessageEquals(MovesTimedOut.INSTANCE, () -> {
          if (storage.allEnded()) return Behaviors.same();
          ctx.getLog().error("{}: disk moves still running {} after Confirm; closing their stream and going on",
              migrationId, settings.cleanupStopTimeout().multipliedBy(2));
          storage.abandon();
          return cleaned == null ? Behaviors.same() : awaiting(cmd, success, postcopyRole, null, cleaned);
        })
        .onMessage(SourceActor.Command.class, m -> Behaviors.same()) // late channel events and stuns: already decided
        .build();
  }

  /**
   * A rollback: the guest runs again unthrottled, owned through the coordinator's token (or its
   * own), unless it was paused when the migration began; its disk requests in flight go on.
   */
  static void resume(MigratableGuest guest, ConfirmRequest confirm, boolean pausedAtBegin) {
    guest.setThrottlePercent(0);
    if (guest.state() == RunState.RUNNING) return;
    String token = confirm.getOwnerToken().isEmpty() ? guest.ownerToken() : confirm.getOwnerToken();
    if (!token.equals(guest.ownerToken())) guest.assignOwner(token);
    if (!pausedAtBegin) guest.run(token);
  }

  private ConfirmResult.Builder result(HostCommand cmd, boolean success, SourcePostcopy postcopyRole,
      long teardownMicros) {
    var result = ConfirmResult.newBuilder().setSourceDestroyed(success)
        .setSourceRunning(guest.state() == RunState.RUNNING).setTeardownUs(teardownMicros)
        .setSourcePoweredOff(!success && cmd.getConfirm().getPowerOff() && guest.state() == RunState.DESTROYED);
    if (disks != null) result.addAllDisks(disks.statuses());
    if (postcopyRole != null) {
      result.setPostcopyPagesSent(postcopyRole.pagesSent()).setPostcopyPagesResent(postcopyRole.pagesResent());
    }
    return result;
  }
}
