package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import akka.pattern.StatusReply;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.common.Ids;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.GuestCommandResult;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.PostcopyReport;
import org.livemig.messages.ProgressReport;

/**
 * One per host: owns the host's guests and spawns a SourceActor or DestinationActor per
 * migration. Every coordinator command passes here and goes to HostSteps, where commands from an
 * older epoch are refused and repeated commands (same migration, step) get their earlier answer.
 */
public final class HostAgent {

  public interface Command {}

  /**
   * A command from a coordinator; answers and unprompted reports go to replyTo. Hosts speak only
   * their own protocol (Reply): a coordinator adapts it, so nothing here knows a coordinator.
   */
  public record Control(HostCommand command, ActorRef<Reply> replyTo)
      implements Command, LivemigMessage {}

  /** What a host tells the coordinator incarnation that spoke to it last. */
  public sealed interface Reply extends LivemigMessage permits Answered, ProgressReported, PostcopyReported {}

  /** The answer to a phase command. */
  public record Answered(HostReply reply) implements Reply {}

  /** The source's report after each precopy round, and its samples while a round is on the wire. */
  public record ProgressReported(ProgressReport report) implements Reply {}

  /** This host's side of postcopy changed state. */
  public record PostcopyReported(PostcopyReport report) implements Reply {}

  /** Creates a guest on this host, running it when start is true (demo, tests, operators). */
  public record CreateGuest(GuestDescription description, boolean start, ActorRef<StatusReply<GuestView>> replyTo)
      implements Command {}

  /** Checks a guest against its oracle (across nodes: the operator API asks the guest's host). */
  public record VerifyGuest(String guestId, ActorRef<GuestVerification> replyTo) implements Command, LivemigMessage {}

  /** A check of the guest is over: it may migrate again. */
  record GuestVerified(String guestId) implements Command {}

  public record ListGuests(ActorRef<List<GuestView>> replyTo) implements Command {}

  /** Local only: hands out the guest object itself, for verification against the oracle. */
  public record GetGuest(String guestId, ActorRef<java.util.Optional<MigratableGuest>> replyTo) implements Command {}

  /** How often cleanup ran per migration on this host (it must be exactly once). */
  public record GetCleanupRuns(ActorRef<Map<String, Integer>> replyTo) implements Command {}

  /** Chaos: replaces this host's fault injection settings (see livemig.host.faults). */
  public record SetFaults(HostSettings.Faults faults, ActorRef<akka.Done> replyTo) implements Command {}

  public record GuestView(String guestId, RunState state, long steps, int throttlePercent, long sizeBytes,
      List<org.livemig.messages.DiskSummary> disks) {}

  /** Local only: each outbound migration's share of this host's link now (HostBandwidth), in B/s. */
  public record GetLinkShares(ActorRef<java.util.SortedMap<String, Long>> replyTo) implements Command {}

  /** Local only: what this host carries now (the node's metrics). */
  public record GetLoad(ActorRef<Load> replyTo) implements Command {}

  /**
   * guests: the guests this host holds; reservedBytes: their memory, as Prepare counts it against
   * memoryCapacityBytes (0 = no limit); dataChannels: connections open on its data port.
   */
  public record Load(String hostId, int guests, long reservedBytes, long memoryCapacityBytes, int dataChannels) {}

  // From the per-migration children.
  record RoleReplied(HostReply reply) implements Command {}

  record GuestAdopted(String migrationId, MigratableGuest guest) implements Command {}

  /** The fence's lease ran out (see Fence): pause every guest whose ownership is in question. */
  record FenceGuests(String reason) implements Command {}

  record GuestReleased(String guestId) implements Command {}

  /** A role's side of postcopy changed: told to the coordinator this host follows now. */
  record PostcopyChanged(org.livemig.messages.PostcopyReport report) implements Command {}

  record CleanupRequested(String migrationId, CleanupActor.Plan plan, ActorRef<CleanupActor.Finished> replyTo)
      implements Command {}

  private record CleanupCompleted(CleanupActor.Finished finished) implements Command {}

  record HeldCommandReleased(Control control) implements Command {}

  /** The ledger holds this answer now: it may be told. */
  record AnswerRecorded(HostReply reply) implements Command {}

  /** Operators' view of this host, across nodes. */
  public record DescribeHost(ActorRef<org.livemig.messages.HostDescription> replyTo) implements Command, LivemigMessage {}

  /** Every host agent registers here too, so that all hosts can be listed. */
  public static final ServiceKey<Command> ALL_HOSTS = ServiceKey.create(Command.class, "livemig-hosts");

  public static ServiceKey<Command> serviceKey(String hostId) {
    return ServiceKey.create(Command.class, "livemig-host-" + hostId);
  }

  /** Guests this host owned before it restarted: their memory went with the old process. */
  public record ListLostGuests(ActorRef<List<String>> replyTo) implements Command {}

  /** An operator's command for one of this host's guests: a disk move, its pivot or cancel, power off. */
  public record GuestCommand(org.livemig.messages.GuestCommandRequest request,
      ActorRef<org.livemig.messages.GuestCommandResult> replyTo) implements Command, LivemigMessage {}

  record DiskMoveReported(org.livemig.engine.storage.StorageMoveActor.Report report) implements Command {}
  /** A status command's asks of the guest's running moves, by "guest/disk", all done. */
  record MovesAsked(MigratableGuest guest, Map<String, CompletableFuture<DiskMoveStatus>> asks,
      ActorRef<GuestCommandResult> replyTo) implements Command {}

  /** A protection coordinator's command (HostReplication); answers and reports go to replyTo. */
  public record ProtectionControl(org.livemig.messages.ProtectionCommand command,
      ActorRef<org.livemig.messages.ProtectionHostReply> replyTo) implements Command, LivemigMessage {}

  private record LedgerLoaded(HostLedger.State state, Throwable error) implements Command {}

  /** A destination created disk files (copy_storage): recorded before its Prepare answer, in this order. */
  record DiskFilesCreated(org.livemig.messages.DiskFilesCreated files) implements Command {}

  public static Behavior<Command> create(HostSettings settings, DataPlaneServer dataPlane) {
    return Behaviors.setup(ctx -> Behaviors.withStash(10_000, stash -> Behaviors.withTimers(timers -> {
      ActorRef<HostLedger.Command> ledger = ctx.spawn(HostLedger.create(settings.hostId()), "ledger");
      ctx.ask(HostLedger.State.class, ledger, settings.ledgerLoadTimeout(), HostLedger.Load::new, LedgerLoaded::new);
      boolean clustered = ctx.getSystem().settings().config().getString("akka.actor.provider").equals("cluster");
      HostAgent agent = new HostAgent(ctx, timers, settings, dataPlane, ledger,
          clustered ? HostLease.of(settings.fenceLease()) : HostLease.always());
      if (clustered) {
        ctx.spawn(Fence.create(settings.fenceLease(), ctx.getSelf(), agent.lease), "fence");
      } else {
        ctx.getLog().warn("host {} runs without a cluster: no fencing lease", settings.hostId());
      }
      // Nothing is answered before the ledger says what this host answered before a restart.
      return Behaviors.receive(Command.class)
          .onMessage(LedgerLoaded.class, m -> {
            if (m.error() != null) throw new IllegalStateException("host ledger unreadable: " + m.error(), m.error());
            agent.restore(m.state());
            ctx.getSystem().receptionist().tell(Receptionist.register(serviceKey(settings.hostId()), ctx.getSelf()));
            ctx.getSystem().receptionist().tell(Receptionist.register(ALL_HOSTS, ctx.getSelf()));
            ctx.getLog().info("host {} up, data plane on {}:{}", settings.hostId(), settings.dataBindHost(),
                dataPlane.port());
            return stash.unstashAll(agent.serving());
          })
          .onMessage(Command.class, m -> {
            stash.stash(m);
            return Behaviors.same();
          })
          .build();
    })));
  }

  /** Rebuilds the migration records and the lost guests from the ledger. */
  private void restore(HostLedger.State state) {
    int remembered = migrations.restore(state);
    guests.lostWithTheOldProcess(HostLedger.lostGuests(state, Map.of()));
    LeftoverDiskFiles.settle(ctx, settings.hostId(), state, ledger);
    if (remembered > 0 || !guests.lost().isEmpty()) {
      ctx.getLog().warn("host {} restarted: {} migration(s) remembered, guests lost with the old process: {}",
          settings.hostId(), remembered, guests.lost());
    }
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final HostSettings settings;
  private final DataPlaneServer dataPlane;
  private final ActorRef<HostReply> replies;
  private final ActorRef<HostLedger.Recorded> recorded;
  private final ActorRef<HostLedger.Command> ledger;
  private HostSettings.Faults faults;
  private final HostGuests guests;
  private final RunStateLog runStates;
  /** Renewed by the fence; the destination runs a migrated guest only while it is valid. */
  private final HostLease lease;
  private final HostMigrations migrations = new HostMigrations();
  private final CleanupRuns cleanups = new CleanupRuns();
  private final HostSteps steps;
  private final ActorRef<HostBandwidth.Command> bandwidth;
  private final HostDiskMoves diskMoves;
  private final HostReplication replication;

  private HostAgent(ActorContext<Command> ctx, TimerScheduler<Command> timers, HostSettings settings,
      DataPlaneServer dataPlane, ActorRef<HostLedger.Command> ledger, HostLease lease) {
    this.ctx = ctx;
    this.lease = lease;
    this.ledger = ledger;
    this.timers = timers;
    this.settings = settings;
    this.dataPlane = dataPlane;
    this.replies = ctx.messageAdapter(HostReply.class, RoleReplied::new);
    this.recorded = ctx.messageAdapter(HostLedger.Recorded.class, r -> new AnswerRecorded(r.reply()));
    this.faults = settings.faults();
    this.runStates = RunStateLog.of(settings);
    this.guests = new HostGuests(settings.hostId(), runStates, settings.datastores(), () -> faults.disk());
    // The link its outbound migrations share; a child, so it goes with the agent.
    this.bandwidth = ctx.spawn(HostBandwidth.create(settings.hostId(),
        settings.maxBandwidthBytesPerSecond()), "bandwidth");
    this.steps = new HostSteps(ctx, timers, settings, () -> faults, dataPlane, replies, recorded, ledger, guests, runStates,
        lease, migrations, cleanups, bandwidth);
    this.diskMoves = new HostDiskMoves(ctx, settings, guests, () -> faults.mirror());
    var replicationSettings = org.livemig.engine.replication.ReplicationSettings.fromConfig(
        ctx.getSystem().settings().config().getConfig("livemig.host"));
    this.replication = new HostReplication(ctx, settings, replicationSettings, dataPlane, guests, ledger, lease);
    timers.startTimerWithFixedDelay("replication-report", HostReplication.ReportTick.INSTANCE,
        replicationSettings.reportInterval());
  }

  private Behavior<Command> serving() {
    return Behaviors.receive(Command.class)
        .onMessage(Control.class, m -> same(() -> steps.onControl(m)))
        .onMessage(HeldCommandReleased.class, m -> same(() -> steps.onHeldCommandReleased(m)))
        .onMessage(AnswerRecorded.class, m -> same(() -> steps.onAnswerRecorded(m)))
        .onMessage(RoleReplied.class, m -> same(() -> steps.onRoleReplied(m)))
        .onMessage(CreateGuest.class, this::onCreateGuest)
        .onMessage(VerifyGuest.class, this::onVerifyGuest)
        .onMessage(GuestVerified.class, m -> {
          guests.verified(m.guestId());
          return Behaviors.same();
        })
        .onMessage(ListGuests.class, m -> {
          m.replyTo().tell(guests.views());
          return Behaviors.same();
        })
        .onMessage(GetGuest.class, m -> {
          m.replyTo().tell(java.util.Optional.ofNullable(guests.get(m.guestId())));
          return Behaviors.same();
        })
        .onMessage(GetCleanupRuns.class, m -> {
          m.replyTo().tell(cleanups.runs());
          return Behaviors.same();
        })
        .onMessage(FenceGuests.class, m -> {
          // No checkpoint in its pause may resume a guest the fence stops; one in its pause counts as stopped by it.
          List<String> paused = guests.fence(replication.holdAll());
          ctx.getLog().error("host {} fenced itself ({}): paused guests {}", settings.hostId(), m.reason(), paused);
          return Behaviors.same();
        })
        .onMessage(GuestAdopted.class, m -> {
          guests.adopt(m.migrationId(), m.guest());
          ledger.tell(new HostLedger.Record(HostLedger.owned(m.guest().description())));
          return Behaviors.same();
        })
        .onMessage(PostcopyChanged.class, m -> {
          HostMigrations.Record rec = migrations.get(m.report().getMigrationId());
          if (rec != null && rec.coordinator != null) {
            rec.coordinator.tell(new PostcopyReported(m.report().toBuilder().setEpoch(rec.epoch)
                .build()));
          }
          return Behaviors.same();
        })
        .onMessage(DiskFilesCreated.class, m -> same(() -> ledger.tell(new HostLedger.Record(
            HostLedger.filesCreated(m.files())))))
        .onMessage(GuestReleased.class, m -> {
          guests.release(m.guestId());
          ledger.tell(new HostLedger.Record(HostLedger.released(m.guestId())));
          return Behaviors.same();
        })
        .onMessage(DescribeHost.class, m -> {
          m.replyTo().tell(guests.describe(ctx.getSystem().address().toString(),
              settings.dataBindHost() + ":" + dataPlane.port()));
          return Behaviors.same();
        })
        .onMessage(GetLinkShares.class, m -> same(() -> bandwidth.tell(new HostBandwidth.GetShares(m.replyTo()))))
        .onMessage(GetLoad.class, m -> {
          m.replyTo().tell(guests.load(settings.memoryCapacityBytes(), dataPlane.openChannels()));
          return Behaviors.same();
        })
        .onMessage(ListLostGuests.class, m -> {
          m.replyTo().tell(guests.lost());
          return Behaviors.same();
        })
        .onMessage(CleanupRequested.class, this::onCleanupRequested)
        .onMessage(SetFaults.class, m -> {
          faults = m.faults();
          ctx.getLog().warn("fault injection on {}: {}", settings.hostId(), faults);
          m.replyTo().tell(akka.Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(CleanupCompleted.class, this::onCleanupCompleted)
        .onMessage(GuestCommand.class, m -> same(() -> diskMoves.onCommand(m.request(), m.replyTo())))
        .onMessage(DiskMoveReported.class, m -> same(() -> diskMoves.onReport(m.report())))
        .onMessage(MovesAsked.class, m -> same(() -> diskMoves.onMovesAsked(m)))
        .onMessage(ProtectionControl.class, m -> same(() -> replication.onCommand(m.command(), m.replyTo())))
        .onMessage(HostReplication.Event.class, m -> same(() -> replication.on(m)))
        .onSignal(akka.actor.typed.PostStop.class, sig -> stopped())
        .build();
  }

  /**
   * This agent stopped (its node left, or the actor system is terminating): nobody manages its
   * guests any more and the cluster may run them elsewhere, so none of them may go on running.
   */
  private Behavior<Command> stopped() {
    replication.stopAll();
    List<String> paused = guests.pauseAll();
    if (!paused.isEmpty()) ctx.getLog().warn("host agent {} stopped: paused guests {}", settings.hostId(), paused);
    return Behaviors.same();
  }

  private Behavior<Command> onVerifyGuest(VerifyGuest m) {
    GuestRefused refused = guests.refuseVerify(m.guestId());
    if (refused != null) {
      m.replyTo().tell(GuestChecker.refused(m.guestId(), settings.hostId(), refused.kind(), refused.getMessage()));
    } else {
      ctx.spawnAnonymous(GuestChecker.create(guests.get(m.guestId()), settings.hostId(), m.replyTo(), ctx.getSelf()));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onCreateGuest(CreateGuest m) {
    String id = m.description().getGuestId();
    try {
      MigratableGuest guest = guests.create(m.description(), m.start());
      ledger.tell(new HostLedger.Record(HostLedger.owned(m.description())));
      ctx.getLog().info("guest {} created on {} ({} pages, running={})", id, settings.hostId(),
          m.description().getPageCount(), m.start());
      m.replyTo().tell(StatusReply.success(HostGuests.view(guest)));
    } catch (GuestRefused e) {
      ctx.getLog().warn("guest {} refused on {}: {}", Ids.shown(id), settings.hostId(), e.getMessage());
      m.replyTo().tell(StatusReply.error(e));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onCleanupRequested(CleanupRequested m) {
    String id = m.migrationId();
    CleanupActor.Finished earlier = cleanups.done(id);
    if (earlier != null) {
      ctx.getLog().info("cleanup of {} on {} already done; not run twice", id, settings.hostId());
      if (m.replyTo() != null) m.replyTo().tell(earlier);
      HostReply answer = cleanups.takeAnswer(id);
      if (answer != null) reply(answer);
      return Behaviors.same();
    }
    cleanups.await(id, m.replyTo());
    if (cleanups.entered(id)) {
      ctx.getLog().info("cleanup of {} on {} already entered; not run twice", id, settings.hostId());
      return Behaviors.same();
    }
    ActorRef<CleanupActor.Finished> done = ctx.messageAdapter(CleanupActor.Finished.class, CleanupCompleted::new);
    cleanups.enter(id, ctx.spawn(CleanupActor.create(id, settings.hostId(), m.plan(), settings.cleanupStopTimeout(),
        done), "cleanup-" + id));
    return Behaviors.same();
  }

  private static Behavior<Command> same(Runnable handler) {
    handler.run();
    return Behaviors.same();
  }

  private void reply(HostReply reply) {
    ctx.getSelf().tell(new RoleReplied(reply));
  }

  private Behavior<Command> onCleanupCompleted(CleanupCompleted m) {
    for (ActorRef<CleanupActor.Finished> w : cleanups.finished(m.finished())) w.tell(m.finished());
    HostReply answer = cleanups.takeAnswer(m.finished().migrationId());
    if (answer != null) reply(answer);
    return Behaviors.same();
  }
}
