package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.Props;
import akka.actor.typed.pubsub.Topic;
import org.livemig.messages.MigrationEvent;

/**
 * This node's handle on the cluster-wide topic of migration events: coordinators publish to it,
 * client subscriptions listen to it. One topic actor per node (an extension), found by the
 * others through the receptionist.
 */
public final class MigrationEventTopic implements Extension {
  public static final String TOPIC = "livemig-migration-events";

  private static final ExtensionId<MigrationEventTopic> ID = new ExtensionId<>() {
    @Override
    public MigrationEventTopic createExtension(ActorSystem<?> system) {
      return new MigrationEventTopic(system);
    }
  };

  public static MigrationEventTopic get(ActorSystem<?> system) {
    return system.registerExtension(ID);
  }

  private final ActorRef<Topic.Command<MigrationEvent>> topic;

  private MigrationEventTopic(ActorSystem<?> system) {
    this.topic = system.systemActorOf(Topic.create(MigrationEvent.class, TOPIC), TOPIC, Props.empty());
  }

  public ActorRef<Topic.Command<MigrationEvent>> topic() {
    return topic;
  }

  public void publish(MigrationEvent event) {
    topic.tell(Topic.publish(event));
  }
}
