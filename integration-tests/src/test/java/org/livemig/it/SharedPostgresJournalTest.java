package org.livemig.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The coordinator's node crashes in Perform and the coordinator resumes on the survivor, which
 * reads the same PostgreSQL journal. The database is LIVEMIG_TEST_PG_URL, by default
 * 127.0.0.1:5432/test as user postgres. Without a reachable server the test fails under CI
 * (CI=true) and is skipped with a message elsewhere.
 */
class SharedPostgresJournalTest extends CrashScenario {
  static final String URL = System.getenv().getOrDefault("LIVEMIG_TEST_PG_URL",
      "jdbc:postgresql://127.0.0.1:5432/test");

  @BeforeEach
  void requirePostgres() {
    try (Connection c = DriverManager.getConnection(URL, "postgres", "")) {
      c.isValid(2);
    } catch (SQLException e) {
      String why = "PostgreSQL journal at " + URL + " unreachable: " + e.getMessage();
      if ("true".equals(System.getenv("CI"))) fail(why);
      Assumptions.abort(why + " (set LIVEMIG_TEST_PG_URL, or run under CI=true to make this a failure)");
    }
  }

  @Test
  void coordinatorResumesOnASurvivorFromTheSharedPostgresJournal() throws Exception {
    crashAndRecover("PERFORM", URL);
  }
}
