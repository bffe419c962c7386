package org.livemig.engine.client;

import akka.actor.typed.ActorSystem;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.livemig.engine.common.Ids;
import org.livemig.engine.coordinator.ProtectionCoordinator;
import org.livemig.messages.ProtectGuest;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionReply;
import org.livemig.messages.ProtectionState;

/**
 * Protections (checkpointed replication) for a cluster manager: each call is an ask to the
 * guest's protection coordinator (a sharded entity, id = guest id) with livemig.coordinator.ask-timeout.
 * A refusal completes exceptionally with a {@link MigrationException} of the matching kind.
 */
public final class ProtectionClient {
  private final ClusterSharding sharding;
  private final Duration timeout;

  public ProtectionClient(ActorSystem<?> system) {
    this.sharding = ClusterSharding.get(system);
    this.timeout = system.settings().config().getDuration("livemig.coordinator.ask-timeout");
  }

  /**
   * Protects a guest running on primaryHost with a copy on secondaryHost, checkpointed every
   * intervalMs (0 = the host's default); the same request again is answered with the status.
   */
  public CompletionStage<ProtectionInfo> protect(String guestId, String primaryHost, String secondaryHost, int intervalMs,
      boolean manualFailover) {
    ProtectGuest request = ProtectGuest.newBuilder().setGuestId(guestId).setPrimaryHost(primaryHost)
        .setSecondaryHost(secondaryHost).setIntervalMs(intervalMs).setManualFailover(manualFailover).build();
    return ask(guestId, c -> c.ask(r -> new ProtectionCoordinator.Protect(request, r), timeout));
  }

  /** The protection's status; UnknownGuest if the guest was never protected. */
  public CompletionStage<ProtectionInfo> status(String guestId) {
    return op(guestId, ProtectionCoordinator.OpKind.STATUS, "").thenCompose(i -> i.getState() == ProtectionState.PROTECTION_NONE
        ? CompletableFuture.failedFuture(new MigrationException.UnknownGuest("guest " + guestId + " has never been protected"))
        : CompletableFuture.completedFuture(i));
  }

  /** Ends replication; the guest runs on its primary, the secondary's copy is destroyed. */
  public CompletionStage<ProtectionInfo> unprotect(String guestId, String reason) {
    return op(guestId, ProtectionCoordinator.OpKind.UNPROTECT, reason);
  }

  /** Forces a failover: the primary is stopped (unless its host is gone), then the secondary runs from its last whole checkpoint. */
  public CompletionStage<ProtectionInfo> failover(String guestId, String reason) {
    return op(guestId, ProtectionCoordinator.OpKind.FAILOVER, reason);
  }

  private CompletionStage<ProtectionInfo> op(String guestId, ProtectionCoordinator.OpKind kind, String reason) {
    return ask(guestId, c -> c.ask(r -> new ProtectionCoordinator.Op(kind, reason == null ? "" : reason, r), timeout));
  }

  private CompletionStage<ProtectionInfo> ask(String guestId,
      Function<EntityRef<ProtectionCoordinator.Command>, CompletionStage<ProtectionReply>> ask) {
    String problem = Ids.problem("guest_id", guestId);
    if (problem != null) return CompletableFuture.failedFuture(new MigrationException.InvalidRequest("guest_id", problem));
    return ask.apply(sharding.entityRefFor(ProtectionCoordinator.TYPE_KEY, guestId))
        .handle((r, e) -> e != null ? CompletableFuture.<ProtectionInfo>failedFuture(Errors.of(e))
            : r.hasRefusal() ? CompletableFuture.<ProtectionInfo>failedFuture(Errors.of(r.getRefusal()))
            : CompletableFuture.completedFuture(r.getInfo()))
        .thenCompose(f -> f);
  }
}
