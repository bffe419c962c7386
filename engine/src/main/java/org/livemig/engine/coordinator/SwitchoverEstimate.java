package org.livemig.engine.coordinator;

import org.livemig.engine.host.EpochMicros;

/**
 * How long the control path of a switchover will take, measured while precopy runs: between
 * the source's last page and the destination running there are Perform's answer, Finish asked
 * and answered, one journal write (the ownership decision) and Activate: one write and four
 * one-way hops. The journal write is sampled on the events this coordinator persists anyway
 * (the longest of the last five); a hop from the progress reports' send times (hosts share a
 * synchronised clock, as the downtime measurement already assumes).
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

  long estimateMs() {
    return journalSamples == 0 ? 0 : (long) Math.ceil(journalWriteMs() + 4 * hopMs);
  }

  /** The estimate when it moved enough to be worth telling the source (else 0). */
  long estimateToPush() {
    long e = estimateMs();
    if (e == 0 || Math.abs(e - pushedMs) < Math.max(2, pushedMs / 5)) return 0;
    pushedMs = e;
    return e;
  }
}
