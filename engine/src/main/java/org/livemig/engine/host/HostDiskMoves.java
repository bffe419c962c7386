package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.AskPattern;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.disk.DiskMirror;
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.guest.disk.VirtualDisk;
import org.livemig.engine.storage.MoveTarget;
import org.livemig.engine.storage.StorageMoveActor;
import org.livemig.messages.DiskMoveRequest;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.GuestCommandRequest;
import org.livemig.messages.GuestCommandResult;
import org.livemig.messages.Refusal;

/**
 * An operator's guest commands on this host: disk moves (start, pivot, cancel, status) and power
 * off. Each move runs in its own {@link StorageMoveActor}; ended ones are kept for status. Plain
 * code, used only from the agent's actor.
 */
final class HostDiskMoves {
  private static final java.time.Duration STATUS_TIMEOUT = java.time.Duration.ofSeconds(3);

  private final ActorContext<HostAgent.Command> ctx;
  private final HostSettings settings;
  private final HostGuests guests;
  private final Supplier<MirrorFaults> faults;
  private final ActorRef<StorageMoveActor.Report> reports;
  /** Running moves by "guest/disk". */
  private final Map<String, ActorRef<StorageMoveActor.Command>> running = new HashMap<>();
  private final Map<String, DiskMoveStatus> endedMoves = new LinkedHashMap<>();

  HostDiskMoves(ActorContext<HostAgent.Command> ctx, HostSettings settings, HostGuests guests,
      Supplier<MirrorFaults> faults) {
    this.ctx = ctx;
    this.settings = settings;
    this.guests = guests;
    this.faults = faults;
    this.reports = ctx.messageAdapter(StorageMoveActor.Report.class, HostAgent.DiskMoveReported::new);
  }

  private static String key(String guestId, String diskId) {
    return guestId + "/" + diskId;
  }

  void onCommand(GuestCommandRequest r, ActorRef<GuestCommandResult> replyTo) {
    String guestId = r.getGuestId();
    MigratableGuest g = guests.get(guestId);
    if (g == null) {
      replyTo.tell(refused(ErrorKind.ERROR_UNKNOWN_GUEST, "guest_id", "unknown guest " + guestId + " on host "
          + settings.hostId()));
      return;
    }
    GuestCommandResult refusal = switch (r.getCommandCase()) {
      case MOVE_DISK -> startMove(g, r.getMoveDisk());
      case PIVOT_DISK -> tell(guestId, r.getPivotDisk(), new StorageMoveActor.Pivot(), "pivot");
      case CANCEL_MOVE -> tell(guestId, r.getCancelMove(), new StorageMoveActor.Cancel("cancelled by an operator"), "cancel");
      case POWER_OFF -> powerOff(g, replyTo);
      case MOVES -> null;
      default -> refused(ErrorKind.ERROR_INVALID_REQUEST, "command", "no command given for guest " + guestId);
    };
    if (refusal != null) replyTo.tell(refusal);
    else if (r.getCommandCase() != GuestCommandRequest.CommandCase.POWER_OFF || !movesOf(guestId).isEmpty()) {
      answerWithMoves(g, replyTo);
    }
  }

  /**
   * The guest's moves: the running ones each asked now, the ended ones as they ended. The asks'
   * answers come back through the agent: a move that ends meanwhile (its ask then fails) has its
   * last status in endedMoves by then, since it reported before it stopped.
   */
  private void answerWithMoves(MigratableGuest g, ActorRef<GuestCommandResult> replyTo) {
    Map<String, CompletableFuture<DiskMoveStatus>> asks = new LinkedHashMap<>();
    running.forEach((k, m) -> {
      if (k.startsWith(g.description().getGuestId() + "/")) {
        asks.put(k, AskPattern.<StorageMoveActor.Command, DiskMoveStatus>ask(m, StorageMoveActor.GetStatus::new,
            STATUS_TIMEOUT, ctx.getSystem().scheduler()).toCompletableFuture());
      }
    });
    ctx.pipeToSelf(CompletableFuture.allOf(asks.values().toArray(CompletableFuture[]::new)).handle((v, e) -> v),
        (v, e) -> new HostAgent.MovesAsked(g, asks, replyTo));
  }

  /** The asks of {@link #answerWithMoves} are done: answer with the moves as they are now. */
  void onMovesAsked(HostAgent.MovesAsked m) {
    String guestId = m.guest().description().getGuestId();
    GuestCommandResult.Builder b = GuestCommandResult.newBuilder().setGuestState(m.guest().state().name());
    endedMoves.forEach((k, s) -> {
      if (k.startsWith(guestId + "/")) b.addMoves(s);
    });
    m.asks().forEach((k, ask) -> {
      if (endedMoves.containsKey(k)) return; // ended meanwhile: listed above, as it ended
      if (ask.isCompletedExceptionally()) {
        ctx.getLog().warn("guest {}: the move of disk {} did not answer its status: {}", guestId,
            k.substring(guestId.length() + 1), ask.handle((v, e) -> e).join().toString());
      } else {
        b.addMoves(ask.join());
      }
    });
    m.replyTo().tell(b.build());
  }

  private GuestCommandResult startMove(MigratableGuest g, DiskMoveRequest m) {
    String guestId = g.description().getGuestId();
    VirtualDisk disk = g.disk(m.getDiskId());
    if (disk == null) {
      return refused(ErrorKind.ERROR_INVALID_REQUEST, "disk_id", "guest " + guestId + " has no disk '" + m.getDiskId() + "'");
    }
    DiskMirror.Mode mode = switch (m.getMode()) {
      case "", "write-blocking" -> DiskMirror.Mode.WRITE_BLOCKING;
      case "background" -> DiskMirror.Mode.BACKGROUND;
      default -> null;
    };
    if (mode == null) {
      return refused(ErrorKind.ERROR_INVALID_REQUEST, "mode", "mode must be write-blocking or background, was '"
          + m.getMode() + "'");
    }
    if (m.getDatastore().equals(disk.description().getDatastore())) {
      return refused(ErrorKind.ERROR_INVALID_REQUEST, "datastore", "disk " + m.getDiskId() + " of guest " + guestId
          + " is on datastore " + m.getDatastore() + " already");
    }
    Path target;
    try {
      target = settings.datastores().file(settings.hostId(), guestId, disk.description().toBuilder()
          .setDatastore(m.getDatastore()).build());
    } catch (IllegalArgumentException e) {
      return refused(ErrorKind.ERROR_INVALID_REQUEST, "datastore", e.getMessage());
    }
    String busy = guests.whyBusy(guestId);
    if (busy != null) return refused(ErrorKind.ERROR_CONFLICT, "", busy);
    if (g.state() == RunState.DESTROYED) {
      return refused(ErrorKind.ERROR_CONFLICT, "", "guest " + guestId + " is powered off");
    }
    String k = key(guestId, m.getDiskId());
    if (running.containsKey(k)) {
      return refused(ErrorKind.ERROR_CONFLICT, "", "disk " + m.getDiskId() + " of guest " + guestId + " is being moved already");
    }
    var to = new MoveTarget.Local(guestId, m.getDatastore(), target, java.util.UUID.randomUUID().toString());
    var request = new StorageMoveActor.Request(g, disk, to, mode, m.getMaxBandwidthBytesPerSecond(), !m.getManualPivot());
    running.put(k, ctx.spawnAnonymous(StorageMoveActor.create(request, settings.storageMove(), faults.get(), reports)));
    guests.diskMoveStarted(guestId);
    endedMoves.remove(k);
    return null;
  }

  private GuestCommandResult tell(String guestId, String diskId, StorageMoveActor.Command c, String verb) {
    ActorRef<StorageMoveActor.Command> move = running.get(key(guestId, diskId));
    if (move == null) {
      return refused(ErrorKind.ERROR_CONFLICT, "", "no move of disk " + diskId + " of guest " + guestId
          + " is in progress to " + verb);
    }
    move.tell(c);
    return null;
  }

  /**
   * Stops the guest for good. A guest moving a disk is powered off by its move (the mirror
   * removed, the files closed, nothing resumes). One that is migrating is refused with its
   * migration named: only the coordinator may decide that nobody resumes it (the client asks it).
   */
  private GuestCommandResult powerOff(MigratableGuest g, ActorRef<GuestCommandResult> replyTo) {
    String guestId = g.description().getGuestId();
    String migrating = guests.whyMigrating(guestId);
    if (migrating != null) {
      return refused(ErrorKind.ERROR_CONFLICT, "", migrating + ": its coordinator powers the guest off")
          .toBuilder().setMigrationId(guests.migrationOf(guestId)).build();
    }
    String arriving = guests.whyArriving(guestId);
    if (arriving != null) return refused(ErrorKind.ERROR_CONFLICT, "", arriving);
    List<ActorRef<StorageMoveActor.Command>> moves = movesOf(guestId);
    ctx.getLog().warn("guest {} on {}: powered off by an operator{}", guestId, settings.hostId(),
        moves.isEmpty() ? "" : " during " + moves.size() + " disk move(s)");
    if (!moves.isEmpty()) {
      moves.forEach(m -> m.tell(new StorageMoveActor.PowerOff()));
      return null;
    }
    // Blocking (the workload stops, disk requests end, files close): not on the agent's thread.
    var blockingIo = ctx.getSystem().dispatchers().lookup(
        akka.actor.typed.DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
    CompletableFuture.runAsync(g::destroy, blockingIo).whenComplete((v, e) -> {
      if (e != null) {
        ctx.getSystem().log().error("guest {}: power off failed", guestId, e);
        replyTo.tell(refused(ErrorKind.ERROR_REFUSED, "", "power off of guest " + guestId + " failed: " + e));
      } else {
        replyTo.tell(GuestCommandResult.newBuilder().setGuestState(g.state().name()).build());
      }
    });
    return null;
  }

  private List<ActorRef<StorageMoveActor.Command>> movesOf(String guestId) {
    List<ActorRef<StorageMoveActor.Command>> out = new ArrayList<>();
    running.forEach((k, v) -> {
      if (k.startsWith(guestId + "/")) out.add(v);
    });
    return out;
  }

  void onReport(StorageMoveActor.Report r) {
    if (r.ended()) onEnded(r.status());
  }

  private void onEnded(DiskMoveStatus s) {
    String k = key(s.getGuestId(), s.getDiskId());
    running.remove(k);
    if (movesOf(s.getGuestId()).isEmpty()) guests.diskMoveEnded(s.getGuestId());
    endedMoves.put(k, s);
    var it = endedMoves.keySet().iterator();
    while (endedMoves.size() > settings.storageMove().keepEnded()) {
      it.next();
      it.remove();
    }
  }

  private static GuestCommandResult refused(ErrorKind kind, String field, String message) {
    return GuestCommandResult.newBuilder().setRefusal(Refusal.newBuilder().setKind(kind).setField(field)
        .setMessage(message)).build();
  }
}
