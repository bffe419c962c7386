package org.livemig.config;

import akka.cluster.sharding.protobuf.msg.ClusterShardingMessages;
import com.typesafe.config.Config;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Whether the journal's remembered coordinators fit akka.cluster.sharding.number-of-shards. With
 * remember-entities each shard keeps, in the journal, the migration ids it started (persistence id
 * "/sharding/MigrationShard/N": entities started and stopped, and snapshots of the set), and starts
 * them again when it starts. A migration's shard is its id's hash modulo the number of shards: a
 * node started with another number would route a remembered migration to another shard than the one
 * that restarts it, and two coordinators would write one migration's journal. So a coordinator node
 * is refused on a journal where any remembered migration (one with a journal of its own) is in
 * another shard than the configured number puts it in (migrations whose coordinator passivated are
 * no longer remembered: once every migration has ended and passivated, the number may change).
 */
final class RememberedShards {
  private RememberedShards() {}

  static final String STORE_PREFIX = "/sharding/MigrationShard/";
  // ClusterShardingMessageSerializer's manifests of the remember-entities store's events and snapshot.
  private static final String ENTITY_STATE = "CA";
  private static final String ENTITY_STARTED = "CB";
  private static final String ENTITY_STOPPED = "CD";
  private static final String ENTITIES_STARTED = "CE";
  private static final String ENTITIES_STOPPED = "CF";

  /** The shard Akka's default extractor gives an entity id (HashCodeMessageExtractor). */
  static String shardOf(String entityId, int numberOfShards) {
    return String.valueOf(Math.abs(entityId.hashCode() % numberOfShards));
  }

  /** One sentence if remembered migrations are in shards the configured number would not route them to. */
  static List<String> problems(Config c) {
    int shards = c.getInt("akka.cluster.sharding.number-of-shards");
    String url = c.getString("livemig.journal.url");
    // An H2 file is created on first use: a journal that does not exist yet remembers nothing.
    if (url.startsWith("jdbc:h2:file:") && !url.toUpperCase().contains("IFEXISTS")) url += ";IFEXISTS=TRUE";
    Map<String, Set<String>> remembered;
    try (Connection conn = DriverManager.getConnection(url, c.getString("livemig.journal.user"),
        c.getString("livemig.journal.password"))) {
      remembered = remembered(conn);
      // A coordinator asked about an unknown id is remembered too, but has no journal to write twice.
      try (var q = conn.prepareStatement("select 1 from \"event_journal\" where \"persistence_id\" = ?")) {
        for (Set<String> ids : remembered.values()) ids.removeIf(id -> !journalled(q, id));
      }
    } catch (SQLException e) {
      // No database file yet (H2, 90146) or no journal tables yet (class 42): nothing remembered.
      if (e.getErrorCode() == 90146 || String.valueOf(e.getSQLState()).startsWith("42")) return List.of();
      return List.of("cannot read the remembered shards from livemig.journal.url = " + url + ": " + e.getMessage());
    }
    Map<String, List<String>> misplaced = new TreeMap<>();
    remembered.forEach((shard, ids) -> ids.stream().filter(id -> !shardOf(id, shards).equals(shard))
        .forEach(id -> misplaced.computeIfAbsent(shard, s -> new ArrayList<>()).add(id)));
    if (misplaced.isEmpty()) return List.of();
    int count = misplaced.values().stream().mapToInt(List::size).sum();
    String example = misplaced.entrySet().iterator().next().getKey();
    String id = misplaced.get(example).get(0);
    return List.of("akka.cluster.sharding.number-of-shards = " + shards + " does not fit the journal: " + count
        + " remembered migration(s) in " + misplaced.size() + " shard(s) were started under another number (e.g. "
        + id + " is remembered by shard " + example + ", " + shards + " shards put it in shard " + shardOf(id, shards)
        + "); a coordinator node would run them twice. Start it with the number the journal was written with "
        + "(the default is 1000 before livemig set 100), and change the number only once no migration is "
        + "remembered (all ended and passivated)");
  }

  private static boolean journalled(java.sql.PreparedStatement q, String migrationId) {
    try {
      q.setString(1, "Migration|" + migrationId);
      try (ResultSet rs = q.executeQuery()) {
        return rs.next();
      }
    } catch (SQLException e) {
      return true; // unknown: counted, as a migration would be
    }
  }

  /** Each remembered shard's started-and-not-stopped migration ids: its latest snapshot, then its later events. */
  static Map<String, Set<String>> remembered(Connection conn) throws SQLException {
    Map<String, Set<String>> entities = new HashMap<>();
    Map<String, Long> snapshotAt = new HashMap<>();
    try (var q = conn.prepareStatement("select \"persistence_id\", \"sequence_number\", \"snapshot_ser_manifest\", "
        + "\"snapshot_payload\" from \"snapshot\" where \"persistence_id\" like ? order by \"sequence_number\"")) {
      q.setString(1, STORE_PREFIX + "%");
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          if (!ENTITY_STATE.equals(rs.getString(3))) continue;
          String shard = rs.getString(1).substring(STORE_PREFIX.length());
          snapshotAt.put(shard, rs.getLong(2));
          entities.put(shard, new LinkedHashSet<>(parse(ClusterShardingMessages.EntityState::parseFrom,
              rs.getBytes(4)).getEntitiesList()));
        }
      }
    }
    try (var q = conn.prepareStatement("select \"persistence_id\", \"sequence_number\", \"event_ser_manifest\", "
        + "\"event_payload\" from \"event_journal\" where \"persistence_id\" like ? and not \"deleted\" "
        + "order by \"persistence_id\", \"sequence_number\"")) {
      q.setString(1, STORE_PREFIX + "%");
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          String shard = rs.getString(1).substring(STORE_PREFIX.length());
          if (rs.getLong(2) <= snapshotAt.getOrDefault(shard, 0L)) continue;
          Set<String> ids = entities.computeIfAbsent(shard, s -> new LinkedHashSet<>());
          byte[] payload = rs.getBytes(4);
          switch (rs.getString(3)) {
            case ENTITIES_STARTED -> ids.addAll(parse(ClusterShardingMessages.EntitiesStarted::parseFrom, payload)
                .getEntityIdList());
            case ENTITIES_STOPPED -> parse(ClusterShardingMessages.EntitiesStopped::parseFrom, payload)
                .getEntityIdList().forEach(ids::remove);
            case ENTITY_STARTED -> ids.add(parse(ClusterShardingMessages.EntityStarted::parseFrom, payload)
                .getEntityId());
            case ENTITY_STOPPED -> ids.remove(parse(ClusterShardingMessages.EntityStopped::parseFrom, payload)
                .getEntityId());
            default -> { } // not a remember-entities event
          }
        }
      }
    }
    return entities;
  }

  private interface Parser<T> {
    T parse(byte[] bytes) throws akka.protobufv3.internal.InvalidProtocolBufferException;
  }

  private static <T> T parse(Parser<T> parser, byte[] bytes) throws SQLException {
    try {
      return parser.parse(bytes);
    } catch (akka.protobufv3.internal.InvalidProtocolBufferException e) {
      throw new SQLException("a remembered shard's event does not parse: " + e.getMessage(), e);
    }
  }
}
