package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SwitchoverEstimateTest {
  private static final long MS = 1_000_000L;

  @Test
  void theEstimateLeansLongUntilALongWriteLeavesTheWindow() {
    SwitchoverEstimate e = new SwitchoverEstimate();
    assertEquals(0, e.estimateMs(), "nothing measured yet");
    e.journalWriteSampled(46 * MS); // a slow write: the switchover's may be as slow
    e.journalWriteSampled(6 * MS);
    e.journalWriteSampled(7 * MS);
    assertEquals(46, e.estimateMs(), "the longest of 46, 6 and 7 ms");
    for (int i = 0; i < 4; i++) e.journalWriteSampled(5 * MS);
    assertEquals(7, e.estimateMs(), "46 ms left the last five: 7, 5, 5, 5, 5");
  }
}
