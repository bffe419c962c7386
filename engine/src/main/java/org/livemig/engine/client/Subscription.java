package org.livemig.engine.client;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.pubsub.Topic;
import java.util.function.Consumer;
import org.livemig.messages.MigrationEvent;

/**
 * A listener on the migration event topic; close() unsubscribes. The listener runs inside an
 * actor, one event at a time, so it must return quickly (hand work to an executor of its own).
 */
public final class Subscription implements AutoCloseable {
  interface Command {}

  private record Delivered(MigrationEvent event) implements Command {}

  private enum Stop implements Command { INSTANCE }

  private final ActorRef<Command> subscriber;

  Subscription(ActorRef<Command> subscriber) {
    this.subscriber = subscriber;
  }

  static Behavior<Command> create(ActorRef<Topic.Command<MigrationEvent>> topic, Consumer<MigrationEvent> listener) {
    return Behaviors.setup(ctx -> {
      ActorRef<MigrationEvent> events = ctx.messageAdapter(MigrationEvent.class, Delivered::new);
      topic.tell(Topic.subscribe(events));
      return Behaviors.receive(Command.class)
          .onMessage(Delivered.class, m -> {
            try {
              listener.accept(m.event());
            } catch (RuntimeException e) {
              // A failing listener must not end the subscription; its error is logged, not lost.
              ctx.getLog().error("migration event listener failed on {}: {}", m.event().getInfo().getMigrationId(), e.toString());
            }
            return Behaviors.same();
          })
          .onMessageEquals(Stop.INSTANCE, () -> {
            topic.tell(Topic.unsubscribe(events));
            return Behaviors.stopped();
          })
          .build();
    });
  }

  @Override
  public void close() {
    subscriber.tell(Stop.INSTANCE);
  }
}
