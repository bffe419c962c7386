package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.DispatcherSelector;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.dataplane.InboundListener;
import org.livemig.engine.common.EpochMicros;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunStateListener;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.dataplane.BlockReceiver;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.messages.StreamKind;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.DiscardResult;
import org.livemig.messages.FinishResult;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.PrepareCookie;

/**
 * The destination side of one migration: Prepare (an empty guest that may not run, and a
 * data endpoint guarded by a one-time token), receive, Finish (did everything arrive?), then
 * Activate (run, only once the coordinator has made the destination the owner) or Discard. A
 * Finish sent after the coordinator's switchover marker runs the guest itself when complete.
 */
public final class DestinationActor {

  public interface Command {}

  public record Execute(HostCommand command) implements Command {}

  private record ChannelOpened(int channel) implements Command {}

  private record DeviceStateArrived(byte[] state) implements Command {}

  private record StreamEnded(int channel, long totalPages) implements Command {}

  private record ChannelFailed(int channel, String reason) implements Command {}

  private record PostcopyDiscardArrived(long[] words) implements Command {}

  private enum FinishWaitExpired implements Command { INSTANCE }

  private record CleanedUp(CleanupActor.Finished finished) implements Command {}

  private record GuestReserved(MigratableGuest guest, Throwable error) implements Command {}

  static Behavior<Command> create(String migrationId, HostSettings settings, HostSettings.Faults faults,
      DataPlaneServer dataPlane, ActorRef<HostReply> replies, ActorRef<HostAgent.Command> hostAgent,
      RunStateListener runStates, HostLease lease) {
    return Behaviors.withMdc(Command.class, Map.of("migrationId", migrationId),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new DestinationActor(ctx, timers, migrationId,
            settings, faults, dataPlane, replies, hostAgent, runStates, lease).preparing())));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String migrationId;
  private final HostSettings settings;
  private final HostSettings.Faults faults;
  private final DataPlaneServer dataPlane;
  private final ActorRef<HostReply> replies;
  private final ActorRef<HostAgent.Command> hostAgent;
  private final RunStateListener runStates;
  private final HostLease lease;

  private MigratableGuest guest;
  private DirtyBitmap received;
  private int channels;
  private byte[] deviceState;
  private final Set<Integer> endedChannels = new TreeSet<>();
  private String channelFailure;
  private HostCommand pendingDiscard;
  /** Postcopy: pages that went stale after they were sent (null in precopy). */
  private long[] postcopyDiscard;
  private MigrationParameters parameters;
  private long pagesAtLastFinishWait = -1;
  /** How long loading the device state took (disks reopened at the source's write position), for the blackout. */
  private long deviceStateLoadMicros;
  /** The source's guest was paused at Begin: this copy is owned, not run. */
  private boolean arrivesPaused;
  /** copy_storage: this host created the guest's disk files; the disk stream fills them. */
  private boolean copyStorage;
  private BlockReceiver blocks;

  private DestinationActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, String migrationId,
      HostSettings settings, HostSettings.Faults faults, DataPlaneServer dataPlane, ActorRef<HostReply> replies,
      ActorRef<HostAgent.Command> hostAgent, RunStateListener runStates, HostLease lease) {
    this.ctx = ctx;
    this.lease = lease;
    this.runStates = runStates;
    this.faults = faults;
    this.timers = timers;
    this.migrationId = migrationId;
    this.settings = settings;
    this.dataPlane = dataPlane;
    this.replies = replies;
    this.hostAgent = hostAgent;
  }

  private Behavior<Command> preparing() {
    return Behaviors.receive(Command.class)
        .onMessage(Execute.class, m -> m.command().hasPrepare() ? prepare(m.command()) : rollbackOrRefuse(m.command()))
        .build();
  }

  /**
   * Reserves the guest memory and touches every page on the blocking dispatcher (first-touch
   * allocation of a large guest takes seconds), so neither the actor nor the transfer pays it.
   */
  private Behavior<Command> prepare(HostCommand cmd) {
    arrivesPaused = cmd.getPrepare().getBegin().getPaused();
    GuestDescription d = cmd.getPrepare().getBegin().getGuest();
    copyStorage = cmd.getPrepare().getParameters().getCopyStorage() && d.getDisksCount() > 0;
    Executor blockingIo = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
    ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> {
      // Shared storage: the source's disk files, opened here (refused if this host does not see them).
      // Copied storage: new files in the same-named datastores here, filled by the disk stream.
      GuestDisks.Created c = copyStorage ? GuestDisks.create(d, settings.hostId(), settings.datastores(), faults.disk())
          : new GuestDisks.Created(d, d.getDisksCount() == 0 ? GuestDisks.none()
              : GuestDisks.open(d, settings.hostId(), settings.datastores(), faults.disk()));
      if (copyStorage) hostAgent.tell(new HostAgent.DiskFilesCreated(LeftoverDiskFiles.created(migrationId, c)));
      try {
        MigratableGuest g = SyntheticGuest.empty(c.description(), runStates, c.disks());
        g.memory().prefault();
        return g;
      } catch (RuntimeException | OutOfMemoryError e) {
        c.disks().close();
        if (copyStorage) c.disks().deleteFiles(e); // ours, and nobody's disk
        throw e;
      }
    }, blockingIo), GuestReserved::new);
    return Behaviors.receive(Command.class)
        .onMessage(GuestReserved.class, m -> reserved(cmd, m))
        .onMessage(Execute.class, m -> {
          if (m.command().hasDiscard()) pendingDiscard = m.command(); // answered once the memory is back
          else unexpected(m.command());
          return Behaviors.same();
        })
        .build();
  }

  private Behavior<Command> reserved(HostCommand cmd, GuestReserved m) {
    GuestDescription d = cmd.getPrepare().getBegin().getGuest();
    if (m.error() != null) {
      Throwable e = m.error() instanceof CompletionException && m.error().getCause() != null ? m.error().getCause() : m.error();
      String why = "cannot reserve guest " + d.getGuestId() + " on " + settings.hostId() + ": " + e.getMessage();
      ctx.getLog().warn("{}: prepare refused: {}", migrationId, why);
      replies.tell(Replies.error(cmd, settings.hostId(), why));
      return pendingDiscard != null ? discard(pendingDiscard) : refused();
    }
    guest = m.guest();
    if (pendingDiscard != null) return discard(pendingDiscard);
    received = new DirtyBitmap(d.getPageCount());
    parameters = cmd.getPrepare().getParameters();
    channels = Math.max(1, parameters.getChannels());
    String token = org.livemig.engine.security.DataToken.newToken();
    ActorRef<Command> self = ctx.getSelf();
    dataPlane.expect(migrationId, token, channels, new InboundListener() {
      @Override public void onChannelOpened(int channel) { self.tell(new ChannelOpened(channel)); }
      @Override public void onDeviceState(byte[] state) { self.tell(new DeviceStateArrived(state)); }
      @Override public void onIterationEnd(int round, long pages) {}
      @Override public void onEndOfStream(int channel, long totalPages) { self.tell(new StreamEnded(channel, totalPages)); }
      @Override public void onChannelFailed(int channel, String reason) { self.tell(new ChannelFailed(channel, reason)); }
      @Override public void onPostcopyDiscard(long[] words) { self.tell(new PostcopyDiscardArrived(words)); }
    }, guest.memory(), received, cmd.getPrepare().getBegin().getSourceHost());
    if (copyStorage) {
      blocks = new BlockReceiver(migrationId, diskFiles());
      dataPlane.expectStream(migrationId, StreamKind.DISK_BLOCKS, blocks);
    }
    String host = settings.dataEndpointHost();
    int port = settings.dataEndpointPort(dataPlane.port());
    replies.tell(Replies.ok(cmd, settings.hostId()).setPrepare(PrepareCookie.newBuilder()
        .setDataHost(host).setDataPort(port).setToken(token).setDestinationHost(settings.hostId())).build());
    ctx.getLog().info("{}: prepared guest {} ({} pages), data endpoint {}:{}", migrationId, d.getGuestId(),
        d.getPageCount(), host, port);
    return receiving();
  }

  /** Prepare was refused: nothing to receive, only the rollback to answer. */
  private Behavior<Command> refused() {
    return Behaviors.receive(Command.class)
        .onMessage(Execute.class, m -> rollbackOrRefuse(m.command()))
        .build();
  }

  private Behavior<Command> receiving() {
    return inbound()
        .onMessage(Execute.class, m -> switch (m.command().getCommandCase()) {
          case FINISH -> finishing(m.command());
          case DISCARD -> discard(m.command());
          default -> unexpected(m.command());
        })
        .build();
  }

  /** Finish arrived: answer once every channel has ended (or failed), or when the wait expires. */
  private Behavior<Command> finishing(HostCommand finish) {
    if (channelFailure != null || endedChannels.size() == channels) {
      timers.cancel(FinishWaitExpired.INSTANCE);
      return finish(finish);
    }
    if (!timers.isTimerActive(FinishWaitExpired.INSTANCE)) {
      timers.startSingleTimer(FinishWaitExpired.INSTANCE, settings.finishWait());
    }
    return inbound(() -> finishing(finish))
        .onMessageEquals(FinishWaitExpired.INSTANCE, () -> {
          long have = received.count();
          if (have == pagesAtLastFinishWait) return finish(finish);
          pagesAtLastFinishWait = have; // still arriving: wait on
          timers.startSingleTimer(FinishWaitExpired.INSTANCE, settings.finishWait());
          return Behaviors.same();
        })
        .onMessage(Execute.class, m -> m.command().hasDiscard() ? discard(m.command()) : unexpected(m.command()))
        .build();
  }

  private Behavior<Command> finish(HostCommand cmd) {
    if (postcopyDiscard != null) received.clear(postcopyDiscard); // stale copies count as missing
    long have = received.count();
    long missing = guest.memory().pageCount() - have;
    String reason = null;
    if (faults.failFinish()) reason = "fault injected: finish reports the copy incomplete";
    else if (channelFailure != null) reason = channelFailure;
    else if (endedChannels.size() < channels) reason = "end of stream seen on " + endedChannels.size() + " of " + channels + " channels";
    else if (missing > 0 && postcopyDiscard == null) reason = missing + " pages never arrived";
    else if (deviceState == null) reason = "device state never arrived";
    else if (blocks != null && !blocks.whole()) {
      reason = "disk copy incomplete: " + (blocks.failure() != null ? blocks.failure() : "not every disk arrived whole");
    }
    if (reason == null) {
      try {
        long t0 = System.nanoTime();
        guest.loadDeviceState(deviceState);
        deviceStateLoadMicros = (System.nanoTime() - t0) / 1000;
      } catch (IllegalArgumentException | IllegalStateException e) {
        reason = "device state refused: " + e.getMessage();
      }
    }
    FinishResult.Builder r = FinishResult.newBuilder().setComplete(reason == null).setPagesReceived(have)
        .setPagesMissing(missing).setPostcopy(postcopyDiscard != null);
    if (reason != null) {
      r.setReason(reason);
      ctx.getLog().warn("{}: finish: copy incomplete: {}", migrationId, reason);
    } else if (postcopyDiscard != null) {
      ctx.getLog().info("{}: finish: ready for postcopy: device state and {} pages here, {} to fetch", migrationId,
          have, missing);
    } else {
      ctx.getLog().info("{}: finish: all {} pages and the device state arrived", migrationId, have);
    }
    if (reason == null && postcopyDiscard != null) {
      // The postcopy channel is accepted from now on: the source may start pushing before Activate.
      Behavior<Command> next = new DestinationPostcopy(ctx, migrationId, guest, received, settings, parameters, dataPlane,
          hostAgent, replies, this::discard, this::cleaningUp, arrivesPaused, lease).ready();
      replies.tell(Replies.ok(cmd, settings.hostId()).setFinish(r).build());
      return next;
    }
    if (reason == null && cmd.getFinish().getActivateWhenComplete() && lease.valid()) {
      // The coordinator's switchover marker is in its journal: run now, Finish's answer says so.
      // Without a valid lease, Finish answers complete without running and Activate waits for one.
      r.setActivated(run(cmd.getFinish().getOwnerToken()));
      return cleaningUp(null, cmd, Replies.ok(cmd, settings.hostId()).setFinish(r).build());
    }
    replies.tell(Replies.ok(cmd, settings.hostId()).setFinish(r).build());
    return reason == null ? finished() : receiving();
  }

  private Behavior<Command> finished() {
    return Behaviors.receive(Command.class)
        .onMessage(Execute.class, m -> switch (m.command().getCommandCase()) {
          case ACTIVATE -> activate(m.command());
          case DISCARD -> discard(m.command());
          default -> unexpected(m.command());
        })
        .onMessage(Command.class, m -> Behaviors.same())
        .build();
  }

  private Behavior<Command> activate(HostCommand cmd) {
    if (!lease.held(ctx, new Execute(cmd), migrationId)) return Behaviors.same();
    return cleaningUp(null, cmd, Replies.ok(cmd, settings.hostId())
        .setActivate(run(cmd.getActivate().getOwnerToken())).build());
  }

  /**
   * The guest runs here from now on (or stays paused if it was), owned through the coordinator's
   * token; the source's copy is torn down only after this, in Confirm.
   */
  private ActivateResult run(String ownerToken) {
    long t0 = System.nanoTime();
    guest.assignOwner(ownerToken);
    if (arrivesPaused) guest.holdPaused(ownerToken);
    else guest.run(ownerToken);
    ActivateResult runningAt = ActivateResult.newBuilder().setRunningAtEpochUs(EpochMicros.now())
        .setDeviceStateLoadUs(deviceStateLoadMicros).setUnleashUs((System.nanoTime() - t0) / 1000).build();
    hostAgent.tell(new HostAgent.GuestAdopted(migrationId, guest));
    ctx.getLog().info("{}: guest {} {} on {}", migrationId, guest.description().getGuestId(),
        arrivesPaused ? "arrives paused, as it was," : "runs", settings.hostId());
    return runningAt;
  }

  Behavior<Command> discard(HostCommand cmd) {
    ctx.getLog().warn("{}: discarding the destination copy: {}", migrationId, cmd.getDiscard().getReason());
    return cleaningUp(guest, cmd, Replies.ok(cmd, settings.hostId())
        .setDiscard(DiscardResult.newBuilder().setDiscarded(true)).build());
  }

  private Behavior<Command> rollbackOrRefuse(HostCommand cmd) {
    return cmd.hasDiscard() ? discard(cmd) : unexpected(cmd);
  }

  Behavior<Command> cleaningUp(MigratableGuest toDestroy, HostCommand cmd, HostReply answer) {
    timers.cancelAll();
    ActorRef<CleanupActor.Finished> done = ctx.messageAdapter(CleanupActor.Finished.class, CleanedUp::new);
    Runnable closeEndpoint = received == null ? null : () -> dataPlane.forget(migrationId);
    hostAgent.tell(new HostAgent.CleanupRequested(migrationId,
        new CleanupActor.Plan("destination", List.of(), closeEndpoint, toDestroy,
            copyStorage && toDestroy != null ? diskFiles().stream().map(f -> f.path()).toList() : List.of()), done));
    return Behaviors.receive(Command.class)
        .onMessage(CleanedUp.class, m -> {
          replies.tell(answer);
          return Behaviors.stopped();
        })
        .onMessage(Command.class, m -> Behaviors.same())
        .build();
  }

  /** What to become after a data-plane event (Finish re-checks completeness on each). */
  private interface NextBehavior {
    Behavior<Command> behavior();
  }

  private BehaviorBuilder<Command> inbound() {
    return inbound(Behaviors::same);
  }

  /** Data-plane events; after each, next decides the behavior (Finish re-checks completeness). */
  private BehaviorBuilder<Command> inbound(NextBehavior next) {
    return Behaviors.receive(Command.class)
        .onMessage(ChannelOpened.class, m -> {
          ctx.getLog().debug("{}: channel {} open", migrationId, m.channel());
          return Behaviors.same();
        })
        .onMessage(DeviceStateArrived.class, m -> {
          deviceState = m.state();
          return next.behavior();
        })
        .onMessage(PostcopyDiscardArrived.class, m -> {
          postcopyDiscard = m.words();
          return next.behavior();
        })
        .onMessage(StreamEnded.class, m -> {
          endedChannels.add(m.channel());
          return next.behavior();
        })
        .onMessage(ChannelFailed.class, m -> {
          if (channelFailure == null) channelFailure = "channel " + m.channel() + " failed: " + m.reason();
          ctx.getLog().warn("{}: {}", migrationId, channelFailure);
          return next.behavior();
        });
  }

  private Behavior<Command> unexpected(HostCommand cmd) {
    Replies.unexpected(ctx.getLog(), replies, cmd, settings.hostId(), "destination");
    return Behaviors.same();
  }

  /** The guest's disk files here, in its description's order. */
  private List<org.livemig.engine.guest.disk.DiskFile> diskFiles() {
    return guest.description().getDisksList().stream().map(x -> guest.disk(x.getDiskId()).file()).toList();
  }
}
