package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.ActorContext;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.livemig.engine.dataplane.AppliedCheckpoint;
import org.livemig.engine.dataplane.CheckpointReceiver;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.replication.Checkpointer;
import org.livemig.engine.replication.Failover;
import org.livemig.engine.replication.OutputGate;
import org.livemig.engine.replication.OutputLog;
import org.livemig.engine.replication.ReplicationSettings;
import org.livemig.engine.replication.ReplicationStatus;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.FailoverResult;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionRole;
import org.livemig.messages.ReplicationStatusReport;
import org.livemig.messages.SecondaryCookie;
import org.livemig.messages.StreamKind;

/**
 * This host's side of protections (checkpointed replication), driven by a ProtectionCoordinator:
 * as primary it runs a guest's Checkpointer and holds its output until acknowledged; as
 * secondary it keeps a copy that never runs and receives checkpoints into it, until a failover
 * runs it or the protection ends. (guest, generation, epoch) names each command: an older one is
 * refused, a repeat is answered alike. Plain code on the host agent's thread; what blocks (a
 * dial, stopping a checkpointer, destroying a copy) runs on the blocking dispatcher and comes
 * back as a message.
 */
final class HostReplication {
  private static final SecureRandom TOKENS = new SecureRandom();

  /** What comes back to the agent from other threads. */
  sealed interface Event extends HostAgent.Command {}

  record Connected(ProtectionCommand command, CheckpointStream stream, Throwable error,
      ActorRef<ProtectionHostReply> replyTo) implements Event {}

  record PrimaryEnded(String guestId, long generation, ReplicationStatus status) implements Event {}

  record StreamEnded(String guestId, long generation, String reason) implements Event {}

  record Stopped(ProtectionCommand command, Throwable error, ActorRef<ProtectionHostReply> replyTo) implements Event {}

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

  private static final class Secondary {
    final long generation;
    final String dataId;
    final SyntheticGuest guest;
    final CheckpointReceiver receiver;
    final SecondaryCookie cookie;
    ActorRef<ProtectionHostReply> coordinator;
    long epoch;
    FailoverResult failedOver;

    Secondary(long generation, String dataId, SyntheticGuest guest, CheckpointReceiver receiver, SecondaryCookie cookie) {
      this.generation = generation;
      this.dataId = dataId;
      this.guest = guest;
      this.receiver = receiver;
      this.cookie = cookie;
    }
  }

  private final ActorContext<HostAgent.Command> ctx;
  private final HostSettings settings;
  private final ReplicationSettings replication;
  private final DataPlaneServer dataPlane;
  private final HostGuests guests;
  private final ActorRef<HostLedger.Command> ledger;
  private final OutputLog outputs;
  private final Executor blocking;
  private final Map<String, Primary> primaries = new HashMap<>();
  private final Map<String, Secondary> secondaries = new HashMap<>();
  private final Map<String, long[]> seen = new HashMap<>(); // guest -> {generation, epoch}
  private final Map<String, ActorRef<ProtectionHostReply>> connecting = new HashMap<>();

  HostReplication(ActorContext<HostAgent.Command> ctx, HostSettings settings, ReplicationSettings replication,
      DataPlaneServer dataPlane, HostGuests guests, ActorRef<HostLedger.Command> ledger) {
    this.ctx = ctx;
    this.settings = settings;
    this.replication = replication;
    this.dataPlane = dataPlane;
    this.guests = guests;
    this.ledger = ledger;
    this.outputs = OutputLog.open(replication.outputLog());
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
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
      case PREPARE_SECONDARY -> prepareSecondary(c, replyTo);
      case START_PRIMARY -> startPrimary(c, replyTo);
      case STOP_PRIMARY -> stopPrimary(c, replyTo);
      case FAILOVER -> failover(c, replyTo);
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
      Secondary s = secondaries.get(m.guestId());
      if (s != null && s.generation == m.generation() && s.coordinator != null && s.failedOver == null) {
        s.coordinator.tell(base(m.guestId(), s.generation, s.epoch, ProtectionRole.SECONDARY).setHost(settings.hostId()).setOk(true)
            .setStreamEnded(m.reason()).build());
      }
    } else if (e instanceof Stopped m) stopped(m);
    else if (e instanceof ReportTick) {
      primaries.forEach((id, p) -> {
        if (p.coordinator != null) p.coordinator.tell(report(id, p, p.checkpointer.status()));
      });
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
    if (!g.disks().isEmpty()) return "guest " + id + " has disks: checkpoints do not carry disk writes yet";
    if (!(g instanceof SyntheticGuest)) return "guest " + id + " cannot emit checkpointed output";
    if (primaries.containsKey(id)) return "guest " + id + " is protected by an older protection still ending";
    String busy = guests.whyBusy(id);
    return busy != null ? busy : guests.whyMigrating(id);
  }

  private void prepareSecondary(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Secondary s = secondaries.get(id);
    if (s != null && s.generation == c.getGeneration()) {
      s.coordinator = replyTo;
      s.epoch = c.getEpoch();
      replyTo.tell(ok(c, ProtectionRole.SECONDARY).setCookie(s.cookie).build());
      return;
    }
    if (s != null) endSecondary(id, s); // an older protection's copy
    if (guests.get(id) != null) {
      replyTo.tell(error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_CONFLICT, "guest " + id + " already exists on host "
          + settings.hostId() + ": it cannot keep a copy of it"));
      return;
    }
    var d = c.getPrepareSecondary().getGuest();
    String dataId = id + ".p" + c.getGeneration();
    SyntheticGuest copy;
    try {
      copy = guests.emptyCopy(d);
    } catch (RuntimeException | OutOfMemoryError e) {
      replyTo.tell(error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_REFUSED, "cannot hold a copy of guest " + id
          + ": " + e.getMessage()));
      return;
    }
    long generation = c.getGeneration();
    CheckpointReceiver receiver = new CheckpointReceiver(dataId, copy, replication.checkpoints().maxCheckpointBytes(),
        settings.dataPlane(), new CheckpointReceiver.Listener() {
          @Override
          public void streamEnded(String reason, AppliedCheckpoint last) {
            ctx.getSelf().tell(new StreamEnded(id, generation, reason));
          }
        });
    byte[] raw = new byte[32];
    TOKENS.nextBytes(raw);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    dataPlane.expectStreamOnly(dataId, token, StreamKind.CHECKPOINT, receiver, c.getPrepareSecondary().getPrimaryHost());
    String host = settings.advertisedHost().isEmpty() ? settings.dataBindHost() : settings.advertisedHost();
    int port = settings.advertisedPort() == 0 ? dataPlane.port() : settings.advertisedPort();
    s = new Secondary(generation, dataId, copy, receiver, SecondaryCookie.newBuilder().setDataHost(host)
        .setDataPort(port).setToken(token).build());
    s.coordinator = replyTo;
    s.epoch = c.getEpoch();
    secondaries.put(id, s);
    ctx.getLog().info("secondary of guest {} (generation {}) prepared: {} pages, checkpoint stream on {}:{}", id,
        generation, d.getPageCount(), host, port);
    replyTo.tell(ok(c, ProtectionRole.SECONDARY).setCookie(s.cookie).build());
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
      replyTo.tell(error(c, ProtectionRole.PRIMARY, ErrorKind.ERROR_CONFLICT, refused));
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
    String refused = m.error() != null ? "cannot reach the secondary: " + rootMessage(m.error()) : whyNotProtectable(id);
    long[] last = seen.get(id);
    if (refused == null && (last[0] != c.getGeneration())) refused = "a newer protection of guest " + id + " arrived";
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

  /** A forced failover: this copy stops for good before the secondary runs. */
  private void stopPrimary(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Primary p = primaries.get(id);
    MigratableGuest guest = p != null ? p.guest : guests.get(id);
    if (guest == null) { // nothing runs here
      replyTo.tell(ok(c, ProtectionRole.PRIMARY).build());
      return;
    }
    ctx.getLog().warn("guest {}: stopping the primary for a failover ({})", id, c.getStopPrimary().getReason());
    guests.release(id); // from now on nobody here may run it
    ctx.pipeToSelf(CompletableFuture.runAsync(() -> {
      if (p != null) p.checkpointer.close(); // before the pause: a checkpoint in progress resumes the guest
      guest.pause().toCompletableFuture().join();
      guest.destroy();
    }, blocking), (v, err) -> new Stopped(c, err, replyTo));
  }

  private void stopped(Stopped m) {
    String id = m.command().getGuestId();
    primaries.remove(id);
    guests.unprotect(id);
    ledger.tell(new HostLedger.Record(HostLedger.released(id)));
    if (m.error() != null) {
      ctx.getLog().error("guest {}: stopping the primary failed: {}", id, rootMessage(m.error()));
      m.replyTo().tell(error(m.command(), ProtectionRole.PRIMARY, ErrorKind.ERROR_REFUSED, "stopping the primary failed: "
          + rootMessage(m.error())));
      return;
    }
    ctx.getLog().warn("guest {}: primary stopped for good (failover)", id);
    m.replyTo().tell(ok(m.command(), ProtectionRole.PRIMARY).build());
  }

  private void failover(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Secondary s = secondaries.get(id);
    if (s == null || s.generation != c.getGeneration()) {
      replyTo.tell(error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_UNKNOWN_GUEST, "no copy of guest " + id
          + " (protection generation " + c.getGeneration() + ") on host " + settings.hostId()));
      return;
    }
    if (s.failedOver == null) {
      if (guests.get(id) != null) {
        replyTo.tell(error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_CONFLICT, "guest " + id + " already runs on "
            + settings.hostId()));
        return;
      }
      GuestOutput output = new GuestOutput(replication.stepsPerOutput(), outputs.forGuest(id));
      s.guest.setStepListener(output);
      AppliedCheckpoint from;
      try {
        from = Failover.resume(s.receiver, s.guest, output, c.getFailover().getOwnerToken());
      } catch (IllegalStateException e) {
        replyTo.tell(error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_REFUSED, e.getMessage()));
        return;
      }
      dataPlane.forget(s.dataId);
      guests.failedOver(s.guest);
      ledger.tell(new HostLedger.Record(HostLedger.owned(s.guest.description())));
      s.failedOver = FailoverResult.newBuilder().setCheckpoint(from.checkpoint()).setSteps(from.steps())
          .setOutputsUpto(from.outputsUpto()).build();
      ctx.getLog().warn("guest {} failed over to {}: runs from checkpoint {} (step {}, outputs up to {})", id,
          settings.hostId(), from.checkpoint(), from.steps(), from.outputsUpto());
    }
    replyTo.tell(ok(c, ProtectionRole.SECONDARY).setFailedOver(s.failedOver).build());
  }

  private void end(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Primary p = primaries.get(id);
    if (p != null && p.generation <= c.getGeneration()) {
      primaries.remove(id);
      ctx.getLog().info("protection of guest {} ended here (primary): {}", id, c.getEnd().getReason());
      CompletableFuture.runAsync(p.checkpointer::close, blocking).whenComplete((v, err) -> p.gate.releaseAll());
      guests.unprotect(id);
      replyTo.tell(ok(c, ProtectionRole.PRIMARY).setEnded(true).build());
      return;
    }
    Secondary s = secondaries.get(id);
    if (s != null && s.generation <= c.getGeneration() && s.failedOver == null) endSecondary(id, s);
    replyTo.tell(ok(c, s != null ? ProtectionRole.SECONDARY : ProtectionRole.ROLE_NONE).setEnded(true).build());
  }

  private void endSecondary(String id, Secondary s) {
    secondaries.remove(id);
    s.receiver.takeOver(); // stops receiving; nothing more is applied
    dataPlane.forget(s.dataId);
    CompletableFuture.runAsync(s.guest::destroy, blocking);
    ctx.getLog().info("copy of guest {} (generation {}) destroyed on {}", id, s.generation, settings.hostId());
  }

  /** The agent stopped: no primary may go on checkpointing, no copy be kept. */
  void stopAll() {
    primaries.values().forEach(p -> CompletableFuture.runAsync(p.checkpointer::close, blocking));
    secondaries.forEach((id, s) -> s.receiver.takeOver());
  }

  private ProtectionHostReply report(String guestId, Primary p, ReplicationStatus st) {
    return base(guestId, p.generation, p.epoch, ProtectionRole.PRIMARY).setHost(settings.hostId()).setOk(true).setStatus(
        ReplicationStatusReport.newBuilder().setState(st.state().name()).setCheckpoints(st.checkpoints())
            .setLastCheckpoint(st.lastCheckpoint()).setLastCheckpointAgeMs(st.lastCheckpointAgeMillis())
            .setLastCheckpointBytes(st.lastCheckpointBytes()).setLastPauseUs(st.lastPauseMicros())
            .setP50PauseUs(st.p50PauseMicros()).setP99PauseUs(st.p99PauseMicros()).setSyncBytes(st.syncBytes())
            .setFailure(st.failure() == null ? "" : st.failure())).build();
  }

  private static ProtectionHostReply.Builder base(String guestId, long generation, long epoch, ProtectionRole role) {
    return ProtectionHostReply.newBuilder().setGuestId(guestId).setGeneration(generation).setEpoch(epoch).setRole(role);
  }

  private ProtectionHostReply.Builder ok(ProtectionCommand c, ProtectionRole role) {
    return base(c.getGuestId(), c.getGeneration(), c.getEpoch(), role).setHost(settings.hostId()).setAnswered(true)
        .setOk(true);
  }

  private ProtectionHostReply error(ProtectionCommand c, ProtectionRole role, ErrorKind kind, String why) {
    return base(c.getGuestId(), c.getGeneration(), c.getEpoch(), role).setHost(settings.hostId()).setAnswered(true)
        .setOk(false).setErrorKind(kind).setError(why).build();
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException
        || t instanceof java.util.concurrent.ExecutionException)) t = t.getCause();
    return t.getMessage() != null ? t.getMessage() : t.toString();
  }
}
