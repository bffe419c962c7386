package org.livemig.persistence;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The migration list on H2 and, when it is reachable, PostgreSQL: upserts by sequence number, pages, tokens. */
class MigrationListTableTest {
  @TempDir Path dir;

  static ListedMigration row(String id, long startedAt, String status, long seqNr) {
    return new ListedMigration(id, "g-" + id, "host-a", "host-b", status, "PERFORM", startedAt,
        status.equals("COMPLETED") ? startedAt + 5 : 0, -1, "ERROR_NONE", "PHASE_NONE", "", 1, seqNr);
  }

  private MigrationListTable h2() {
    String url = "jdbc:h2:file:" + dir.resolve("j") + ";DB_CLOSE_DELAY=-1";
    JournalSchema.ensure(url, "sa", "");
    return new MigrationListTable(() -> DriverManager.getConnection(url, "sa", ""));
  }

  @Test
  void anOlderWriteNeverReplacesANewerOne() throws Exception {
    MigrationListTable t = h2();
    assertTrue(t.upsert(row("m1", 100, "QUEUED", 1)));
    assertTrue(t.upsert(row("m1", 100, "COMPLETED", 9)));
    assertFalse(t.upsert(row("m1", 100, "ACTIVE", 5)), "a late write of an older state");
    assertFalse(t.upsert(row("m1", 100, "COMPLETED", 9)), "the same sequence number again");
    var only = t.page(10, null).rows();
    assertEquals(1, only.size());
    assertEquals("COMPLETED", only.get(0).status());
    assertEquals(9, only.get(0).seqNr());
    assertTrue(t.unended().isEmpty());
  }

  @Test
  void pagesGiveEveryMigrationOnceNewestFirstWhileOthersAreInserted() throws Exception {
    pages(h2());
  }

  @Test
  void pagesOnPostgres() throws Exception {
    String base = System.getenv().getOrDefault("LIVEMIG_TEST_PG_URL", "jdbc:postgresql://127.0.0.1:5432/test");
    try (Connection c = DriverManager.getConnection(base, "postgres", "")) {
      c.isValid(2);
    } catch (java.sql.SQLException e) {
      if ("true".equals(System.getenv("CI"))) fail("PostgreSQL at " + base + " unreachable: " + e.getMessage());
      org.junit.jupiter.api.Assumptions.abort("PostgreSQL at " + base + " unreachable: " + e.getMessage());
    }
    String schema = "list_" + Long.toUnsignedString(System.nanoTime(), 36);
    try (Connection admin = DriverManager.getConnection(base, "postgres", "")) {
      admin.createStatement().execute("CREATE SCHEMA " + schema);
      try {
        String url = base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema;
        JournalSchema.ensure(url, "postgres", "");
        MigrationListTable t = new MigrationListTable(() -> DriverManager.getConnection(url, "postgres", ""));
        pages(t);
        assertTrue(t.upsert(row("m-pg", 1, "QUEUED", 1)));
        assertFalse(t.upsert(row("m-pg", 1, "ACTIVE", 1)), "the same sequence number again changes nothing");
      } finally {
        admin.createStatement().execute("DROP SCHEMA " + schema + " CASCADE");
      }
    }
  }

  @Test
  void tokensRoundTripAndNonsenseIsRefusedWithAReason() {
    PageToken p = new PageToken(1_700_000_000_123L, "m:with:colons");
    assertEquals(p, PageToken.decode(p.encode()));
    assertTrue(p.encode().matches("[A-Za-z0-9_-]+"), "safe in a URL as is");
    for (String bad : List.of("", "%%%", "dGVzdA", "djE6eDpt", "djE6LTE6bQ", "djE6MTI6", "x".repeat(401))) {
      var e = assertThrows(IllegalArgumentException.class, () -> PageToken.decode(bad), bad);
      assertTrue(e.getMessage().contains("page token"), e.getMessage());
    }
  }

  private static void pages(MigrationListTable t) throws Exception {
    // Two pairs started in the same millisecond: the id breaks the tie.
    long[] starts = {100, 200, 200, 300, 400, 400, 500};
    for (int i = 0; i < starts.length; i++) t.upsert(row("m" + i, starts[i], i % 2 == 0 ? "COMPLETED" : "ACTIVE", 3));
    List<String> seen = new ArrayList<>();
    PageToken after = null;
    int pages = 0;
    do {
      var page = t.page(2, after);
      page.rows().forEach(r -> seen.add(r.migrationId()));
      after = page.next() == null ? null : PageToken.decode(page.next().encode());
      // Newer migrations arriving between pages come before the position: the rest is unchanged.
      t.upsert(row("new" + pages++, 1000 + pages, "QUEUED", 1));
    } while (after != null);
    assertEquals(List.of("m6", "m5", "m4", "m3", "m2", "m1", "m0"), seen, "each once, newest first");
    assertEquals(4, pages);
    assertEquals("new3", t.page(1, null).rows().get(0).migrationId(), "a new first page starts with the newest");
  }
}
