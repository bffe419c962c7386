package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.livemig.engine.host.Convergence.Action;
import org.livemig.engine.host.Convergence.Decision;
import org.livemig.engine.host.Convergence.Round;
import org.livemig.messages.MigrationParameters;

/** The convergence decision without an actor: switch over, throttle, or give up on the limit. */
class ConvergenceTest {
  static final MigrationParameters P = MigrationParameters.newBuilder().setDowntimeLimitMs(300)
      .setMaxRoundsBeforeThrottle(3).setThrottleInitialPercent(20).setThrottleIncrementPercent(10)
      .setThrottleMaxPercent(99).build();

  static Round round(int n, long copyMs, boolean measured, int throttle, int atMax) {
    return new Round(n, 1000, copyMs, 5, 0, 20, measured, throttle, atMax);
  }

  @Test
  void aMeasuredCopyWithinTheLimitSwitchesOver() {
    Decision d = Convergence.after(round(2, 250, true, 0, 0), P);
    assertEquals(Action.STUN, d.action());
    assertFalse(d.warn());
    assertTrue(d.why().contains("expected downtime 255 ms"), d.why());
  }

  @Test
  void theDiskDrainCountsInTheExpectedDowntime() {
    // 250 ms of copy fits the 300 ms limit alone, not with 80 ms of disk requests to drain first.
    Round withDrain = new Round(2, 1000, 250, 5, 80, 20, true, 0, 0);
    assertEquals(250 + 5 + 80, withDrain.expectedDowntimeMs());
    Decision d = Convergence.after(withDrain, P);
    assertEquals(Action.NEXT_ROUND, d.action());
    Decision small = Convergence.after(new Round(3, 10, 20, 5, 80, 20, true, 0, 0), P);
    assertEquals(Action.STUN, small.action());
    assertTrue(small.why().contains("disk drain 80 ms"), small.why());
  }

  @Test
  void theFirstPassEstimateSwitchesOverOnlyWithinTheFloor() {
    // Not measured on scattered pages yet: 250 ms is within the limit but above a tenth of it.
    assertEquals(Action.NEXT_ROUND, Convergence.after(round(1, 250, false, 0, 0), P).action());
    assertEquals(Action.STUN, Convergence.after(round(1, 30, false, 0, 0), P).action());
  }

  @Test
  void fixedCostsAboveTheLimitSwitchOverOnceTheCopyIsAtItsFloor() {
    Round r = new Round(4, 10, 20, 400, 0, 20, true, 0, 0);
    Decision d = Convergence.after(r, P);
    assertEquals(Action.STUN, d.action());
    assertTrue(d.warn(), "the limit is given up on, and the log says so");
    assertEquals(400 + 20, r.expectedDowntimeMs());
  }

  @Test
  void moreRoundsThenAThrottleFromItsInitialPercentUpToItsMaximum() {
    Decision early = Convergence.after(round(1, 900, true, 0, 0), P);
    assertEquals(Action.NEXT_ROUND, early.action());
    assertEquals(0, early.throttlePercent(), "no throttle before max-rounds-before-throttle");
    assertEquals("", early.why());
    assertEquals(20, Convergence.after(round(3, 900, true, 0, 0), P).throttlePercent());
    assertEquals(30, Convergence.after(round(4, 900, true, 20, 0), P).throttlePercent());
    assertEquals(99, Convergence.after(round(12, 900, true, 95, 0), P).throttlePercent());
  }

  @Test
  void atTheMaximumThrottleForThreeRoundsTheLimitIsGivenUpOrPostcopyTakesOver() {
    assertEquals(Action.NEXT_ROUND, Convergence.after(round(20, 900, true, 99, 2), P).action());
    Decision d = Convergence.after(round(21, 900, true, 99, 3), P);
    assertEquals(Action.STUN, d.action());
    assertTrue(d.warn() && d.why().contains("cannot be met"), d.why());
    Decision post = Convergence.after(round(21, 900, true, 99, 3), P.toBuilder().setPostcopyIfNotConverging(true).build());
    assertEquals(Action.POSTCOPY, post.action());
    assertFalse(post.warn());
  }

  @Test
  void postcopyOnRequestOrAfterItsRound() {
    assertEquals(Action.POSTCOPY, Convergence.after(round(1, 900, true, 0, 0), P.toBuilder().setPostcopyNow(true).build())
        .action());
    MigrationParameters afterTwo = P.toBuilder().setPostcopyAfterRounds(2).build();
    assertEquals(Action.NEXT_ROUND, Convergence.after(round(1, 900, true, 0, 0), afterTwo).action());
    assertEquals(Action.POSTCOPY, Convergence.after(round(2, 900, true, 0, 0), afterTwo).action());
  }

  @Test
  void anUnboundedCopyEstimateSaturates() {
    assertEquals(Long.MAX_VALUE, new Round(1, 1, Long.MAX_VALUE - 1, 5, 0, 20, true, 0, 0).expectedDowntimeMs());
  }
}
