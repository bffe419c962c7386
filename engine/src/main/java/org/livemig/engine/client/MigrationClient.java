package org.livemig.engine.client;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.livemig.engine.common.Ids;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.engine.coordinator.MigrationEventTopic;
import org.livemig.engine.coordinator.MigrationListView;
import org.livemig.engine.coordinator.MigrationState;
import org.livemig.messages.CommandReply;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.GuestCommandRequest;
import org.livemig.messages.GuestCommandResult;
import org.livemig.messages.MigrationEvent;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationList;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.StartMigration;
import org.livemig.persistence.PageToken;

/**
 * What a cluster manager calls: every call but list is an ask to the migration's coordinator (a
 * sharded entity, wherever it runs) with the configured timeout, answered as a CompletionStage;
 * list reads the migration list the coordinators keep (MigrationListView).
 * A refused call completes exceptionally with a {@link MigrationException} of the matching kind.
 */
public final class MigrationClient {
  private static final Duration SETUP_POLL = Duration.ofMillis(50);

  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final MigrationListView view;
  private final Duration timeout;
  private final Duration setupTimeout;
  private final GuestHosts hosts;

  public MigrationClient(ActorSystem<?> system) {
    this.system = system;
    this.sharding = ClusterSharding.get(system);
    this.view = MigrationListView.get(system);
    var config = system.settings().config();
    this.timeout = config.getDuration("livemig.coordinator.ask-timeout");
    // A host that is not registered is given up on after the lookup timeout; wait a bit longer.
    this.setupTimeout = timeout.plus(config.getDuration("livemig.coordinator.host-lookup-timeout"));
    this.hosts = new GuestHosts(system, timeout);
  }

  /** Starts a migration under a new id; completes with its first status (the hosts have not answered yet). */
  public CompletionStage<MigrationInfo> start(String guestId, String sourceHost, String destinationHost,
      MigrationParameters parameters) {
    return start(UUID.randomUUID().toString(), guestId, sourceHost, destinationHost, parameters);
  }

  /** Starts a migration under a given id; repeating the same request is harmless. */
  public CompletionStage<MigrationInfo> start(String migrationId, String guestId, String sourceHost,
      String destinationHost, MigrationParameters parameters) {
    MigrationException invalid = invalid("migration_id", migrationId, "guest_id", guestId, "source_host", sourceHost,
        "destination_host", destinationHost);
    if (invalid != null) return CompletableFuture.failedFuture(invalid);
    StartMigration request = StartMigration.newBuilder().setMigrationId(migrationId).setGuestId(guestId)
        .setSourceHost(sourceHost).setDestinationHost(destinationHost).setParameters(parameters).build();
    return withCoordinator(migrationId,
        c -> answered(c.ask(r -> new MigrationCoordinator.Start(request, r), timeout)));
  }

  /**
   * Starts a migration and completes once both hosts accepted it (Begin and Prepare answered),
   * so that an unknown guest ({@link MigrationException.UnknownGuest}), a guest already
   * migrating ({@link MigrationException.Conflict}) or an unregistered host
   * ({@link MigrationException.HostUnreachable}) fail the call itself. A migration that fails
   * later (or for another reason) completes normally; its status says why. A migration that
   * admission control queued completes the call at once with status QUEUED.
   */
  public CompletionStage<MigrationInfo> startAndAwaitSetup(String migrationId, String guestId, String sourceHost,
      String destinationHost, MigrationParameters parameters) {
    long deadline = System.nanoTime() + setupTimeout.toNanos();
    return start(migrationId, guestId, sourceHost, destinationHost, parameters)
        .thenCompose(first -> awaitSetup(first, deadline));
  }

  private CompletionStage<MigrationInfo> awaitSetup(MigrationInfo info, long deadline) {
    // Only setup is waited for, so an error here is a refusal of Begin or Prepare (the phase
    // itself may already show the rollback's Confirm).
    if (Errors.refusesRequest(info.getErrorKind())) {
      return CompletableFuture.failedFuture(MigrationException.of(info.getErrorKind(), "", info.getError()));
    }
    // A queued migration waits for an admission slot, maybe long: it is accepted, and its hosts
    // are asked only once it starts, so a refusal of Begin or Prepare then shows in its status.
    boolean setUp = info.getPhase().getNumber() >= Phase.PERFORM_VALUE || ended(info) || !info.getError().isEmpty()
        || info.getStatus() == MigrationStatus.QUEUED;
    if (setUp || System.nanoTime() > deadline) return CompletableFuture.completedFuture(info);
    return CompletableFuture.supplyAsync(() -> info.getMigrationId(),
            CompletableFuture.delayedExecutor(SETUP_POLL.toMillis(), TimeUnit.MILLISECONDS))
        .thenCompose(this::status)
        .thenCompose(next -> awaitSetup(next, deadline));
  }

  /** Status of one migration; {@link MigrationException.UnknownMigration} if none was started under the id. */
  public CompletionStage<MigrationInfo> status(String migrationId) {
    return withCoordinator(migrationId, c -> typed(c.ask(MigrationCoordinator.GetStatus::new, timeout))
        .thenCompose(info ->
        info.getStatus() == MigrationStatus.STATUS_NONE
            ? CompletableFuture.failedFuture(new MigrationException.UnknownMigration("unknown migration " + migrationId))
            : CompletableFuture.completedFuture(info)));
  }

  /**
   * A page of the migration list, newest first: at most limit migrations (1 to
   * livemig.list.max-page-size) after the position of a page token (null or empty: from the
   * newest), and the token of the next page (empty on the last). Answered from the list the
   * coordinators keep, not by the coordinators: the list's fields only, as of each migration's
   * last persisted change (status(id) asks the coordinator itself). A bad limit or token fails
   * with InvalidRequest naming "limit" or "after". Pages are stable: migrations started meanwhile
   * come before the first page, never inside later ones.
   */
  public CompletionStage<MigrationList> list(int limit, String after) {
    if (limit < 1 || limit > view.maxPageSize()) {
      return CompletableFuture.failedFuture(new MigrationException.InvalidRequest("limit",
          "invalid request: limit must be between 1 and " + view.maxPageSize() + ", was " + limit));
    }
    PageToken position;
    try {
      position = after == null || after.isEmpty() ? null : PageToken.decode(after);
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new MigrationException.InvalidRequest("after",
          "invalid request: " + e.getMessage()));
    }
    return typed(view.page(limit, position).thenApply(p -> MigrationList.newBuilder()
        .addAllMigrations(p.rows().stream().map(MigrationListView::info).toList())
        .setNextPageToken(p.next() == null ? "" : p.next().encode()).build()));
  }

  /** Every migration in the list, newest first (page after page of the largest size): for operators, not loops. */
  public CompletionStage<List<MigrationInfo>> list() {
    return listFrom("", new ArrayList<>());
  }

  private CompletionStage<List<MigrationInfo>> listFrom(String after, List<MigrationInfo> sofar) {
    return list(view.maxPageSize(), after).thenCompose(page -> {
      sofar.addAll(page.getMigrationsList());
      return page.getNextPageToken().isEmpty() ? CompletableFuture.completedFuture(List.copyOf(sofar))
          : listFrom(page.getNextPageToken(), sofar);
    });
  }

  /**
   * The exact status of every migration the list shows as not ended, from its coordinator (one ask
   * each; the ended ones are not asked), newest first.
   */
  public CompletionStage<List<MigrationInfo>> statusOfUnended() {
    return typed(view.unended()).thenCompose(rows -> {
      List<CompletableFuture<MigrationInfo>> all = new ArrayList<>();
      for (var row : rows) all.add(status(row.migrationId()).toCompletableFuture());
      return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
          .thenApply(v -> all.stream().map(CompletableFuture::join).toList());
    });
  }

  public CompletionStage<MigrationInfo> cancel(String migrationId, String reason) {
    return withCoordinator(migrationId,
        c -> answered(c.ask(r -> new MigrationCoordinator.Cancel(reason, false, r), timeout)));
  }

  /**
   * Stops a guest for good on whichever host holds it (its disk files stay; a disk move ends with
   * it). A guest that is migrating is powered off by its migration, which only its coordinator may
   * decide: the migration is cancelled with the guest powered off (it ends CANCELLED with error
   * kind POWERED_OFF; its disk copies are removed and nobody resumes the guest), and the answer
   * names it in {@code migration}. Conflict once that migration is past its switchover.
   */
  public CompletionStage<GuestCommandResult> powerOff(String guestId, String reason) {
    MigrationException invalid = invalid("guest_id", guestId);
    return invalid != null ? CompletableFuture.failedFuture(invalid) : powerOff(guestId, reason, 3);
  }

  private CompletionStage<GuestCommandResult> powerOff(String guestId, String reason, int attempts) {
    var request = GuestCommandRequest.newBuilder().setGuestId(guestId).setPowerOff(true).build();
    return typed(hosts.ask(request)).thenCompose(r -> {
      if (!r.hasRefusal() || r.getMigrationId().isEmpty()) {
        return CompletableFuture.completedFuture(GuestHosts.orThrow(r));
      }
      // Between the host's answer and the coordinator's, the migration may have ended (or been
      // only queued, or cancelled without the power off): then the host decides again.
      CompletionStage<MigrationInfo> cancelled = withCoordinator(r.getMigrationId(), c -> answered(c.ask(
          rr -> new MigrationCoordinator.Cancel(reason, true, rr), timeout)))
          .exceptionally(e -> {
            if (Errors.of(e) instanceof MigrationException.Conflict c && c.getMessage().contains("already ended")) {
              return null;
            }
            throw Errors.of(e);
          });
      return cancelled.thenCompose(info -> {
        if (info != null && info.getErrorKind() == ErrorKind.ERROR_POWERED_OFF) {
          return CompletableFuture.completedFuture(GuestCommandResult.newBuilder().setMigrationId(info.getMigrationId())
              .setMigration(info).build());
        }
        String why = info == null ? "migration " + r.getMigrationId() + " ended meanwhile"
            : "migration " + info.getMigrationId() + " is " + info.getStatus() + " without powering the guest off";
        return attempts > 1 ? powerOff(guestId, reason, attempts - 1)
            : CompletableFuture.failedFuture(new MigrationException.Conflict("guest " + guestId
                + " could not be powered off: " + why));
      });
    });
  }

  /**
   * New limits for a migration still in precopy (0 / null keeps the current value): the bandwidth
   * cap applies from the source's next batch, the downtime limit from its next switchover decision.
   */
  public CompletionStage<MigrationInfo> setParameters(String migrationId, long maxBandwidthBytesPerSecond,
      Duration downtimeLimit) {
    long downtimeMs = downtimeLimit == null ? 0 : downtimeLimit.toMillis();
    return withCoordinator(migrationId, c -> answered(c.ask(
        r -> new MigrationCoordinator.SetParameters(maxBandwidthBytesPerSecond, downtimeMs, r), timeout)));
  }

  /**
   * Switch a migration still in precopy to postcopy at the end of its current round: the
   * destination then runs the guest and fetches the pages it lacks. Conflict once past precopy.
   */
  public CompletionStage<MigrationInfo> startPostcopy(String migrationId) {
    return withCoordinator(migrationId, c -> answered(c.ask(MigrationCoordinator.StartPostcopy::new, timeout)));
  }

  /** Recover a paused postcopy over a new channel to the destination's data endpoint from Prepare. */
  public CompletionStage<MigrationInfo> recover(String migrationId) {
    return recover(migrationId, "", 0);
  }

  /**
   * Recover a paused postcopy over a new channel to dataHost:dataPort (e.g. another route to the
   * destination). Answers once the recovery is recorded; the status turns POSTCOPY_ACTIVE when the
   * handshake is done, or back to POSTCOPY_PAUSED (with the reason) if it failed.
   */
  public CompletionStage<MigrationInfo> recover(String migrationId, String dataHost, int dataPort) {
    return withCoordinator(migrationId, c -> answered(c.ask(
        r -> new MigrationCoordinator.Recover(dataHost == null ? "" : dataHost, dataPort, r), timeout)));
  }

  /**
   * Every migration event of the cluster (phase changes, progress samples, the end with its
   * reason) from now on, until the returned subscription is closed. The listener runs on an
   * actor, one event at a time: it must not block.
   */
  public Subscription subscribe(Consumer<MigrationEvent> listener) {
    var subscriber = system.systemActorOf(Subscription.create(MigrationEventTopic.get(system).topic(), listener),
        "migration-events-" + UUID.randomUUID(), Props.empty());
    return new Subscription(subscriber);
  }

  static boolean ended(MigrationInfo i) {
    return MigrationState.ended(i.getStatus());
  }

  /** The coordinator's answer: its status, or its refusal as a typed exception. */
  private static CompletionStage<MigrationInfo> answered(CompletionStage<CommandReply> ask) {
    return typed(ask).thenCompose(r -> r.hasRefusal()
        ? CompletableFuture.<MigrationInfo>failedFuture(Errors.of(r.getRefusal()))
        : CompletableFuture.completedFuture(r.getInfo()));
  }

  private static <T> CompletionStage<T> typed(CompletionStage<T> ask) {
    return ask.handle((v, e) -> e == null ? CompletableFuture.completedFuture(v)
            : CompletableFuture.<T>failedFuture(Errors.of(e)))
        .thenCompose(f -> f);
  }

  /**
   * Asks the migration's coordinator. A malformed id never reaches the cluster (it would name an
   * entity, a journal entry and actors): the call fails with InvalidRequest.
   */
  private <T> CompletionStage<T> withCoordinator(String migrationId,
      Function<EntityRef<MigrationCoordinator.Command>, CompletionStage<T>> ask) {
    MigrationException invalid = invalid("migration_id", migrationId);
    return invalid != null ? CompletableFuture.failedFuture(invalid)
        : ask.apply(sharding.entityRefFor(MigrationCoordinator.TYPE_KEY, migrationId));
  }

  /** The first invalid id among (field, id) pairs, or null. */
  private static MigrationException invalid(String... fieldsAndIds) {
    for (int i = 0; i < fieldsAndIds.length; i += 2) {
      String problem = Ids.problem(fieldsAndIds[i], fieldsAndIds[i + 1]);
      if (problem != null) return new MigrationException.InvalidRequest(fieldsAndIds[i], problem);
    }
    return null;
  }
}
