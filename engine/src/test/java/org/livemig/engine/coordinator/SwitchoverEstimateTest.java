package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.livemig.engine.common.EpochMicros;

class SwitchoverEstimateTest {
  private static final long MS = 1_000_000L;

  @Test
  void theEstimateLeansLongUntilALongWriteLeavesTheWindow() {
    SwitchoverEstimate e = new SwitchoverEstimate();
    assertEquals(0, e.estimateMs(false), "nothing measured yet");
    e.journalWriteSampled(46 * MS); // a slow write: the switchover's may be as slow
    e.journalWriteSampled(6 * MS);
    e.journalWriteSampled(7 * MS);
    assertEquals(46, e.estimateMs(false), "the longest of 46, 6 and 7 ms");
    for (int i = 0; i < 4; i++) e.journalWriteSampled(5 * MS);
    assertEquals(7, e.estimateMs(false), "46 ms left the last five: 7, 5, 5, 5, 5");
  }

  @Test
  void onceTheMarkerIsWrittenTheControlPathIsTwoHopsAndNoWrite() {
    SwitchoverEstimate e = new SwitchoverEstimate();
    e.journalWriteSampled(20 * MS);
    e.hopSampled(EpochMicros.now() - 3_000); // a report that took 3 ms to arrive
    long marked = e.estimateMs(true);
    assertTrue(marked >= 6 && marked <= 8, "the last report and Finish, about 3 ms each: " + marked);
    assertEquals(marked + 20, e.estimateMs(false), "before the marker, Finish waits for its 20 ms write");
  }
}
