package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.eventstream.EventStream;
import org.livemig.messages.MigrationEvent;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * Publishes a coordinator's migration events on the cluster-wide topic, and the same to this
 * node's own listeners (CoordinatedHere). Called only after a decision is persisted (thenRun) or a
 * progress sample arrived, never from event handlers, so replaying a journal publishes nothing
 * twice. A new incarnation announces its phase again.
 */
final class EventPublisher {
  private final MigrationEventTopic topic;
  private final ActorRef<EventStream.Command> here;
  private Phase phase = Phase.PHASE_NONE;
  private MigrationStatus status = MigrationStatus.STATUS_NONE;

  EventPublisher(ActorSystem<?> system) {
    this.topic = MigrationEventTopic.get(system);
    this.here = system.eventStream();
  }

  /** After a persisted change: publishes when the phase or the status moved. */
  void changed(MigrationInfo info) {
    if (info.getPhase() == phase && info.getStatus() == status) return;
    MigrationEvent.Kind kind = switch (info.getStatus()) {
      case COMPLETED -> MigrationEvent.Kind.COMPLETED;
      case FAILED -> MigrationEvent.Kind.FAILED;
      case CANCELLED -> MigrationEvent.Kind.CANCELLED;
      default -> status == MigrationStatus.STATUS_NONE ? MigrationEvent.Kind.STARTED : MigrationEvent.Kind.PHASE_CHANGED;
    };
    phase = info.getPhase();
    status = info.getStatus();
    publish(MigrationEvent.newBuilder().setKind(kind).setInfo(info).build());
  }

  /** A precopy progress sample (not persisted: the next one replaces it). */
  void progress(MigrationInfo info) {
    publish(MigrationEvent.newBuilder().setKind(MigrationEvent.Kind.PROGRESS).setInfo(info).build());
  }

  /** The coordinator stops on this node (told to this node only: elsewhere it may go on). */
  void stopped(String migrationId) {
    here.tell(new EventStream.Publish<>(new CoordinatedHere.Stopped(migrationId)));
  }

  private void publish(MigrationEvent event) {
    topic.publish(event);
    here.tell(new EventStream.Publish<>(new CoordinatedHere.Published(event)));
  }
}
