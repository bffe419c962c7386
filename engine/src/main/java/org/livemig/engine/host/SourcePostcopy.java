package org.livemig.engine.host;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.function.Function;
import org.livemig.engine.dataplane.postcopy.PostcopySource;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.messages.HostCommand;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.PostcopyReport;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.RecoverRequest;

/**
 * The source after a postcopy switchover (behaviors of the SourceActor): its guest stays paused,
 * its memory serves the destination's page requests and the background push over the postcopy
 * channel, and it never resumes: Confirm destroys it once the destination has every page. A
 * broken channel pauses; a RecoverRequest opens a new one.
 */
final class SourcePostcopy {
  private record Active(int connection) implements SourceActor.Command {}

  private record Paused(String reason) implements SourceActor.Command {}

  private enum Complete implements SourceActor.Command { INSTANCE }

  private record Abandoned(CleanupActor.Finished finished) implements SourceActor.Command {}

  private final ActorContext<SourceActor.Command> ctx;
  private final String migrationId;
  private final MigratableGuest guest;
  private final HostSettings settings;
  private final PrepareCookie cookie;
  private final ActorRef<HostAgent.Command> hostAgent;
  private final Function<HostCommand, Behavior<SourceActor.Command>> confirm;
  private final PostcopySource source;
  /** The migration's share of the host's link: the background push is paced at it. */
  private final LinkShare share;

  SourcePostcopy(ActorContext<SourceActor.Command> ctx, String migrationId, MigratableGuest guest, HostSettings settings,
      PrepareCookie cookie, MigrationParameters params, ActorRef<HostAgent.Command> hostAgent, LinkShare share,
      Function<HostCommand, Behavior<SourceActor.Command>> confirm) {
    this.ctx = ctx;
    this.migrationId = migrationId;
    this.guest = guest;
    this.settings = settings;
    this.cookie = cookie;
    this.hostAgent = hostAgent;
    this.confirm = confirm;
    this.share = share;
    Duration keepalive = settings.postcopyKeepalive(params);
    var self = ctx.getSelf();
    this.source = new PostcopySource(migrationId, guest.memory(), settings.dataPlane(), keepalive,
        new PostcopySource.Listener() {
          @Override public void onActive(int connection) { self.tell(new Active(connection)); }
          @Override public void onPaused(String reason) { self.tell(new Paused(reason)); }
          @Override public void onComplete() { self.tell(Complete.INSTANCE); }
        }, cookie.getDestinationHost());
    source.setMaxBandwidth(share.bytesPerSecond());
  }

  /** Connects the first postcopy channel (the destination accepts it once its precopy streams ended). */
  Behavior<SourceActor.Command> start(long pagesLeft) {
    ctx.getLog().info("{}: postcopy: the destination fetches {} pages; source guest {} stays paused", migrationId,
        pagesLeft, guest.description().getGuestId());
    source.connect(cookie.getDataHost(), cookie.getDataPort(), cookie.getToken(), settings.dataPlane().handshakeTimeout());
    return running();
  }

  void close() {
    source.close();
  }

  long pagesSent() {
    return source.pagesSent();
  }

  long pagesResent() {
    return source.pagesResent();
  }

  private Behavior<SourceActor.Command> running() {
    return Behaviors.receive(SourceActor.Command.class)
        .onMessage(Active.class, m -> {
          ctx.getLog().info("{}: postcopy channel {} active", migrationId, m.connection());
          share.rejoin(); // after a recovery: paused, it had left
          source.setMaxBandwidth(share.bytesPerSecond());
          return report(MigrationStatus.POSTCOPY_ACTIVE, "", m.connection());
        })
        .onMessage(Paused.class, m -> {
          share.leave(); // nothing is pushed while paused: the others may use the link
          ctx.getLog().warn("{}: postcopy paused: {} ({} pages left to send)", migrationId, m.reason(), source.pagesLeft());
          return report(MigrationStatus.POSTCOPY_PAUSED, m.reason(), source.connections());
        })
        .onMessageEquals(Complete.INSTANCE, () -> {
          share.leave();
          ctx.getLog().info("{}: postcopy: the destination has every page ({} sent, {} resent)", migrationId,
              source.pagesSent(), source.pagesResent());
          return report(MigrationStatus.COMPLETED, "", source.connections());
        })
        .onMessage(SourceActor.Execute.class, m -> m.command().hasRecover(), m -> recover(m.command().getRecover()))
        .onMessage(SourceActor.Execute.class, m -> m.command().hasConfirm(), m -> confirm.apply(m.command()))
        .onMessage(SourceActor.Execute.class, m -> m.command().hasAbandoned(), m -> abandon(m.command()))
        .onMessage(SourceActor.ShareChanged.class, m -> {
          if (share.update(m.share())) source.setMaxBandwidth(share.bytesPerSecond());
          return Behaviors.same();
        })
        .onMessage(SourceActor.Execute.class, m -> {
          ctx.getLog().debug("{}: {} ignored in postcopy", migrationId, m.command().getCommandCase());
          return Behaviors.same();
        })
        .onMessage(SourceActor.Command.class, m -> Behaviors.same()) // late precopy channel events
        .onSignal(akka.actor.typed.PostStop.class, s -> {
          source.close(); // the host is going down: its threads and socket go with it
          return Behaviors.same();
        })
        .build();
  }

  /**
   * Postcopy failed (its destination is gone): the channel has nobody left to serve and closes;
   * the copy here is stale, so it is neither destroyed nor resumed but stays paused for an operator.
   */
  private Behavior<SourceActor.Command> abandon(HostCommand cmd) {
    share.leave();
    ctx.getLog().error("{}: postcopy abandoned ({}); the stale source copy of {} stays paused for an operator",
        migrationId, cmd.getAbandoned().getReason(), guest.description().getGuestId());
    ActorRef<CleanupActor.Finished> done = ctx.messageAdapter(CleanupActor.Finished.class, Abandoned::new);
    hostAgent.tell(new HostAgent.CleanupRequested(migrationId,
        new CleanupActor.Plan("source", java.util.List.of(), source::close, null), done));
    return Behaviors.receive(SourceActor.Command.class)
        .onMessage(Abandoned.class, m -> Behaviors.stopped())
        .onMessage(SourceActor.Command.class, m -> Behaviors.same()) // late channel events: already decided
        .onSignal(akka.actor.typed.PostStop.class, sig -> {
          source.close(); // idempotent: the host may go down before the cleanup ran
          return Behaviors.same();
        })
        .build();
  }

  /** Only a paused channel recovers; otherwise the coordinator hears the state as it is. */
  private Behavior<SourceActor.Command> recover(RecoverRequest r) {
    PostcopySource.State state = source.state();
    if (state != PostcopySource.State.PAUSED && state != PostcopySource.State.IDLE) {
      ctx.getLog().warn("{}: recovery {} not started: postcopy is {}", migrationId, r.getAttempt(), state);
      return report(switch (state) {
        case ACTIVE -> MigrationStatus.POSTCOPY_ACTIVE;
        case COMPLETE -> MigrationStatus.COMPLETED;
        default -> MigrationStatus.POSTCOPY_RECOVER;
      }, "recovery " + r.getAttempt() + " not started: postcopy is " + state, source.connections());
    }
    String host = r.getDataHost().isEmpty() ? cookie.getDataHost() : r.getDataHost();
    int port = r.getDataPort() == 0 ? cookie.getDataPort() : r.getDataPort();
    ctx.getLog().warn("{}: postcopy recovery {} over {}:{}", migrationId, r.getAttempt(), host, port);
    source.connect(host, port, cookie.getToken(), settings.dataPlane().handshakeTimeout());
    return report(MigrationStatus.POSTCOPY_RECOVER, "", source.connections());
  }

  private Behavior<SourceActor.Command> report(MigrationStatus state, String reason, int connection) {
    hostAgent.tell(new HostAgent.PostcopyChanged(PostcopyReport.newBuilder().setMigrationId(migrationId)
        .setHost(settings.hostId()).setSource(true).setState(state).setReason(reason)
        .setPagesMissing(source.pagesLeft()).setPagesSent(source.pagesSent()).setPagesResent(source.pagesResent())
        .setConnection(connection).build()));
    return Behaviors.same();
  }
}
