package org.livemig.engine.coordinator;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.persistence.jdbc.db.SlickExtension;
import akka.persistence.jdbc.db.SlickExtensionImpl;
import akka.persistence.jdbc.query.javadsl.JdbcReadJournal;
import akka.persistence.query.PersistenceQuery;
import akka.stream.javadsl.Sink;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.livemig.messages.MigrationInfo;
import org.livemig.persistence.ListedMigration;
import org.livemig.persistence.MigrationListTable;
import org.livemig.persistence.PageToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The migration list of this node's actor system: the table the coordinators keep (one row per
 * migration, written after each persisted change, see Listing) and read by list() and GET
 * /migrations. Its JDBC calls block, so they run on livemig.list.dispatcher with connections from
 * the journal's pool; every call answers a CompletionStage.
 */
public final class MigrationListView implements Extension {
  private static final Logger log = LoggerFactory.getLogger(MigrationListView.class);

  public static final class Id extends ExtensionId<MigrationListView> {
    @Override
    public MigrationListView createExtension(ActorSystem<?> system) {
      return new MigrationListView(system);
    }
  }

  private static final Id ID = new Id();

  public static MigrationListView get(ActorSystem<?> system) {
    return system.registerExtension(ID);
  }

  private final ActorSystem<?> system;
  private final boolean enabled;
  private final int defaultPageSize;
  private final int maxPageSize;
  private final Executor blocking;
  private volatile MigrationListTable table;

  private MigrationListView(ActorSystem<?> system) {
    this.system = system;
    var config = system.settings().config();
    this.enabled = config.getBoolean("livemig.list.enabled")
        && config.getString("akka.persistence.journal.plugin").equals("jdbc-journal");
    this.defaultPageSize = config.getInt("livemig.list.default-page-size");
    this.maxPageSize = config.getInt("livemig.list.max-page-size");
    this.blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig("livemig.list.dispatcher"));
  }

  /** Whether coordinators keep the list here (the JDBC journal); off under the test kits' journals. */
  public boolean enabled() {
    return enabled;
  }

  public int defaultPageSize() {
    return defaultPageSize;
  }

  public int maxPageSize() {
    return maxPageSize;
  }

  /** Writes a row unless a newer one is there (completes with whether it was written). */
  public CompletionStage<Boolean> write(ListedMigration row) {
    return blocking(t -> t.upsert(row));
  }

  public CompletionStage<MigrationListTable.Page> page(int limit, PageToken after) {
    return blocking(t -> t.page(limit, after));
  }

  public CompletionStage<List<ListedMigration>> unended() {
    return blocking(MigrationListTable::unended);
  }

  private interface Call<T> {
    T on(MigrationListTable table) throws SQLException;
  }

  private <T> CompletionStage<T> blocking(Call<T> call) {
    if (!enabled) {
      return CompletableFuture.failedFuture(new IllegalStateException("no migration list without the JDBC journal"));
    }
    return CompletableFuture.supplyAsync(() -> {
      try {
        return call.on(table());
      } catch (SQLException e) {
        throw new java.util.concurrent.CompletionException(
            new SQLException("migration list: " + e.getMessage(), e.getSQLState(), e));
      }
    }, blocking);
  }

  private MigrationListTable table() {
    if (table == null) {
      var slick = (SlickExtensionImpl) SlickExtension.get(Adapter.toClassic(system));
      var db = slick.database(system.settings().config().getConfig("jdbc-read-journal")).database();
      table = new MigrationListTable(() -> db.source().createConnection());
    }
    return table;
  }

  /** The row of a coordinator's state after journal sequence number seqNr. */
  static ListedMigration row(MigrationState s, long seqNr) {
    return new ListedMigration(s.migrationId(), s.guestId(), s.sourceHost(), s.destinationHost(), s.status().name(),
        s.phase().name(), s.startedAtMs(), s.ended() ? Math.max(1, s.endedAtMs()) : 0,
        s.downtimeUs() < 0 ? -1 : Math.round(s.downtimeUs() / 1000.0), s.errorKind().name(), s.failedPhase().name(),
        s.error(), s.epoch(), seqNr);
  }

  /** What the list shows of a row: the list's fields of MigrationInfo, the others left at their defaults. */
  public static MigrationInfo info(ListedMigration r) {
    MigrationInfo.Builder b = MigrationInfo.newBuilder().setMigrationId(r.migrationId()).setGuestId(r.guestId())
        .setSourceHost(r.sourceHost()).setDestinationHost(r.destinationHost())
        .setStatus(org.livemig.messages.MigrationStatus.valueOf(r.status()))
        .setPhase(org.livemig.messages.Phase.valueOf(r.phase())).setEpoch(r.epoch())
        .setStartedAtEpochMs(r.startedAtMs()).setEndedAtEpochMs(r.endedAtMs()).setDowntimeMs(r.downtimeMs())
        .setError(r.error()).setErrorKind(org.livemig.messages.ErrorKind.valueOf(r.errorKind()))
        .setFailedPhase(org.livemig.messages.Phase.valueOf(r.failedPhase()));
    if (r.ended()) b.setTotalTimeMs(r.endedAtMs() - r.startedAtMs());
    return b.build();
  }

  /**
   * Wakes, at livemig.list.backfill-per-second, the coordinator of every migration in the journal
   * that has no row (a journal from before the list): each writes its row as it recovers, and an
   * ended one passivates again. Run once at a coordinator node's start; harmless on several nodes
   * and when repeated. Only on a coordinator node of a cluster with the JDBC journal.
   */
  public void backfill() {
    if (!enabled || !system.settings().config().getString("akka.actor.provider").equals("cluster")
        || !akka.cluster.typed.Cluster.get(system).selfMember().hasRole("coordinator")) return;
    String prefix = MigrationCoordinator.TYPE_KEY.name() + "|";
    int perSecond = system.settings().config().getInt("livemig.list.backfill-per-second");
    JdbcReadJournal journal = PersistenceQuery.get(Adapter.toClassic(system))
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    ClusterSharding sharding = ClusterSharding.get(system);
    CompletionStage<Set<String>> listed = blocking(MigrationListTable::ids);
    listed.thenCompose(ids -> journal.currentPersistenceIds().filter(id -> id.startsWith(prefix))
            .map(id -> id.substring(prefix.length())).filter(id -> !ids.contains(id))
            .throttle(perSecond, Duration.ofSeconds(1))
            .runWith(Sink.fold(0, (n, id) -> {
              sharding.entityRefFor(MigrationCoordinator.TYPE_KEY, id)
                  .tell(new MigrationCoordinator.GetStatus(system.ignoreRef()));
              return n + 1;
            }), system))
        .whenComplete((n, e) -> {
          if (e != null) log.warn("migration list: backfill failed: {}", e.toString());
          else if (n > 0) log.info("migration list: woke {} coordinator(s) of migrations without a row", n);
        });
  }
}
