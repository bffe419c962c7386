package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.ActorContext;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.replication.Checkpointer;
import org.livemig.engine.replication.OutputGate;
import org.livemig.engine.replication.OutputLog;
import org.livemig.engine.replication.ReplicationSettings;
import org.livemig.engine.replication.ReplicationStatus;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionRole;
import org.livemig.messages.ReplicationStatusReport;

/**
 * This host's side of protections (checkpointed replication), driven by a ProtectionCoordinator:
 * as primary it runs a guest's Checkpointer and holds its output until acknowledged; as
 * secondary ({@link SecondaryCopies}) it keeps a copy that never runs and receives checkpoints
 * into it, until a failover runs it or the protection ends. (guest, generation, epoch) names each command: an older one is
 * refused, a repeat is answered alike. Plain code on the host agent's thread; what blocks (a
 * dial, stopping a checkpointer, destroying a copy) runs on the blocking dispatcher and comes
 * back as a message.
 */
final class HostReplication {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(HostReplication.class);

  /** What comes back to the agent from other threads. */
  sealed interface Event extends HostAgent.Command {}

  record Connected(ProtectionCommand command, CheckpointStream stream, Throwable error,
      ActorRef<ProtectionHostReply> replyTo) implements Event {}

  record PrimaryEnded(String guestId, long generation, ReplicationStatus status) implements Event {}

  record StreamEnded(String guestId, long generation, String reason) implements Event {}

  record LeaseOut(String guestId, long generation) implements Event {}

  record Stopped(ProtectionCommand command, MigratableGuest guest, Throwable error, ActorRef<ProtectionHostReply> replyTo)
      implements Event {}

  enum ReportTick implements Event { INSTANCE }

  private static final class Primary {
    final long generation;
    final MigratableGuest guest;
    final OutputGate gate;
    final Checkpointer checkpointer;
    ActorRef<ProtectionHostReply> coordinator;
    long epoch;

    Primary(long generation, MigratableGuest guest, OutputGate gate, Checkpointer checkpointer) {
      this.generation = generation;
      this.guest = guest;
      this.gate = gate;
      this.checkpointer = checkpointer;
    }
  }

  /** What a host's replication roles use of the host. */
  record Parts(ActorContext<HostAgent.Command> ctx, HostSettings settings, ReplicationSettings replication,
      DataPlaneServer dataPlane, HostGuests guests, ActorRef<HostLedger.Command> ledger, OutputLog outputs,
      Executor blocking, ProtectionReplies replies) {}

  private final ActorContext<HostAgent.Command> ctx;
  private final HostSettings settings;
  private final ReplicationSettings replication;
  private final DataPlaneServer dataPlane;
  private final HostGuests guests;
  private final ActorRef<HostLedger.Command> ledger;
  private final OutputLog outputs;
  private final Executor blocking;
  private final Map<String, Primary> primaries = new HashMap<>();
  private final SecondaryCopies secondaries;
  private final ProtectionReplies replies;
  private final Map<String, long[]> seen = new HashMap<>(); // guest -> {generation, epoch}
  /** Renewed by the fence: a host cut off from the majority starts no protection. */
  private final HostLease lease;
  private final Map<String, ActorRef<ProtectionHostReply>> connecting = new HashMap<>();
  /** The newest generation ended here per guest (EndProtection): a late dial of it is closed. */
  private final Map<String, Long> ended = new HashMap<>();
  /** Primaries whose stop is under way, or failed and to be retried: the guest to destroy. */
  private final Map<String, MigratableGuest> stopping = new HashMap<>();

  HostReplication(ActorContext<HostAgent.Command> ctx, HostSettings settings, ReplicationSettings replication,
      DataPlaneServer dataPlane, HostGuests guests, ActorRef<HostLedger.Command> ledger, HostLease lease) {
    this.lease = lease;
    this.ctx = ctx;
    this.settings = settings;
    this.replication = replication;
    this.dataPlane = dataPlane;
    this.guests = guests;
    this.ledger = ledger;
    this.outputs = OutputLog.open(replication.outputLog());
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
    this.replies = new ProtectionReplies(settings.hostId(), ctx.getSystem().address().toString());
    this.secondaries = new SecondaryCopies(new Parts(ctx, settings, replication, dataPlane, guests, ledger, outputs,
        blocking, replies));
  }

  void onCommand(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    long[] last = seen.get(id);
    if (last != null && (c.getGeneration() < last[0] || c.getGeneration() == last[0] && c.getEpoch() < last[1])) {
      replyTo.tell(error(c, ProtectionRole.ROLE_NONE, ErrorKind.ERROR_CONFLICT, "stale command for guest " + id
          + ": generation " + c.getGeneration() + " epoch " + c.getEpoch() + ", this host has seen generation "
          + last[0] + " epoch " + last[1]));
      return;
    }
    seen.put(id, new long[] {c.getGeneration(), c.getEpoch()});
    switch (c.getCommandCase()) {
      case DESCRIBE -> describe(c, replyTo);
      case PREPARE_SECONDARY -> secondaries.prepare(c, replyTo);
      case START_PRIMARY -> startPrimary(c, replyTo);
      case STOP_PRIMARY -> stopPrimary(c, replyTo);
      case FAILOVER -> secondaries.failover(c, replyTo);
      case END -> end(c, replyTo);
      case COMMAND_NOT_SET -> replyTo.tell(error(c, ProtectionRole.ROLE_NONE, ErrorKind.ERROR_INVALID_REQUEST,
          "empty protection command"));
    }
  }

  void on(Event e) {
    if (e instanceof Connected m) connected(m);
    else if (e instanceof PrimaryEnded m) {
      Primary p = primaries.get(m.guestId());
      if (p != null && p.generation == m.generation() && p.coordinator != null) {
        p.coordinator.tell(report(m.guestId(), p, m.status()));
      }
    } else if (e instanceof StreamEnded m) {
      secondaries.streamEnded(m);
    } else if (e instanceof LeaseOut m) {
      secondaries.leaseOut(m);
    } else if (e instanceof Stopped m) stopped(m);
    else if (e instanceof ReportTick) {
      primaries.forEach((id, p) -> {
        if (p.coordinator != null) p.coordinator.tell(report(id, p, p.checkpointer.status()));
      });
      secondaries.reportLeaseOuts();
    }
  }

  /** Guests this host protects as primary (in question when the host is cut off: see HostGuests.fence). */
  boolean isPrimary(String guestId) {
    return primaries.containsKey(guestId);
  }

  private void describe(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Primary p = primaries.get(id);
    String refused = p != null && p.generation == c.getGeneration() ? null : whyNotProtectable(id);
    if (refused != null) {
      ErrorKind kind = guests.get(id) == null ? ErrorKind.ERROR_UNKNOWN_GUEST : ErrorKind.ERROR_CONFLICT;
      replyTo.tell(error(c, ProtectionRole.PRIMARY, kind, refused));
      return;
    }
    replyTo.tell(ok(c, ProtectionRole.PRIMARY).setDescribed(guests.get(id).description()).build());
  }

  private String whyNotProtectable(String id) {
    MigratableGuest g = guests.get(id);
    if (g == null) return "unknown guest " + id + " on host " + settings.hostId();
    if (!(g instanceof SyntheticGuest)) return "guest " + id + " cannot emit checkpointed output";
    if (primaries.containsKey(id)) return "guest " + id + " is protected by an older protection still ending";
    String busy = guests.whyBusy(id);
    return busy != null ? busy : guests.whyMigrating(id);
  }

  private void startPrimary(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Primary p = primaries.get(id);
    if (p != null && p.generation == c.getGeneration()) {
      p.coordinator = replyTo;
      p.epoch = c.getEpoch();
      replyTo.tell(report(id, p, p.checkpointer.status()).toBuilder().setAnswered(true).build());
      return;
    }
    if (connecting.containsKey(id)) { // answered once connected
      connecting.put(id, replyTo);
      return;
    }
    String refused = whyNotProtectable(id);
    if (refused != null) {
      ErrorKind kind = guests.get(id) == null ? ErrorKind.ERROR_UNKNOWN_GUEST : ErrorKind.ERROR_CONFLICT;
      replyTo.tell(error(c, ProtectionRole.PRIMARY, kind, refused));
      return;
    }
    var start = c.getStartPrimary();
    connecting.put(id, replyTo);
    String dataId = id + ".p" + c.getGeneration();
    ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> CheckpointStream.connect(start.getSecondary().getDataHost(),
        start.getSecondary().getDataPort(), dataId, start.getSecondary().getToken(), settings.dataPlane(),
        start.getSecondaryHost()), blocking), (stream, err) -> new Connected(c, stream, err, replyTo));
  }

  private void connected(Connected m) {
    ProtectionCommand c = m.command();
    String id = c.getGuestId();
    ActorRef<ProtectionHostReply> replyTo = connecting.remove(id);
    if (replyTo == null) replyTo = m.replyTo();
    String refused = m.error() != null ? "cannot reach the secondary: " + CopyActor.rootMessage(m.error()) : whyNotProtectable(id);
    long[] last = seen.get(id);
    if (refused == null && (last[0] != c.getGeneration())) refused = "a newer protection of guest " + id + " arrived";
    if (refused == null && !lease.valid()) {
      refused = "host " + settings.hostId() + " cannot reach a majority of the cluster (its lease ran out): it "
          + "starts no protection until it can";
    }
    if (refused == null && ended.getOrDefault(id, 0L) >= c.getGeneration()) {
      refused = "the protection of guest " + id + " (generation " + c.getGeneration() + ") ended meanwhile";
    }
    if (refused != null) {
      if (m.stream() != null) m.stream().close();
      replyTo.tell(error(c, ProtectionRole.PRIMARY, ErrorKind.ERROR_REFUSED, refused));
      return;
    }
    SyntheticGuest guest = (SyntheticGuest) guests.get(id);
    OutputGate gate = new OutputGate(outputs.forGuest(id));
    GuestOutput output = new GuestOutput(replication.stepsPerOutput(), gate);
    guest.setStepListener(output);
    var cs = replication.checkpoints();
    int interval = c.getStartPrimary().getIntervalMs();
    if (interval > 0) cs = cs.withInterval(java.time.Duration.ofMillis(interval));
    Checkpointer checkpointer = new Checkpointer(id + ".p" + c.getGeneration(), guest, guest.ownerToken(), output, gate,
        m.stream(), cs, settings.dataPlane().batchPages());
    checkpointer.haltAt(replication.fault());
    Primary p = new Primary(c.getGeneration(), guest, gate, checkpointer);
    p.coordinator = replyTo;
    p.epoch = c.getEpoch();
    primaries.put(id, p);
    guests.protect(id);
    long generation = c.getGeneration();
    ctx.pipeToSelf(checkpointer.ended(), (status, err) -> new PrimaryEnded(id, generation, status != null ? status
        : checkpointer.status()));
    checkpointer.start();
    ctx.getLog().info("guest {} protected (generation {}): checkpoints to {} every {}", id, generation,
        c.getStartPrimary().getSecondaryHost(), cs.interval());
    replyTo.tell(report(id, p, checkpointer.status()).toBuilder().setAnswered(true).setEpoch(c.getEpoch()).build());
  }

  /** A forced failover: this copy stops for good before the secondary runs; answered once it is destroyed. */
  private void stopPrimary(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    if (stopping.containsKey(id) && stopping.get(id) == null) return; // under way: answered when done
    Primary p = primaries.get(id);
    // Without its entry (an End of a newer generation held it), the primary is the guest still
    // protected here. A guest of that id that is not is another copy (it arrived since, say, after
    // this host restarted): not the primary the failover stops, so it is kept.
    MigratableGuest guest = p != null ? p.guest : stopping.containsKey(id) ? stopping.get(id)
        : guests.isProtected(id) ? guests.get(id) : null;
    if (guest == null) { // no primary of a protection runs here
      if (guests.get(id) != null) {
        ctx.getLog().warn("guest {}: StopPrimary of protection generation {} ({}): the guest here is not a protection's "
            + "primary, so not the copy that failover stops; kept", id, c.getGeneration(), c.getStopPrimary().getReason());
      }
      replyTo.tell(ok(c, ProtectionRole.PRIMARY).build());
      return;
    }
    ctx.getLog().warn("guest {}: stopping the primary for a failover ({})", id, c.getStopPrimary().getReason());
    if (p != null) p.checkpointer.hold(); // a checkpoint in its pause must not resume it
    stopping.put(id, null); // still one of this host's guests (the fence, the agent's stop see it) until destroyed
    // Its disk files are its own (a protected guest's copy has files of its own on the secondary):
    // garbage once it is destroyed for a failover.
    java.util.List<java.nio.file.Path> files = GuestDiskFiles.of(guest);
    ctx.pipeToSelf(CompletableFuture.runAsync(() -> {
      try {
        if (p != null) p.checkpointer.close();
      } finally {
        guest.destroy(); // stops the workload whatever state it is in
      }
      GuestDiskFiles.deleteEach(files, "the stopped primary of guest " + id);
    }, blocking), (v, err) -> new Stopped(c, guest, err, replyTo));
  }

  private void stopped(Stopped m) {
    String id = m.command().getGuestId();
    primaries.remove(id);
    if (m.error() != null && m.guest().state() != org.livemig.engine.guest.RunState.DESTROYED) {
      // Still protected here (in question for the fence, not run again by unprotect) until stopped.
      stopping.put(id, m.guest()); // the next StopPrimary tries again; until then it is not stopped
      ctx.getLog().error("guest {}: stopping the primary failed: {}", id, CopyActor.rootMessage(m.error()));
      m.replyTo().tell(error(m.command(), ProtectionRole.PRIMARY, ErrorKind.ERROR_REFUSED, "stopping the primary failed: "
          + CopyActor.rootMessage(m.error())));
      return;
    }
    if (m.error() != null) ctx.getLog().warn("guest {}: stopped, with an error on the way: {}", id, CopyActor.rootMessage(m.error()));
    guests.unprotect(id);
    stopping.remove(id);
    guests.release(id);
    ledger.tell(new HostLedger.Record(HostLedger.released(id)));
    ctx.getLog().warn("guest {}: primary stopped for good (failover)", id);
    m.replyTo().tell(ok(m.command(), ProtectionRole.PRIMARY).build());
  }

  private void end(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    ended.put(id, c.getGeneration()); // a dial still under way for it must not start a checkpointer
    ActorRef<ProtectionHostReply> dialing = connecting.remove(id);
    if (dialing != null) ctx.getLog().info("protection of guest {} ended while its stream was being dialled", id);
    Primary p = primaries.get(id);
    if (p != null && p.generation < c.getGeneration()) {
      // The coordinator moved on without this primary's answer: its protection may have failed
      // over elsewhere, so its guest must not run again on this End. Held, kept paused, said so.
      primaries.remove(id);
      p.checkpointer.hold();
      if (p.guest.state() == org.livemig.engine.guest.RunState.RUNNING) p.guest.pause();
      CompletableFuture.runAsync(p.checkpointer::close, blocking);
      ctx.getLog().error("guest {}: the End of protection generation {} found the primary of generation {} still here: "
          + "kept paused (that protection may have failed over elsewhere); an operator decides", id, c.getGeneration(),
          p.generation);
      replyTo.tell(ok(c, ProtectionRole.PRIMARY).setEnded(true).build());
      return;
    }
    if (p != null && p.generation == c.getGeneration()) {
      primaries.remove(id);
      ctx.getLog().info("protection of guest {} ended here (primary): {}", id, c.getEnd().getReason());
      CompletableFuture.runAsync(p.checkpointer::close, blocking).whenComplete((v, err) -> {
        if (err != null) log.error("guest {}: closing its checkpointer failed: {}", id, CopyActor.rootMessage(err)); // off the actor
        p.gate.releaseAll();
      });
      guests.unprotect(id);
      replyTo.tell(ok(c, ProtectionRole.PRIMARY).setEnded(true).build());
      return;
    }
    boolean copy = secondaries.end(id, c.getGeneration());
    replyTo.tell(ok(c, copy ? ProtectionRole.SECONDARY : ProtectionRole.ROLE_NONE).setEnded(true).build());
  }

  /**
   * The host fences itself: from now on no checkpoint resumes a protected guest after its pause,
   * and no new protection starts here while its lease is out. Returns the guests a checkpoint
   * had paused at that moment (they stay paused: the fence counts them as its own).
   */
  java.util.Set<String> holdAll() {
    java.util.Set<String> inPause = new java.util.TreeSet<>();
    primaries.forEach((id, p) -> {
      if (p.checkpointer.hold()) inPause.add(id);
    });
    return inPause;
  }

  /** The agent stopped: no primary may go on checkpointing (or resume its guest), no copy be kept. */
  void stopAll() {
    holdAll();
    primaries.values().forEach(p -> CompletableFuture.runAsync(p.checkpointer::close, blocking));
    secondaries.stopAll();
  }

  private ProtectionHostReply report(String guestId, Primary p, ReplicationStatus st) {
    return replies.unprompted(guestId, p.generation, p.epoch, ProtectionRole.PRIMARY).setStatus(
        ReplicationStatusReport.newBuilder().setState(st.state().name()).setCheckpoints(st.checkpoints())
            .setLastCheckpoint(st.lastCheckpoint()).setLastCheckpointAgeMs(st.lastCheckpointAgeMillis())
            .setLastCheckpointBytes(st.lastCheckpointBytes()).setLastPauseUs(st.lastPauseMicros())
            .setP50PauseUs(st.p50PauseMicros()).setP99PauseUs(st.p99PauseMicros()).setSyncBytes(st.syncBytes())
            .setFailure(st.failure() == null ? "" : st.failure()).setFenced(guests.fenced(guestId)).setLeaseStopped(p.checkpointer.leaseStopped())).build();
  }

  private ProtectionHostReply.Builder ok(ProtectionCommand c, ProtectionRole role) {
    return replies.ok(c, role);
  }

  private ProtectionHostReply error(ProtectionCommand c, ProtectionRole role, ErrorKind kind, String why) {
    return replies.error(c, role, kind, why);
  }


}
