package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;
import org.livemig.engine.dataplane.BlockStream;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.disk.DiskMirror;
import org.livemig.engine.storage.MoveTarget;
import org.livemig.engine.storage.StorageMove;
import org.livemig.engine.storage.StorageMoveActor;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.PrepareCookie;

/**
 * copy_storage at the source: the migration's disk stream and one {@link StorageMoveActor} per
 * disk (bulk copy, mirror, READY; pivoted when the switchover is decided, before the stun; committed
 * by Confirm, when the source's files go; a rollback keeps them). The memory copy starts once every
 * disk is READY, as libvirt's NBD mirror before the memory. Used by the SourceActor's actor only.
 */
final class SourceStorage {
  /** The disk stream is connected (stream) or could not be (error). */
  record Connected(BlockStream stream, Throwable error) implements SourceActor.Command {}

  /** A disk's move entered a phase, or ended. */
  record Reported(StorageMoveActor.Report report) implements SourceActor.Command {}

  private final ActorContext<SourceActor.Command> ctx;
  private final String migrationId;
  private final MigratableGuest guest;
  private final HostSettings settings;
  private final boolean enabled;
  private final DiskMirror.Mode mode;
  private final CompletableFuture<Void> commit = new CompletableFuture<>();
  private final Map<String, ActorRef<StorageMoveActor.Command>> moves = new LinkedHashMap<>();
  private final Map<String, DiskMoveStatus> statuses = new LinkedHashMap<>();
  private BlockStream stream;
  private boolean dialing;
  private boolean ending;
  /** What the migration waits for: every disk in phase, then next. */
  private record Waiting(StorageMove.Phase phase, Supplier<Behavior<SourceActor.Command>> next) {}

  private Waiting waiting;

  SourceStorage(ActorContext<SourceActor.Command> ctx, String migrationId, MigratableGuest guest, HostSettings settings,
      MigrationParameters params) {
    this.ctx = ctx;
    this.migrationId = migrationId;
    this.guest = guest;
    this.settings = settings;
    this.enabled = params.getCopyStorage() && guest.description().getDisksCount() > 0;
    this.mode = params.getStorageMode().equals("background") ? DiskMirror.Mode.BACKGROUND
        : DiskMirror.Mode.WRITE_BLOCKING;
  }

  boolean enabled() { return enabled; }

  /** The source's disk files, which Confirm's cleanup deletes once the destination owns the guest. */
  List<java.nio.file.Path> sourceFiles() {
    if (!enabled) return List.of();
    return guest.description().getDisksList().stream().map(d -> guest.disk(d.getDiskId()).file().path()).toList();
  }

  /** Each disk's copy as last reported, for the progress reports. */
  List<DiskMoveStatus> statuses() { return List.copyOf(statuses.values()); }

  /**
   * Dials the disk stream (on the I/O dispatcher: a dial blocks) and starts a move per disk; once
   * every disk is READY, {@link #onReport} becomes ready. The reports reach this through base.
   */
  Behavior<SourceActor.Command> copying(PrepareCookie cookie, DataPlaneSettings dataPlane, long bytesPerSecond,
      BehaviorBuilder<SourceActor.Command> base, Supplier<Behavior<SourceActor.Command>> ready,
      Function<String, Behavior<SourceActor.Command>> failed) {
    var io = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
    ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> BlockStream.connect(cookie.getDataHost(), cookie.getDataPort(),
        migrationId, cookie.getToken(), dataPlane, cookie.getDestinationHost()), io), Connected::new);
    waiting = new Waiting(StorageMove.Phase.READY, ready);
    dialing = true;
    return base
        .onMessage(Connected.class, m -> {
          dialing = false;
          if (m.error() != null) return failed.apply("disk stream: " + m.error().getMessage());
          stream = m.stream();
          if (!ending) {
            startMoves(bytesPerSecond);
            return Behaviors.same();
          }
          stream.close(); // the migration ended while it connected
          return Behaviors.same();
        })
        .build();
  }

  /** The dial ended after the migration had (in Confirm): nothing will use the stream. */
  Behavior<SourceActor.Command> onConnectedLate(Connected m) {
    dialing = false;
    if (m.stream() != null) m.stream().close();
    return Behaviors.same();
  }

  /** Nothing of the disks' copy is left running: no move, no dial in progress. */
  boolean allEnded() {
    return !enabled || (moves.isEmpty() && !dialing);
  }

  /** Confirm could wait no longer: the stream closes (a move blocked on it fails), the moves stop with the actor. */
  void abandon() {
    if (stream != null) stream.close();
  }

  /**
   * The switchover is decided: each disk pivots before the vCPUs stop. Its move stuns it (the guest
   * issues no new request to it, its vCPUs run on), drains the requests in flight (a write-blocking
   * mirror's wait for the destination's durable write included), sends its last blocks and a sync
   * and removes the mirror; the disk stays stunned until Confirm (see StorageMove). So neither the
   * drain nor the disks' last blocks are downtime: the stun that follows finds nothing in flight.
   * The guest sees its disk I/O held for that long, as a slow disk, not a stopped machine.
   */
  void pivot(SwitchoverTimes times, Supplier<Behavior<SourceActor.Command>> pivoted) {
    times.disksPivotStarted();
    waiting = new Waiting(StorageMove.Phase.AWAIT_COMMIT, () -> {
      times.disksPivoted();
      return pivoted.get();
    });
    moves.values().forEach(m -> m.tell(new StorageMoveActor.Pivot()));
  }

  /**
   * A disk's move entered a phase or ended: failed(reason) if it cannot go on while the migration
   * still can fail, the awaited next behavior once every disk got there, else the same.
   */
  Behavior<SourceActor.Command> onReport(Reported m, Function<String, Behavior<SourceActor.Command>> failed) {
    DiskMoveStatus s = m.report().status();
    statuses.put(s.getDiskId(), s);
    if (m.report().ended()) {
      moves.remove(s.getDiskId());
      if (moves.isEmpty() && stream != null) stream.close();
      if (!s.getOutcome().equals("COMPLETED") && !ending) {
        return failed.apply("disk " + s.getDiskId() + ": " + s.getReason());
      }
    }
    Waiting w = waiting;
    if (w == null || ending || !allIn(w.phase())) return Behaviors.same();
    waiting = null;
    if (w.phase() == StorageMove.Phase.AWAIT_COMMIT) stream.close(); // every disk whole there: nothing more to send
    return w.next().get();
  }

  private boolean allIn(StorageMove.Phase p) {
    if (statuses.size() < guest.description().getDisksCount()) return false;
    for (DiskMoveStatus s : statuses.values()) if (!s.getPhase().equals(p.name())) return false;
    return true;
  }

  private void startMoves(long bytesPerSecond) {
    ActorRef<StorageMoveActor.Report> reports = ctx.messageAdapter(StorageMoveActor.Report.class, Reported::new);
    List<DiskDescription> disks = guest.description().getDisksList();
    for (int i = 0; i < disks.size(); i++) {
      String id = disks.get(i).getDiskId();
      var target = new MoveTarget.Remote(stream, i, disks.get(i).getDatastore(), commit);
      // The disks copy side by side: each gets an equal part of the migration's share.
      long each = bytesPerSecond == 0 ? 0 : Math.max(1, bytesPerSecond / disks.size());
      var request = new StorageMoveActor.Request(guest, guest.disk(id), target, mode, each, false);
      moves.put(id, ctx.spawn(StorageMoveActor.create(request, settings.storageMove(), settings.faults().mirror(),
          reports), "disk-" + id));
    }
  }

  /** The migration failed or is rolled back: every disk's move cleans up; the source's files stay its disks. */
  void cancel(String reason) {
    if (!enabled || ending) return;
    ending = true;
    moves.values().forEach(m -> m.tell(new StorageMoveActor.Cancel(reason)));
    if (moves.isEmpty() && stream != null) stream.close();
  }

  /**
   * Confirm: success commits every disk's move (the source's files go); failure rolls them back;
   * powerOff, a failure too, has each move power the guest off (mirror removed, files closed).
   */
  void confirmed(boolean success, boolean powerOff, String reason) {
    if (!enabled) return;
    if (success) commit.complete(null);
    else cancel("migration rolled back: " + reason);
    if (powerOff) moves.values().forEach(m -> m.tell(new StorageMoveActor.PowerOff()));
  }

}
