package org.livemig.engine.host;

import org.livemig.messages.MigrationParameters;

/**
 * The precopy convergence decision after each round, a plain function of what the round measured:
 * switch over (precopy or postcopy), or copy another round, throttling the guest once rounds alone
 * do not converge (QEMU's auto-converge).
 */
final class Convergence {
  private Convergence() {}

  /** Rounds at the maximum throttle after which the limit counts as unreachable. */
  static final int ROUNDS_AT_MAX_THROTTLE = 3;

  enum Action { NEXT_ROUND, STUN, POSTCOPY }

  /**
   * What a round measured. copyMs: the dirty pages' copy at the measured rate; fixedMs: what a
   * round pays beyond its pages; drainMs: the disk requests in flight at a stun now would take
   * this long to complete, before the final copy starts; overheadMs: the control path of a
   * switchover; roundsAtMaxThrottle: rounds finished at the maximum throttle, this one included.
   */
  record Round(int round, long dirtyPages, long copyMs, long fixedMs, long drainMs, long overheadMs,
      boolean dirtyRateMeasured, int throttlePercent, int roundsAtMaxThrottle) {
    /** The guest runs on the destination once its last page is in and Finish reached it, whichever comes last. */
    long expectedDowntimeMs() {
      long source = copyMs + fixedMs + drainMs;
      return Math.max(source < copyMs ? Long.MAX_VALUE : source, overheadMs);
    }

    /** What a switchover costs whatever the copy: the fixed costs and the drain. */
    long fixedAndDrainMs() {
      return fixedMs + drainMs;
    }
  }

  /** throttlePercent: the guest's throttle for the next round; warn: the limit is given up on. */
  record Decision(Action action, int throttlePercent, String why, boolean warn) {}

  static Decision after(Round r, MigrationParameters p) {
    long expected = r.expectedDowntimeMs();
    long limit = p.getDowntimeLimitMs();
    if (p.getPostcopyNow() || (p.getPostcopyAfterRounds() > 0 && r.round() >= p.getPostcopyAfterRounds())) {
      return new Decision(Action.POSTCOPY, r.throttlePercent(), "switching to postcopy after round " + r.round() + " ("
          + r.dirtyPages() + " pages dirty" + (p.getPostcopyNow() ? ", as requested" : "") + ")", false);
    }
    // Until a round of scattered dirty pages has measured their rate, the estimate rests on the
    // sequential first pass, which is faster per byte: then only a copy within the floor (a tenth
    // of the limit) switches over, and a larger one takes a round that measures it.
    long copyFloorMs = Math.max(1, limit / 10);
    boolean rateKnown = r.dirtyRateMeasured() || r.copyMs() <= copyFloorMs;
    if (expected <= limit && rateKnown) {
      return new Decision(Action.STUN, r.throttlePercent(), "converged after round " + r.round() + " (" + r.dirtyPages()
          + " pages dirty, expected downtime " + expected + " ms: copy " + r.copyMs() + " ms + fixed costs "
          + r.fixedMs() + " ms + disk drain " + r.drainMs() + " ms, control path " + r.overheadMs()
          + " ms); stunning guest", false);
    }
    if (Math.max(r.fixedAndDrainMs(), r.overheadMs()) >= limit && r.copyMs() <= copyFloorMs) {
      // The fixed costs or the control path alone exceed the limit and the copy left is already at
      // its floor: more rounds or a throttled guest could shorten the switchover by a few ms at most.
      return new Decision(Action.STUN, r.throttlePercent(), "downtime limit " + limit + " ms cannot be met: the "
          + "switchover's fixed costs (" + r.fixedMs() + " ms) with the disk drain (" + r.drainMs() + " ms) or control path (" + r.overheadMs() + " ms) alone exceed "
          + "it; switching over after round " + r.round() + " with " + r.copyMs() + " ms of copy left", true);
    }
    if (r.throttlePercent() >= p.getThrottleMaxPercent() && r.roundsAtMaxThrottle() >= ROUNDS_AT_MAX_THROTTLE) {
      if (p.getPostcopyIfNotConverging()) {
        return new Decision(Action.POSTCOPY, r.throttlePercent(), "not converging at " + r.throttlePercent()
            + "% throttle (expected downtime " + expected + " ms > " + limit + " ms); switching to postcopy", false);
      }
      // The limit cannot be met even with the guest all but stopped: switch over rather than copy forever.
      return new Decision(Action.STUN, r.throttlePercent(), "downtime limit " + limit + " ms cannot be met (expected "
          + expected + " ms at " + r.throttlePercent() + "% throttle, control path " + r.overheadMs() + " ms); "
          + "switching over anyway", true);
    }
    int next = r.throttlePercent();
    if (r.round() >= p.getMaxRoundsBeforeThrottle()) {
      next = r.throttlePercent() == 0 ? p.getThrottleInitialPercent()
          : Math.min(p.getThrottleMaxPercent(), r.throttlePercent() + p.getThrottleIncrementPercent());
    }
    String why = next == r.throttlePercent() ? "" : "not converging after round " + r.round() + " (expected downtime "
        + expected + " ms > " + limit + " ms); throttle " + next + "%";
    return new Decision(Action.NEXT_ROUND, next, why, false);
  }
}
