package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.SendStats;
import org.livemig.messages.RoundStats;

/** The switchover decision's inputs: the rate the final copy will see, and the fixed costs. */
class PrecopyTest {
  private static final int PAGE = 4096;
  private static final long MIB = 1 << 20;

  /** One round of bytes that takes at least ms milliseconds (sleeping only lowers its rate). */
  private static RoundStats round(Precopy p, int n, long bytes, long ms, long dirtyAfterPages) throws Exception {
    p.roundStarted(n, bytes);
    Thread.sleep(ms);
    p.add(new SendStats(bytes / PAGE, 0, bytes, ms * 1_000_000));
    return p.roundFinished(dirtyAfterPages, 0);
  }

  @Test
  void afterADirtyRoundTheExpectedDowntimeUsesItsRateNotTheFirstPass() throws Exception {
    Precopy p = new Precopy(PAGE);
    // The first pass: 100 MiB sequentially in about 50 ms (2 GB/s at most).
    round(p, 1, 100 * MIB, 50, 2560);
    assertFalse(p.dirtyRateMeasured(), "a first pass says nothing of scattered pages");
    // Scattered dirty pages: 10 MiB take at least 50 ms (200 MB/s at most).
    RoundStats second = round(p, 2, 10 * MIB, 50, 2560);
    assertTrue(p.dirtyRateMeasured());
    // 10 MiB left at the second round's rate: 50 ms or more. Blended with the first pass's
    // bytes (the rate before this rule), it would be about 12 ms.
    assertTrue(second.getExpectedDowntimeMs() >= 45, "expected downtime " + second.getExpectedDowntimeMs() + " ms");
  }

  @Test
  void theFixedCostIsTheLongestOfTheLastThreeRounds() throws Exception {
    Precopy p = new Precopy(PAGE);
    assertEquals(0, p.fixedCostMs(), "nothing measured yet");
    long[][] channelsPerRound = {{2_000_000, 9_000_000}, {3_000_000, 1_000_000}, {4_000_000, 4_000_000},
        {1_000_000, 2_000_000}};
    for (int r = 0; r < channelsPerRound.length; r++) {
      p.roundStarted(r + 1, MIB);
      for (long fixed : channelsPerRound[r]) p.fixedCostSampled(fixed);
      p.add(new SendStats(MIB / PAGE, 0, MIB, 1_000_000));
      p.roundFinished(0, 0);
      if (r == 2) assertEquals(9, p.fixedCostMs(), "round 1's slower channel, 9 ms, is among the last three");
    }
    assertEquals(4, p.fixedCostMs(), "round 1 left the last three: rounds 2-4 took 3, 4 and 2 ms");
  }

  @Test
  void whatARoundHasLeftCountsTheChannelsThatAlreadyFinishedIt() {
    Precopy p = new Precopy(PAGE);
    p.roundStarted(1, 32 * MIB);
    assertEquals(32 * MIB, p.roundBytesLeft());
    p.sampled(0, 2 * MIB);
    p.sampled(1, 3 * MIB);
    assertEquals(27 * MIB, p.roundBytesLeft(), "both channels on the wire");
    // Channel 0 finished its share (mostly zero pages: few bytes for many pages) before a new sample.
    p.add(new SendStats(4096, 4000, 2 * MIB, 1_000_000));
    assertEquals(27 * MIB, p.roundBytesLeft(), "a finished channel's bytes still count as sent");
    assertEquals(3 * MIB, p.inFlightBytes());
  }
}
