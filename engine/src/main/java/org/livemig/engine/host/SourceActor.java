package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.BehaviorBuilder;
import java.time.Duration;
import java.util.Map;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.PerformResult;
import org.livemig.messages.RoundStats;

/**
 * The source side of one migration: Begin, Perform (copy_storage: the disks first; precopy rounds with
 * convergence control and auto-converge, stun, final copy, device state, EOS) and Confirm. The guest runs
 * until the stun, and the source is destroyed only in Confirm: any failure before leaves it able to resume.
 */
public final class SourceActor {
  public interface Command {}

  public record Execute(HostCommand command, ActorRef<HostAgent.Reply> coordinator) implements Command {}

  private record Copy(CopyActor.Event event) implements Command {}

  private record Stunned(Throwable error) implements Command {}

  private record Drained(Throwable error) implements Command {}

  private enum DrainTimedOut implements Command { INSTANCE }

  /** The host's link was divided again (HostBandwidth); SourcePostcopy takes it in postcopy. */
  record ShareChanged(HostBandwidth.Share share) implements Command {}

  static Behavior<Command> create(String migrationId, MigratableGuest guest, HostSettings settings,
      ActorRef<HostReply> replies, ActorRef<HostAgent.Command> hostAgent, ActorRef<HostBandwidth.Command> bandwidth) {
    return Behaviors.withMdc(Command.class, Map.of("migrationId", migrationId), Behaviors.setup(ctx ->
        new SourceActor(ctx, migrationId, guest, settings, replies, hostAgent, bandwidth).begun()));
  }

  private final ActorContext<Command> ctx;
  private final String migrationId;
  private final MigratableGuest guest;
  private final HostSettings settings;
  private final ActorRef<HostReply> replies;
  private final ActorRef<HostAgent.Command> hostAgent;
  private final ActorRef<CopyActor.Event> copyEvents;
  private final Precopy precopy;
  /** This migration's share of the host's link: joined in Perform, left on every end. */
  private final LinkShare share;
  private final ProgressReports reports;
  /** The guest was paused when the migration began: it stays paused whatever happens. */
  private final boolean pausedAtBegin;
  private final SourceConfirm confirmer;

  private final SourceChannels copies = new SourceChannels();
  private HostCommand perform;
  private ActorRef<HostAgent.Reply> coordinator;
  private PerformLimits limits;
  private HostCommand pendingConfirm;
  private int roundsAtMaxThrottle;
  private final SwitchoverTimes switchover = new SwitchoverTimes();
  /** The last round, reported at the stun, or after the drain for a guest with disks. */
  private RoundStats lastRound;
  /** Postcopy: the pages dirty at the stun, left for the destination to fetch; null in precopy. */
  private long[] postcopyDiscard;
  private SourcePostcopy postcopyRole;
  /** copy_storage: the disks' moves to the destination; set in Perform. */
  private SourceStorage storage;

  private SourceActor(ActorContext<Command> ctx, String migrationId, MigratableGuest guest, HostSettings settings,
      ActorRef<HostReply> replies, ActorRef<HostAgent.Command> hostAgent, ActorRef<HostBandwidth.Command> bandwidth) {
    this.ctx = ctx;
    this.migrationId = migrationId;
    this.guest = guest;
    this.settings = settings;
    this.replies = replies;
    this.hostAgent = hostAgent;
    this.copyEvents = ctx.messageAdapter(CopyActor.Event.class, Copy::new);
    this.precopy = new Precopy(guest.memory().pageSize());
    this.share = new LinkShare(migrationId, bandwidth, ctx.messageAdapter(HostBandwidth.Share.class, ShareChanged::new),
        settings.maxBandwidthBytesPerSecond());
    this.reports = new ProgressReports(migrationId, guest, precopy, share, () -> storage == null ? java.util.List.of()
        : storage.statuses());
    this.pausedAtBegin = guest.state() == RunState.PAUSED;
    this.confirmer = new SourceConfirm(ctx, migrationId, guest, settings, replies, hostAgent);
  }

  /** After Begin: waiting for Perform (or a rollback). */
  private Behavior<Command> begun() {
    return Behaviors.receive(Command.class)
        .onMessage(Execute.class, m -> switch (m.command().getCommandCase()) {
          case BEGIN -> {
            replies.tell(Replies.ok(m.command(), settings.hostId())
                .setBegin(BeginCookie.newBuilder().setGuest(guest.description()).setSourceHost(settings.hostId())
                    .setPaused(pausedAtBegin))
                .build());
            yield Behaviors.same();
          }
          case PERFORM -> startPerform(m);
          case CONFIRM -> confirm(m.command());
          case SET_PARAMETERS -> Behaviors.same(); // Perform will carry the persisted limits
          default -> unexpected(m.command());
        })
        .build();
  }

  private Behavior<Command> startPerform(Execute m) {
    perform = m.command();
    coordinator = m.coordinator();
    limits = new PerformLimits(perform.getPerform().getParameters());
    share.join(limits.params().getMaxBandwidthBytesPerSecond());
    storage = new SourceStorage(ctx, migrationId, guest, settings, limits.params());
    if (!storage.enabled()) return copyMemory();
    // Disks first (libvirt's NBD mirror, then the memory): the copy has the migration's share alone.
    return storage.copying(perform.getPerform().getPrepare(), limits.dataPlane(settings.dataPlane()),
        share.bytesPerSecond(), performing(), this::copyMemory, this::performFailed);
  }

  private Behavior<Command> copyMemory() {
    int channels = Math.max(1, limits.params().getChannels());
    copies.open(ctx, migrationId, channels, perform.getPerform().getPrepare(), guest,
        limits.dataPlane(settings.dataPlane()), share.bytesPerSecond(), copyEvents);
    var to = perform.getPerform().getPrepare();
    ctx.getLog().info("{}: perform to {}:{} over {} channel(s), downtime limit {} ms", migrationId, to.getDataHost(),
        to.getDataPort(), channels, limits.params().getDowntimeLimitMs());
    return connecting(0);
  }

  private Behavior<Command> connecting(int connected) {
    if (connected == copies.size()) {
      guest.dirtyBitmap().syncAndClear(); // from here on every write is tracked
      DirtyBitmap all = new DirtyBitmap(guest.memory().pageCount());
      all.markAll();
      return sendRound(1, all.snapshot());
    }
    return performing()
        .onMessage(Copy.class, m -> m.event() instanceof CopyActor.Connected
            ? connecting(connected + 1) : onCopyFailure(m.event()))
        .build();
  }

  /** Sends one round's dirty set over every channel; each channel takes its share. */
  private Behavior<Command> sendRound(int round, long[] dirtyWords) {
    precopy.roundStarted(round, DirtyBitmap.count(dirtyWords) * guest.memory().pageSize());
    copies.sendRound(round, dirtyWords);
    return precopying(round, copies.size());
  }

  private Behavior<Command> precopying(int round, int pending) {
    return performing()
        .onMessage(Copy.class, m -> {
          if (!(m.event() instanceof CopyActor.RoundSent sent)) return onCopyFailure(m.event());
          precopy.add(sent.stats());
          precopy.fixedCostSampled(sent.fixedNanos());
          if (sent.resend() != null) guest.dirtyBitmap().orIn(sent.resend()); // the next round or the final copy takes them
          return pending > 1 ? precopying(round, pending - 1) : roundDone(round);
        })
        .build();
  }

  private Behavior<Command> roundDone(int round) {
    long dirtyNow = guest.dirtyBitmap().count();
    RoundStats copyOnly = precopy.roundFinished(dirtyNow, guest.throttlePercent());
    int throttle = guest.throttlePercent();
    if (throttle >= limits.params().getThrottleMaxPercent()) roundsAtMaxThrottle++;
    long drainMs = storage.enabled() ? 0 : guest.expectedDrainNanos() / 1_000_000; // copy_storage: before the stun
    Convergence.Round r = new Convergence.Round(round, dirtyNow, copyOnly.getExpectedDowntimeMs(),
        precopy.fixedCostMs(), drainMs, limits.switchoverOverheadMs(), precopy.dirtyRateMeasured(), throttle,
        roundsAtMaxThrottle);
    RoundStats stats = copyOnly.toBuilder().setExpectedDowntimeMs(r.expectedDowntimeMs()).build();
    Convergence.Decision d = Convergence.after(r, limits.params());
    if (d.warn()) ctx.getLog().warn("{}: {}", migrationId, d.why());
    else if (!d.why().isEmpty()) ctx.getLog().info("{}: {}", migrationId, d.why());
    if (d.action() != Convergence.Action.NEXT_ROUND) return stunAfter(stats, d.action() == Convergence.Action.POSTCOPY);
    if (d.throttlePercent() != throttle) guest.setThrottlePercent(d.throttlePercent());
    coordinator.tell(new HostAgent.ProgressReported(reports.progress(perform.getEpoch(), stats, false)));
    return sendRound(round + 1, guest.dirtyBitmap().syncAndClear());
  }

  /**
   * The last precopy round's report says the stun follows: the coordinator shows it but does not
   * persist it (it travels in Perform's result), because a journal write now would hold the
   * coordinator's next commands, Perform's and Finish's answers, inside the downtime. It lets the
   * coordinator send Finish early, after which a cancel can no longer roll back: a guest with disks
   * sends it only once drained, so that a drain held up by a slow or hung disk can still be
   * cancelled; with copy_storage the disks pivot first, stunned and drained while the vCPUs run.
   */
  private Behavior<Command> stunAfter(RoundStats stats, boolean postcopy) {
    lastRound = stats;
    if (guest.disks().isEmpty()) reportStun();
    if (!storage.enabled()) return stunning(postcopy);
    storage.pivot(switchover, () -> { // nothing in flight at the stun: the coordinator may send Finish
      reportStun();
      return stunning(postcopy);
    });
    return performing().onMessage(Copy.class, m -> onCopyFailure(m.event())).build();
  }

  /** Built when sent: in the epoch of the coordinator that runs the migration now. */
  private void reportStun() {
    coordinator.tell(new HostAgent.ProgressReported(reports.progress(perform.getEpoch(), lastRound, false).toBuilder()
        .setStunning(true).build()));
  }

  /**
   * Stops the guest, then sends what is left. Precopy: the last dirty pages, device state, EOS.
   * Postcopy: only the device state, and with EOS the last dirty set, which the destination
   * must treat as missing (it will fetch those pages while it runs).
   */
  private Behavior<Command> stunning(boolean postcopy) {
    switchover.stunRequested(guest.diskRequestsInFlight()); // issued before the pause: the drain waits for them
    ctx.pipeToSelf(guest.pause(), (ok, err) -> new Stunned(err));
    return stopping()
        .onMessage(Stunned.class, m -> {
          if (m.error() != null) return performFailed("stun failed: " + m.error());
          if (pendingConfirm != null) return confirm(pendingConfirm);
          switchover.stopped();
          return draining(postcopy);
        })
        .onMessage(Execute.class, m -> {
          // Wait for the guest to stop before resuming it: a rollback acts once the stun is done.
          if (m.command().hasConfirm()) pendingConfirm = m.command();
          else unexpected(m.command());
          return Behaviors.same();
        })
        .build();
  }

  /** Handlers shared by the stun and the drain: nothing final is sent yet, the limits no longer matter. */
  private BehaviorBuilder<Command> stopping() {
    return Behaviors.receive(Command.class)
        .onMessage(SourceStorage.Reported.class, this::onDiskReport)
        .onMessage(Execute.class, m -> m.command().hasPerform(), this::adoptCoordinator)
        .onMessage(Execute.class, m -> m.command().hasSetParameters(), m -> Behaviors.same()) // stunned: too late
        .onMessage(ShareChanged.class, this::onShareChanged) // the final copy is sent at it
        .onMessage(Copy.class, m -> Behaviors.same());
  }

  /**
   * The vCPUs stopped; every disk request in flight must complete before the device state is
   * taken, or the destination could run while a source write can still reach the shared disk.
   * A drain that outlasts drain-timeout fails the migration here: the guest resumes on the source.
   */
  private Behavior<Command> draining(boolean postcopy) {
    long limitMs = settings.drainTimeout(limits.params()).toMillis();
    akka.actor.Cancellable timeout = ctx.scheduleOnce(Duration.ofMillis(limitMs), ctx.getSelf(), DrainTimedOut.INSTANCE);
    ctx.pipeToSelf(guest.drain(), (ok, err) -> new Drained(err));
    return stopping()
        .onMessage(Drained.class, m -> {
          timeout.cancel();
          if (m.error() != null) return performFailed("drain failed: " + m.error());
          switchover.drained();
          if (!guest.disks().isEmpty() && !storage.enabled()) reportStun();
          return sendFinal(postcopy);
        })
        .onMessageEquals(DrainTimedOut.INSTANCE, () -> performFailed(
            switchover.drainTimedOut(limitMs, guest.diskRequestsInFlight())))
        .onMessage(Execute.class, m -> {
          if (!m.command().hasConfirm()) return unexpected(m.command()); // the drain's deadline stays
          timeout.cancel();
          return confirm(m.command()); // stopped, nothing final sent: a rollback resumes the guest at once
        })
        .build();
  }

  private Behavior<Command> sendFinal(boolean postcopy) {
    long[] last = guest.dirtyBitmap().syncAndClear();
    int round = precopy.rounds() + 1;
    if (postcopy) postcopyDiscard = last;
    long[] pages = postcopy ? new long[0] : last;
    precopy.roundStarted(round, DirtyBitmap.count(pages) * guest.memory().pageSize());
    byte[] deviceState;
    try {
      deviceState = guest.deviceState();
    } catch (IllegalStateException e) { // not stopped or not drained after all: no switchover
      return performFailed("device state: " + e.getMessage());
    }
    switchover.deviceStateTaken();
    copies.sendFinal(round, pages, deviceState, guest.memory().pageCount(), postcopyDiscard);
    coordinator.tell(new HostAgent.ProgressReported(reports.sample(perform.getEpoch(), 0).setSwitchover(true).build()));
    return finalCopy(copies.size());
  }

  /** Stunned: the last dirty pages, the device state and EOS are on their way on every channel. */
  private Behavior<Command> finalCopy(int pending) {
    return performing()
        .onMessage(Copy.class, m -> {
          if (!(m.event() instanceof CopyActor.FinalSent sent)) return onCopyFailure(m.event());
          precopy.add(sent.stats());
          return pending > 1 ? finalCopy(pending - 1) : performed();
        })
        .build();
  }

  private Behavior<Command> performed() {
    RoundStats last = precopy.roundFinished(0, guest.throttlePercent());
    coordinator.tell(new HostAgent.ProgressReported(reports.progress(perform.getEpoch(), last, true)));
    PerformResult result = switchover.withBreakdown(
        precopy.result(switchover.stunnedAtMicros(), last.getPagesSent(), guest.throttlePercent()));
    if (postcopyDiscard != null) {
      result = result.toBuilder().setPostcopy(true).setPostcopyPages(DirtyBitmap.count(postcopyDiscard)).build();
    }
    replies.tell(Replies.ok(perform, settings.hostId()).setPerform(result).build());
    ctx.getLog().info("{}: {}", migrationId, switchover.describe(result, last.getPagesSent()));
    if (postcopyDiscard == null) {
      share.leave(); // the memory stream is through; the push would keep the share in postcopy
      return awaitingConfirm();
    }
    SourcePostcopy role = new SourcePostcopy(ctx, migrationId, guest, settings, perform.getPerform().getPrepare(),
        limits.params(), hostAgent, share, this::confirm);
    postcopyRole = role;
    return role.start(result.getPostcopyPages());
  }

  private Behavior<Command> awaitingConfirm() {
    return Behaviors.receive(Command.class)
        .onMessage(Execute.class, m -> m.command().hasSetParameters(), m -> Behaviors.same()) // too late to matter
        .onMessage(Execute.class, m -> m.command().hasConfirm() ? confirm(m.command()) : unexpected(m.command()))
        .onMessage(SourceStorage.Reported.class, this::onDiskReport) // cleaning up, or waiting for the commit
        .onMessage(SourceStorage.Connected.class, m -> storage.onConnectedLate(m)) // perform failed while it dialled
        // Late channel events, a drain that finished after its timeout, a deadline whose cancel came
        // too late, a new link share: nothing sends any more.
        .onMessage(Command.class, m -> Behaviors.same())
        .build();
  }

  /** Perform failed: say why and wait for the coordinator's Confirm, which resumes the guest. */
  private Behavior<Command> performFailed(String reason) {
    share.leave();
    if (storage != null) storage.cancel("the migration failed: " + reason);
    ctx.getLog().warn("{}: perform failed: {}", migrationId, reason);
    replies.tell(Replies.error(perform, settings.hostId(), "perform failed on " + settings.hostId() + ": " + reason));
    return awaitingConfirm();
  }

  private Behavior<Command> onCopyFailure(CopyActor.Event e) {
    if (e instanceof CopyActor.Failed f) return performFailed("channel " + f.channel() + ": " + f.reason());
    ctx.getLog().error("{}: unexpected channel event {}", migrationId, e);
    return Behaviors.same();
  }

  /** Handlers shared by every Perform state: a rollback may arrive at any time. */
  private BehaviorBuilder<Command> performing() {
    return Behaviors.receive(Command.class)
        .onMessage(SourceStorage.Reported.class, this::onDiskReport)
        .onMessage(Execute.class, m -> m.command().hasPerform(), this::adoptCoordinator)
        .onMessage(Execute.class, m -> m.command().hasSetParameters(), this::applyParameters)
        .onMessage(ShareChanged.class, this::onShareChanged)
        .onMessage(Execute.class, m -> m.command().hasConfirm() ? confirm(m.command()) : unexpected(m.command()))
        .onMessage(Copy.class, m -> m.event() instanceof CopyActor.Progress, m -> {
          var p = (CopyActor.Progress) m.event();
          coordinator.tell(new HostAgent.ProgressReported(reports.sampled(perform.getEpoch(), p)));
          return Behaviors.same();
        });
  }

  /** A disk's move reported: the coordinator hears of it; one that cannot go on fails the migration. */
  private Behavior<Command> onDiskReport(SourceStorage.Reported m) {
    if (perform != null) coordinator.tell(new HostAgent.ProgressReported(reports.sample(perform.getEpoch(), 0).build()));
    return storage.onReport(m, this::performFailed);
  }

  /** Perform re-sent by a new coordinator incarnation: the copy goes on, reporting to it. */
  private Behavior<Command> adoptCoordinator(Execute m) {
    ctx.getLog().info("{}: coordinator epoch {} takes over the running perform", migrationId, m.command().getEpoch());
    perform = perform.toBuilder().setEpoch(m.command().getEpoch()).build();
    coordinator = m.coordinator();
    return Behaviors.same();
  }

  /** New limits from the operator (see {@link PerformLimits}). */
  private Behavior<Command> applyParameters(Execute m) {
    String said = limits.apply(m.command().getSetParameters(), share);
    if (!said.isEmpty()) ctx.getLog().info("{}: {}", migrationId, said);
    return Behaviors.same();
  }

  /** The host's link was divided again: every channel sends at the new share from its next write. */
  private Behavior<Command> onShareChanged(ShareChanged m) {
    share.updateCopies(m.share(), copies.list());
    return Behaviors.same();
  }

  /** Confirm: destroy the source on success; resume it on failure. Then cleanup, then answer. */
  Behavior<Command> confirm(HostCommand cmd) {
    share.leave();
    return confirmer.confirm(cmd, pausedAtBegin, copies.list(), postcopyRole, storage);
  }

  private Behavior<Command> unexpected(HostCommand cmd) {
    Replies.unexpected(ctx.getLog(), replies, cmd, settings.hostId(), "source");
    return Behaviors.same();
  }
}
