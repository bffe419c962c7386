package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import java.util.ArrayList;
import java.util.List;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.messages.PrepareCookie;

/**
 * The data channels of one migration's source, a copy actor each: opened in Perform, told each
 * round, the final copy (channel 0 carries the device state and the postcopy discard) and the
 * host link's share; handed to cleanup in Confirm.
 */
final class SourceChannels {
  private final List<ActorRef<CopyActor.Command>> copies = new ArrayList<>();

  <T> void open(ActorContext<T> ctx, String migrationId, int channels, PrepareCookie prepare, MigratableGuest guest,
      DataPlaneSettings dataPlane, long bytesPerSecond, ActorRef<CopyActor.Event> events) {
    for (int c = 0; c < channels; c++) {
      copies.add(ctx.spawn(CopyActor.create(migrationId, c, channels, prepare, guest.memory(), dataPlane, bytesPerSecond,
          events), "copy-" + c));
    }
  }

  int size() { return copies.size(); }

  /** Each channel takes its share of the round's dirty set. */
  void sendRound(int round, long[] dirtyWords) {
    for (ActorRef<CopyActor.Command> c : copies) c.tell(new CopyActor.SendRound(round, dirtyWords));
  }

  void sendFinal(int round, long[] pages, byte[] deviceState, long pageCount, long[] postcopyDiscard) {
    for (int c = 0; c < copies.size(); c++) {
      copies.get(c).tell(new CopyActor.SendFinal(round, pages, c == 0 ? deviceState : null, pageCount,
          c == 0 ? postcopyDiscard : null));
    }
  }

  List<ActorRef<CopyActor.Command>> list() { return copies; }
}
