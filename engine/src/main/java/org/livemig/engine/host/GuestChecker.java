package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.Behaviors;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.Refusal;

/**
 * One check of a guest against its oracle (GuestCheck on the blocking dispatcher), answered to
 * the asker; the host agent hears when it is over, so that the guest may migrate again.
 */
final class GuestChecker {
  interface Command {}

  private record Checked(GuestVerification result, Throwable error) implements Command {}

  private GuestChecker() {}

  static Behavior<Command> create(MigratableGuest guest, String hostId, ActorRef<GuestVerification> replyTo,
      ActorRef<HostAgent.Command> agent) {
    return Behaviors.setup(ctx -> {
      var blockingIo = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
      ctx.pipeToSelf(GuestCheck.run(guest, hostId, blockingIo), Checked::new);
      String guestId = guest.description().getGuestId();
      return Behaviors.receive(Command.class)
          .onMessage(Checked.class, m -> {
            if (m.error() != null) {
              ctx.getLog().error("verifying guest {} on {} failed", guestId, hostId, m.error());
              replyTo.tell(refused(guestId, hostId, ErrorKind.ERROR_REFUSED, "verifying guest " + guestId
                  + " failed: " + m.error()));
            } else {
              ctx.getLog().info("guest {} on {}: {} pages checked after {} steps, {} mismatches ({} ms held)", guestId,
                  hostId, m.result().getPagesChecked(), m.result().getSteps(), m.result().getMismatches(),
                  m.result().getCheckMs());
              replyTo.tell(m.result());
            }
            agent.tell(new HostAgent.GuestVerified(guestId));
            return Behaviors.stopped();
          })
          .build();
    });
  }

  /** The answer when the host cannot check the guest now. */
  static GuestVerification refused(String guestId, String hostId, ErrorKind kind, String why) {
    return GuestVerification.newBuilder().setGuestId(guestId).setHost(hostId)
        .setRefusal(Refusal.newBuilder().setKind(kind).setMessage(why)).build();
  }
}
