package org.livemig.engine.coordinator;

import org.livemig.engine.common.EpochMicros;

/**
 * How long the coordinator's part of a switchover will take, measured while precopy runs. The
 * destination runs the guest once both its last page and Finish are there; Finish goes out when
 * the source reports its last round, so the control path is two one-way hops (that report,
 * then Finish), raced against the stun and the final copy, plus one journal write while the
 * switchover marker is not written (Finish waits for it). The journal write is sampled on the
 * events this coordinator persists anyway (the longest of the last five); a hop from the
 * progress reports' send times (hosts share a synchronised clock, as the downtime measurement
 * already assumes).
 */
final class SwitchoverEstimate {
  private static final double SMOOTHING = 0.3;
  private static final long MAX_SANE_HOP_US = 5_000_000;

  /**
   * Recent journal writes, of which the estimate takes the longest: an under-estimate lets the
   * source stun with more pages left than the limit allows, while an over-estimate only makes it
   * wait for a smaller copy (below the control path it switches once the copy left is at its
   * floor), so the estimate leans long.
   */
  private final double[] journalWrites = new double[5];
  private int journalSamples;
  private double hopMs;
  private long pushedMs;

  void hopSampled(long sentAtEpochUs) {
    if (sentAtEpochUs <= 0) return;
    long us = EpochMicros.now() - sentAtEpochUs;
    if (us < 0 || us > MAX_SANE_HOP_US) return; // clocks apart: no sample
    hopMs = hopMs == 0 ? us / 1000.0 : SMOOTHING * us / 1000.0 + (1 - SMOOTHING) * hopMs;
  }

  void journalWriteSampled(long nanos) {
    journalWrites[journalSamples++ % journalWrites.length] = nanos / 1e6;
  }

  private double journalWriteMs() {
    int n = Math.min(journalSamples, journalWrites.length);
    double longest = 0;
    for (int i = 0; i < n; i++) longest = Math.max(longest, journalWrites[i]);
    return longest;
  }

  /** marked: the switchover marker is in the journal, so no write waits at the switchover. */
  long estimateMs(boolean marked) {
    if (journalSamples == 0) return 0;
    return (long) Math.ceil((marked ? 0 : journalWriteMs()) + 2 * hopMs);
  }

  /** The estimate when it moved enough to be worth telling the source (else 0). */
  long estimateToPush(boolean marked) {
    long e = estimateMs(marked);
    if (e == 0 || Math.abs(e - pushedMs) < Math.max(2, pushedMs / 5)) return 0;
    pushedMs = e;
    return e;
  }
}
