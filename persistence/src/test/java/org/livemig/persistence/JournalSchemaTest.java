package org.livemig.persistence;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalSchemaTest {
  @TempDir Path dir;

  @Test
  void createsTheJournalTablesOnceAndIsIdempotent() throws Exception {
    String url = "jdbc:h2:file:" + dir.resolve("j") + ";DB_CLOSE_DELAY=-1";
    assertEquals(JournalSchema.CURRENT_VERSION, JournalSchema.ensure(url, "sa", ""));
    assertEquals(JournalSchema.CURRENT_VERSION, JournalSchema.ensure(url, "sa", ""));
    try (Connection c = DriverManager.getConnection(url, "sa", "");
        Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM livemig_schema_version")) {
        rs.next();
        assertEquals(JournalSchema.CURRENT_VERSION, rs.getInt(1), "each version is recorded exactly once");
      }
      for (String table : new String[] {"event_journal", "event_tag", "snapshot"}) {
        try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM \"" + table + "\"")) {
          assertTrue(rs.next(), table + " exists");
        }
      }
    }
    assertTrue(Files.exists(dir.resolve("j.mv.db")), "the journal is a file on disk");
  }

  /**
   * Four nodes starting at once against one fresh PostgreSQL schema (as a cluster does): every
   * one finds the schema ready and version 1 is recorded once. Without the advisory lock two of
   * them inserted version 1 (a duplicate key) and that node did not start. Needs the PostgreSQL
   * of LIVEMIG_TEST_PG_URL (default 127.0.0.1:5432/test): skipped without it, a failure under CI.
   */
  @Test
  void nodesStartingTogetherOnAFreshPostgresSchemaTakeTurns() throws Exception {
    String base = System.getenv().getOrDefault("LIVEMIG_TEST_PG_URL", "jdbc:postgresql://127.0.0.1:5432/test");
    String prefix = "schema_race_" + Long.toUnsignedString(System.nanoTime(), 36) + "_";
    try (Connection c = DriverManager.getConnection(base, "postgres", "")) {
      c.isValid(2);
    } catch (java.sql.SQLException e) {
      if ("true".equals(System.getenv("CI"))) fail("PostgreSQL at " + base + " unreachable: " + e.getMessage());
      org.junit.jupiter.api.Assumptions.abort("PostgreSQL at " + base + " unreachable: " + e.getMessage());
    }
    var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try (Connection admin = DriverManager.getConnection(base, "postgres", "")) {
      for (int round = 0; round < 5; round++) { // a race: five fresh schemas, four starters each
        admin.createStatement().execute("CREATE SCHEMA " + prefix + round);
        String url = base + (base.contains("?") ? "&" : "?") + "currentSchema=" + prefix + round;
        var together = new java.util.concurrent.CyclicBarrier(4);
        var starts = new java.util.ArrayList<java.util.concurrent.Future<Integer>>();
        for (int n = 0; n < 4; n++) {
          starts.add(pool.submit(() -> {
            together.await();
            return JournalSchema.ensure(url, "postgres", "");
          }));
        }
        for (var f : starts) assertEquals(JournalSchema.CURRENT_VERSION, f.get());
        try (Connection c = DriverManager.getConnection(url, "postgres", "");
            ResultSet rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM livemig_schema_version")) {
          rs.next();
          assertEquals(JournalSchema.CURRENT_VERSION, rs.getInt(1), "each version is recorded exactly once");
        }
      }
    } finally {
      pool.shutdownNow();
      try (Connection c = DriverManager.getConnection(base, "postgres", "")) {
        for (int round = 0; round < 5; round++) c.createStatement().execute("DROP SCHEMA IF EXISTS " + prefix + round + " CASCADE");
      }
    }
  }

  @Test
  void refusesAnUnsupportedDatabaseWithAClearError() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JournalSchema.ensure("jdbc:sqlite:x.db", "", ""));
    assertTrue(e.getMessage().contains("unsupported journal database URL"), e.getMessage());
  }

  @Test
  void reportsAnUnreachableDatabase() {
    JournalUnavailableException e = assertThrows(JournalUnavailableException.class,
        () -> JournalSchema.ensure("jdbc:postgresql://127.0.0.1:1/none?connectTimeout=2", "postgres", ""));
    assertTrue(e.getMessage().contains("cannot prepare the journal schema"), e.getMessage());
  }
}
