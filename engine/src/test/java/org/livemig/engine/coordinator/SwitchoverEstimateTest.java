package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SwitchoverEstimateTest {
  private static final long MS = 1_000_000L;

  @Test
  void oneColdJournalWriteDoesNotSetTheEstimate() {
    SwitchoverEstimate e = new SwitchoverEstimate();
    assertEquals(0, e.estimateMs(), "nothing measured yet");
    e.journalWriteSampled(46 * MS); // the first write of a migration: cold code, cold connection
    assertEquals(46, e.estimateMs());
    e.journalWriteSampled(6 * MS);
    e.journalWriteSampled(7 * MS);
    assertEquals(7, e.estimateMs(), "the median of 46, 6 and 7 ms");
  }

  @Test
  void theEstimateFollowsTheRecentWritesOnly() {
    SwitchoverEstimate e = new SwitchoverEstimate();
    for (int i = 0; i < 5; i++) e.journalWriteSampled(3 * MS);
    for (int i = 0; i < 3; i++) e.journalWriteSampled(20 * MS); // the journal got slower: three of the last five
    assertEquals(20, e.estimateMs());
  }
}
