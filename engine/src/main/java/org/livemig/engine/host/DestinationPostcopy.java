package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import java.time.Duration;
import java.util.function.Function;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.common.EpochMicros;
import org.livemig.engine.dataplane.postcopy.PostcopyReceiver;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.PostcopyPages;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.PagesCompleteResult;
import org.livemig.messages.PostcopyReport;
import org.livemig.messages.StreamKind;

/**
 * The destination after a postcopy Finish (behaviors of the DestinationActor): the guest runs
 * once activated while the missing pages arrive over the postcopy channel, a guest access to a
 * missing page waiting only for that page. A broken channel pauses (the guest's faults wait, its
 * present pages stay); a new channel from the source recovers. The role ends when every page is
 * present and the coordinator has asked (PagesComplete).
 */
final class DestinationPostcopy {
  private record Recovering(int connection) implements DestinationActor.Command {}

  private record Active(int connection) implements DestinationActor.Command {}

  private record Paused(String reason) implements DestinationActor.Command {}

  private enum Complete implements DestinationActor.Command { INSTANCE }

  /** The DestinationActor's cleanup: close the endpoint, destroy the copy if given, then answer. */
  interface Cleanup {
    Behavior<DestinationActor.Command> run(MigratableGuest toDestroy, HostCommand cmd, HostReply answer);
  }

  private final ActorContext<DestinationActor.Command> ctx;
  private final String migrationId;
  private final MigratableGuest guest;
  private final HostSettings settings;
  private final ActorRef<HostAgent.Command> hostAgent;
  private final ActorRef<HostReply> replies;
  private final Function<HostCommand, Behavior<DestinationActor.Command>> discard;
  private final Cleanup cleanup;
  private final boolean arrivesPaused;
  private final HostLease lease;
  private final PostcopyPages pages;
  private final PostcopyReceiver receiver;
  private HostCommand pagesCompleteAsked;
  private boolean complete;

  DestinationPostcopy(ActorContext<DestinationActor.Command> ctx, String migrationId, MigratableGuest guest,
      DirtyBitmap present, HostSettings settings, MigrationParameters params, DataPlaneServer dataPlane,
      ActorRef<HostAgent.Command> hostAgent, ActorRef<HostReply> replies,
      Function<HostCommand, Behavior<DestinationActor.Command>> discard, Cleanup cleanup, boolean arrivesPaused,
      HostLease lease) {
    this.ctx = ctx;
    this.lease = lease;
    this.migrationId = migrationId;
    this.guest = guest;
    this.settings = settings;
    this.hostAgent = hostAgent;
    this.replies = replies;
    this.discard = discard;
    this.cleanup = cleanup;
    this.arrivesPaused = arrivesPaused;
    this.pages = new PostcopyPages(present);
    guest.setPostcopyPages(pages);
    Duration keepalive = settings.postcopyKeepalive(params);
    var self = ctx.getSelf();
    this.receiver = new PostcopyReceiver(migrationId, guest.memory(), pages, settings.dataPlane(), keepalive,
        new PostcopyReceiver.Listener() {
          @Override public void onRecover(int connection) { self.tell(new Recovering(connection)); }
          @Override public void onActive(int connection) { self.tell(new Active(connection)); }
          @Override public void onPaused(String reason) { self.tell(new Paused(reason)); }
          @Override public void onComplete() { self.tell(Complete.INSTANCE); }
        });
    dataPlane.expectStream(migrationId, StreamKind.POSTCOPY_PAGES, receiver);
  }

  /** Finish answered: waiting for Activate (or a rollback, which discards this copy). */
  Behavior<DestinationActor.Command> ready() {
    return channelEvents()
        .onMessage(DestinationActor.Execute.class, m -> switch (m.command().getCommandCase()) {
          case ACTIVATE -> activate(m.command());
          case DISCARD -> {
            receiver.close();
            yield discard.apply(m.command());
          }
          case PAGES_COMPLETE -> pagesComplete(m.command());
          default -> unexpected(m.command());
        })
        .onMessage(DestinationActor.Command.class, m -> Behaviors.same()) // late precopy channel events
        .build();
  }

  private Behavior<DestinationActor.Command> activate(HostCommand cmd) {
    if (!lease.held(ctx, new DestinationActor.Execute(cmd), migrationId)) return Behaviors.same();
    String token = cmd.getActivate().getOwnerToken();
    guest.assignOwner(token);
    if (arrivesPaused) guest.holdPaused(token); // paused at Begin, it stays paused; its pages still arrive
    else guest.run(token);
    long runningAt = EpochMicros.now();
    hostAgent.tell(new HostAgent.GuestAdopted(migrationId, guest));
    ctx.getLog().info("{}: guest {} runs on {} in postcopy; {} pages still to come", migrationId,
        guest.description().getGuestId(), settings.hostId(), pages.missingCount());
    replies.tell(Replies.ok(cmd, settings.hostId())
        .setActivate(ActivateResult.newBuilder().setRunningAtEpochUs(runningAt).setPostcopy(true)).build());
    return running();
  }

  /** The guest runs; the role ends once every page is here and the coordinator asked. */
  private Behavior<DestinationActor.Command> running() {
    return channelEvents()
        .onMessage(DestinationActor.Execute.class, m -> m.command().hasPagesComplete()
            ? pagesComplete(m.command()) : unexpected(m.command()))
        .onMessage(DestinationActor.Command.class, m -> Behaviors.same()) // late precopy channel events
        .build();
  }

  private Behavior<DestinationActor.Command> pagesComplete(HostCommand cmd) {
    pagesCompleteAsked = cmd;
    return complete ? ended() : Behaviors.same();
  }

  private Behavior<DestinationActor.Command> ended() {
    var stats = pages.faultStats();
    PagesCompleteResult result = PagesCompleteResult.newBuilder().setPagesReceived(receiver.pagesReceived())
        .setDuplicatePages(receiver.duplicatePages()).setFaults(stats.faults())
        .setFaultMedianUs(stats.medianNanos() / 1000).setFaultP99Us(stats.p99Nanos() / 1000)
        .setConnections(receiver.connections()).build();
    receiver.close();
    return cleanup.run(null, pagesCompleteAsked, Replies.ok(pagesCompleteAsked, settings.hostId())
        .setPagesComplete(result).build());
  }

  private BehaviorBuilder<DestinationActor.Command> channelEvents() {
    return Behaviors.receive(DestinationActor.Command.class)
        .onMessage(Recovering.class, m -> report(MigrationStatus.POSTCOPY_RECOVER, "", m.connection()))
        .onMessage(Active.class, m -> report(MigrationStatus.POSTCOPY_ACTIVE, "", m.connection()))
        .onMessage(Paused.class, m -> {
          if (receiver.state() != PostcopyReceiver.State.PAUSED) return Behaviors.same(); // a newer channel took over
          ctx.getLog().warn("{}: postcopy paused: {}; {} pages missing, guest accesses to them wait", migrationId,
              m.reason(), pages.missingCount());
          return report(MigrationStatus.POSTCOPY_PAUSED, m.reason(), receiver.connections());
        })
        .onMessageEquals(Complete.INSTANCE, () -> {
          complete = true;
          ctx.getLog().info("{}: postcopy: every page is here ({} received, {} duplicates)", migrationId,
              receiver.pagesReceived(), receiver.duplicatePages());
          report(MigrationStatus.COMPLETED, "", receiver.connections());
          return pagesCompleteAsked != null ? ended() : Behaviors.same();
        })
        .onSignal(akka.actor.typed.PostStop.class, s -> {
          receiver.close(); // the host is going down: its threads and socket go with it
          return Behaviors.same();
        });
  }

  private Behavior<DestinationActor.Command> report(MigrationStatus state, String reason, int connection) {
    hostAgent.tell(new HostAgent.PostcopyChanged(PostcopyReport.newBuilder().setMigrationId(migrationId)
        .setHost(settings.hostId()).setSource(false).setState(state).setReason(reason)
        .setPagesMissing(pages.missingCount()).setConnection(connection).build()));
    return Behaviors.same();
  }

  private Behavior<DestinationActor.Command> unexpected(HostCommand cmd) {
    ctx.getLog().warn("{}: {} not expected on the destination in postcopy", migrationId, cmd.getCommandCase());
    replies.tell(Replies.error(cmd, settings.hostId(), cmd.getCommandCase() + " not expected by the destination now"));
    return Behaviors.same();
  }
}
