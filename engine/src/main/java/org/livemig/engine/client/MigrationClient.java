package org.livemig.engine.client;

import akka.actor.typed.ActorSystem;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.StartMigration;

/**
 * What a cluster manager calls: every call is an ask to the migration's coordinator (a
 * sharded entity, wherever it runs) with the configured timeout, answered as a CompletionStage.
 * A refused request completes exceptionally with the coordinator's reason.
 */
public final class MigrationClient {
  private final ClusterSharding sharding;
  private final Duration timeout;

  public MigrationClient(ActorSystem<?> system) {
    this.sharding = ClusterSharding.get(system);
    this.timeout = system.settings().config().getDuration("livemig.coordinator.ask-timeout");
  }

  /** Starts a migration under a new id; completes with its first status. */
  public CompletionStage<MigrationInfo> start(String guestId, String sourceHost, String destinationHost,
      MigrationParameters parameters) {
    return start(UUID.randomUUID().toString(), guestId, sourceHost, destinationHost, parameters);
  }

  /** Starts a migration under a given id; repeating the same request is harmless. */
  public CompletionStage<MigrationInfo> start(String migrationId, String guestId, String sourceHost,
      String destinationHost, MigrationParameters parameters) {
    StartMigration request = StartMigration.newBuilder().setMigrationId(migrationId).setGuestId(guestId)
        .setSourceHost(sourceHost).setDestinationHost(destinationHost).setParameters(parameters).build();
    return coordinator(migrationId).askWithStatus(r -> new MigrationCoordinator.Start(request, r), timeout);
  }

  public CompletionStage<MigrationInfo> status(String migrationId) {
    return coordinator(migrationId).ask(MigrationCoordinator.GetStatus::new, timeout);
  }

  public CompletionStage<MigrationInfo> cancel(String migrationId, String reason) {
    return coordinator(migrationId).askWithStatus(r -> new MigrationCoordinator.Cancel(reason, r), timeout);
  }

  private EntityRef<MigrationCoordinator.Command> coordinator(String migrationId) {
    return sharding.entityRefFor(MigrationCoordinator.TYPE_KEY, migrationId);
  }
}
