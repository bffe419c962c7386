package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.StartMigration;
import org.livemig.persistence.ListedMigration;

/** What the migration list shows of a coordinator's state: the fields of `migratectl list`, from the journal's state. */
class MigrationListViewTest {
  private static MigrationState queued() {
    return MigrationState.EMPTY.apply(Events.requested(StartMigration.newBuilder().setMigrationId("m-7")
        .setGuestId("web-1").setSourceHost("host-a").setDestinationHost("host-b").build(),
        MigrationParameters.getDefaultInstance(), 1, true));
  }

  @Test
  void aQueuedMigrationIsListedQueuedAndNotEnded() {
    ListedMigration row = MigrationListView.row(queued(), 1);
    assertFalse(row.ended());
    MigrationInfo i = MigrationListView.info(row);
    assertEquals("m-7", i.getMigrationId());
    assertEquals("web-1", i.getGuestId());
    assertEquals("host-a", i.getSourceHost());
    assertEquals("host-b", i.getDestinationHost());
    assertEquals(MigrationStatus.QUEUED, i.getStatus());
    assertEquals(Phase.PHASE_NONE, i.getPhase());
    assertEquals(-1, i.getDowntimeMs(), "unknown until it completed");
    assertEquals(0, i.getEndedAtEpochMs());
  }

  @Test
  void anEndedMigrationCarriesItsEndTheErrorSummaryAndItsKind() {
    MigrationState s = queued().apply(Events.admitted()).apply(Events.failedIn(Phase.BEGIN, "x".repeat(5000)));
    ListedMigration row = MigrationListView.row(s, 3);
    assertTrue(row.ended());
    assertEquals(ListedMigration.MAX_ERROR_CHARS, row.error().length(), "a summary, not the whole text");
    MigrationInfo i = MigrationListView.info(row);
    assertEquals(MigrationStatus.FAILED, i.getStatus());
    assertEquals(Phase.BEGIN, i.getFailedPhase());
    assertTrue(i.getEndedAtEpochMs() >= i.getStartedAtEpochMs());
    assertEquals(i.getEndedAtEpochMs() - i.getStartedAtEpochMs(), i.getTotalTimeMs());
    assertTrue(row.sameListing(MigrationListView.row(s, 9)), "a later sequence number alone is no change to write");
    assertFalse(row.sameListing(MigrationListView.row(queued(), 1)));
  }
}
