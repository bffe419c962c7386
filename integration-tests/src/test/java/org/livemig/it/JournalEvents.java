package org.livemig.it;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.livemig.messages.CoordinatorEvent;

/** Reads a migration's coordinator events straight from an H2 journal file, in order. */
final class JournalEvents {
  private JournalEvents() {}

  static List<CoordinatorEvent> of(Path dir, String migrationId) throws Exception {
    List<CoordinatorEvent> events = new ArrayList<>();
    try (Connection c = DriverManager.getConnection("jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1",
        "sa", "");
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT \"event_payload\" FROM \"event_journal\" WHERE \"persistence_id\" = "
            + "'Migration|" + migrationId + "' ORDER BY \"sequence_number\"")) {
      while (rs.next()) events.add(CoordinatorEvent.parseFrom(rs.getBytes(1)));
    }
    return events;
  }
}
