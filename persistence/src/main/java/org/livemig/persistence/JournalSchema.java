package org.livemig.persistence;

import com.typesafe.config.Config;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates or upgrades the journal schema: a versioned, idempotent step run before the actor
 * system uses the journal. Applied versions are recorded in {@code livemig_schema_version};
 * each version's statements are all IF NOT EXISTS, and run in one transaction where the
 * database allows it, so a crash half-way is repaired by the next start.
 * Any failure is thrown, never swallowed: a node without a journal must not coordinate.
 */
public final class JournalSchema {
  private static final Logger log = LoggerFactory.getLogger(JournalSchema.class);

  /** The newest schema version this code knows: 1 the journal tables, 2 the migration list (MigrationListTable). */
  public static final int CURRENT_VERSION = 2;

  public enum Dialect {
    H2("h2"),
    POSTGRES("postgres");

    final String resourcePrefix;

    Dialect(String resourcePrefix) {
      this.resourcePrefix = resourcePrefix;
    }

    static Dialect of(String url) {
      if (url.startsWith("jdbc:h2:")) return H2;
      if (url.startsWith("jdbc:postgresql:")) return POSTGRES;
      throw new IllegalArgumentException(
          "unsupported journal database URL '" + url + "': expected jdbc:h2:... or jdbc:postgresql:...");
    }
  }

  private JournalSchema() {}

  /** Reads livemig.journal.{url,user,password} from config and ensures the schema. */
  public static int ensure(Config config) {
    Config j = config.getConfig("livemig.journal");
    if (!j.getBoolean("create-schema")) {
      log.info("journal schema creation disabled (livemig.journal.create-schema = off)");
      return -1;
    }
    return ensure(j.getString("url"), j.getString("user"), j.getString("password"));
  }

  /** Returns the schema version found after the step (always CURRENT_VERSION on success). */
  public static int ensure(String url, String user, String password) {
    Dialect dialect = Dialect.of(url);
    try (Connection c = DriverManager.getConnection(url, user, password)) {
      // Nodes of a cluster start together against one fresh database: they take turns, or two
      // of them create the same table or record the same version (seen: a duplicate key).
      // The lock is the session's: closing the connection releases it whatever happens.
      if (dialect == Dialect.POSTGRES) advisoryLock(c);
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        st.execute("CREATE TABLE IF NOT EXISTS livemig_schema_version ("
            + "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      }
      c.commit();
      int found = appliedVersion(c);
      if (found > CURRENT_VERSION) {
        throw new IllegalStateException("journal schema version " + found + " at " + url
            + " is newer than this build understands (" + CURRENT_VERSION + "); upgrade livemig");
      }
      for (int v = found + 1; v <= CURRENT_VERSION; v++) {
        apply(c, dialect, v);
        log.info("journal schema at {} upgraded to version {}", url, v);
      }
      if (found == CURRENT_VERSION) log.debug("journal schema at {} is at version {}", url, found);
      return CURRENT_VERSION;
    } catch (SQLException e) {
      throw new JournalUnavailableException("cannot prepare the journal schema at " + url + ": " + e.getMessage(), e);
    }
  }

  /** An arbitrary key of livemig's own for the schema step ("LIVEMIGS" in ASCII). */
  private static final long SCHEMA_LOCK_KEY = 0x4c4956454d494753L;

  private static void advisoryLock(Connection c) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute("SELECT pg_advisory_lock(" + SCHEMA_LOCK_KEY + ")");
    }
  }

  private static int appliedVersion(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT MAX(version) FROM livemig_schema_version")) {
      rs.next();
      return rs.getInt(1); // NULL reads as 0: nothing applied yet
    }
  }

  private static void apply(Connection c, Dialect dialect, int version) throws SQLException {
    String resource = "/livemig/schema/" + dialect.resourcePrefix + "-v" + version + ".sql";
    try (Statement st = c.createStatement()) {
      for (String sql : statements(resource)) st.execute(sql);
      try (PreparedStatement ins = c.prepareStatement(
          "INSERT INTO livemig_schema_version (version, applied_at) VALUES (?, ?)")) {
        ins.setInt(1, version);
        ins.setLong(2, System.currentTimeMillis());
        ins.executeUpdate();
      }
      c.commit();
    } catch (SQLException e) {
      c.rollback();
      throw e;
    }
  }

  static List<String> statements(String resource) {
    try (InputStream in = JournalSchema.class.getResourceAsStream(resource)) {
      if (in == null) throw new IllegalStateException("schema resource missing from the build: " + resource);
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      List<String> out = new ArrayList<>();
      StringBuilder current = new StringBuilder();
      for (String line : text.split("\n")) {
        String trimmed = line.strip();
        if (trimmed.startsWith("--") || trimmed.isEmpty()) continue;
        current.append(line).append('\n');
        if (trimmed.endsWith(";")) {
          String sql = current.toString().strip();
          out.add(sql.substring(0, sql.length() - 1));
          current.setLength(0);
        }
      }
      if (!current.toString().isBlank()) out.add(current.toString().strip());
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read schema resource " + resource, e);
    }
  }
}
