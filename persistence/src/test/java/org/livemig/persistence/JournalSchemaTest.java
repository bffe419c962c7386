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
        assertEquals(1, rs.getInt(1), "version 1 is recorded exactly once");
      }
      for (String table : new String[] {"event_journal", "event_tag", "snapshot"}) {
        try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM \"" + table + "\"")) {
          assertTrue(rs.next(), table + " exists");
        }
      }
    }
    assertTrue(Files.exists(dir.resolve("j.mv.db")), "the journal is a file on disk");
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
