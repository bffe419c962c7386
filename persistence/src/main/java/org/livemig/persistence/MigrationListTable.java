package org.livemig.persistence;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The migration list (table livemig_migrations, schema version 2) on H2 or PostgreSQL: one row
 * per migration, newest first. Plain blocking JDBC: call it from a thread that may block.
 */
public final class MigrationListTable {
  /** Where connections come from (the journal's pool in a node); each is closed after one call. */
  @FunctionalInterface
  public interface Connections {
    Connection open() throws SQLException;
  }

  /** A page of rows, newest first, and where the next one starts (null: this is the last). */
  public record Page(List<ListedMigration> rows, PageToken next) {}

  private static final String COLUMNS = "migration_id, guest_id, source_host, destination_host, status, phase, "
      + "started_at_ms, ended_at_ms, downtime_ms, error_kind, failed_phase, error, epoch, seq_nr, updated_at_ms";
  private static final String UPDATE = "UPDATE livemig_migrations SET guest_id = ?, source_host = ?, "
      + "destination_host = ?, status = ?, phase = ?, started_at_ms = ?, ended_at_ms = ?, downtime_ms = ?, "
      + "error_kind = ?, failed_phase = ?, error = ?, epoch = ?, seq_nr = ?, updated_at_ms = ? "
      + "WHERE migration_id = ? AND seq_nr < ?";
  private static final String INSERT = "INSERT INTO livemig_migrations (" + COLUMNS
      + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  private static final String NEWEST_FIRST = " ORDER BY started_at_ms DESC, migration_id DESC";
  /** SQLSTATE of a unique key violation, on H2 and PostgreSQL alike. */
  private static final String UNIQUE_VIOLATION = "23505";

  private final Connections connections;

  public MigrationListTable(Connections connections) {
    this.connections = connections;
  }

  /**
   * Writes the row unless the table holds the migration at the same or a newer sequence number
   * (an older incarnation's late write, or a replay's rewrite): true if it was written. Each
   * statement commits on its own, so a lost insert race leaves nothing half done.
   */
  public boolean upsert(ListedMigration m) throws SQLException {
    try (Connection c = connections.open()) {
      c.setAutoCommit(true);
      long now = System.currentTimeMillis();
      try (PreparedStatement up = c.prepareStatement(UPDATE)) {
        int i = bindFields(up, m, 1);
        up.setLong(i++, now);
        up.setString(i++, m.migrationId());
        up.setLong(i, m.seqNr());
        if (up.executeUpdate() > 0) return true;
      }
      // There at the same or a newer sequence number (a recovery's rewrite): no insert to fail
      // (PostgreSQL logs every failed one).
      try (PreparedStatement there = c.prepareStatement("SELECT 1 FROM livemig_migrations WHERE migration_id = ?")) {
        there.setString(1, m.migrationId());
        try (ResultSet rs = there.executeQuery()) {
          if (rs.next()) return false;
        }
      }
      try (PreparedStatement ins = c.prepareStatement(INSERT)) {
        ins.setString(1, m.migrationId());
        int i = bindFields(ins, m, 2);
        ins.setLong(i, now);
        ins.executeUpdate();
        return true;
      } catch (SQLException e) {
        if (UNIQUE_VIOLATION.equals(e.getSQLState())) return false; // there already, as new or newer
        throw e;
      }
    }
  }

  /** Binds guest_id .. seq_nr from position i on; returns the next position. */
  private static int bindFields(PreparedStatement st, ListedMigration m, int i) throws SQLException {
    st.setString(i++, m.guestId());
    st.setString(i++, m.sourceHost());
    st.setString(i++, m.destinationHost());
    st.setString(i++, m.status());
    st.setString(i++, m.phase());
    st.setLong(i++, m.startedAtMs());
    st.setLong(i++, m.endedAtMs());
    st.setLong(i++, m.downtimeMs());
    st.setString(i++, m.errorKind());
    st.setString(i++, m.failedPhase());
    st.setString(i++, m.error());
    st.setLong(i++, m.epoch());
    st.setLong(i++, m.seqNr());
    return i;
  }

  /** Up to limit rows after the position (null: from the newest), newest first. */
  public Page page(int limit, PageToken after) throws SQLException {
    if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, was " + limit);
    String where = after == null ? "" : " WHERE started_at_ms < ? OR (started_at_ms = ? AND migration_id < ?)";
    // One row more than asked: whether another page follows, without a second query.
    String sql = "SELECT " + COLUMNS + " FROM livemig_migrations" + where + NEWEST_FIRST + " LIMIT " + (limit + 1);
    try (Connection c = connections.open(); PreparedStatement st = c.prepareStatement(sql)) {
      if (after != null) {
        st.setLong(1, after.startedAtMs());
        st.setLong(2, after.startedAtMs());
        st.setString(3, after.migrationId());
      }
      List<ListedMigration> rows = read(st);
      if (rows.size() <= limit) return new Page(rows, null);
      List<ListedMigration> page = List.copyOf(rows.subList(0, limit));
      return new Page(page, page.get(limit - 1).position());
    }
  }

  /** Every migration that has not ended, newest first. */
  public List<ListedMigration> unended() throws SQLException {
    try (Connection c = connections.open(); PreparedStatement st = c.prepareStatement(
        "SELECT " + COLUMNS + " FROM livemig_migrations WHERE ended_at_ms = 0" + NEWEST_FIRST)) {
      return read(st);
    }
  }

  /** The ids of every listed migration (the backfill at a node's start compares them with the journal's). */
  public java.util.Set<String> ids() throws SQLException {
    java.util.Set<String> out = new java.util.HashSet<>();
    try (Connection c = connections.open(); PreparedStatement st = c.prepareStatement(
        "SELECT migration_id FROM livemig_migrations"); ResultSet rs = st.executeQuery()) {
      while (rs.next()) out.add(rs.getString(1));
    }
    return out;
  }

  private static List<ListedMigration> read(PreparedStatement st) throws SQLException {
    List<ListedMigration> rows = new ArrayList<>();
    try (ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        rows.add(new ListedMigration(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
            rs.getString(5), rs.getString(6), rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getString(10),
            rs.getString(11), rs.getString(12), rs.getLong(13), rs.getLong(14)));
      }
    }
    return rows;
  }
}
