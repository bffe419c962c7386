package org.livemig.engine.host;

import java.util.ArrayList;
import java.util.List;
import org.livemig.engine.dataplane.SendStats;
import org.livemig.messages.PerformResult;
import org.livemig.messages.RoundStats;

/**
 * Precopy bookkeeping of one migration: per-round counters, the bandwidth estimate the
 * switchover decision trusts, and the expected downtime. The estimate is byte-weighted and
 * smoothed over rounds: decayed bytes over decayed time, so a 1 GiB round counts for far more
 * than a 2 MiB one, rounds too small to measure a link are ignored, and one short noisy round
 * cannot trigger an early switchover. The expected downtime uses the rate of the rounds after
 * the first, once one is measured: they send scattered dirty pages, as the final copy does, while
 * the first is one sequential pass that moves faster per byte.
 */
final class Precopy {
  private static final long MIN_MEASURED_BYTES = 1L << 20;
  /** Weight left to the older rounds each time a round is measured. */
  private static final double DECAY = 0.5;

  private final int pageSize;
  private final List<RoundStats> rounds = new ArrayList<>();
  private int round;
  private long roundStartNanos;
  private long roundPages;
  private long roundBytes;
  private long roundBytesPlanned;
  private final java.util.Map<Integer, Long> channelBytesAtRoundStart = new java.util.HashMap<>();
  private final java.util.Map<Integer, Long> channelBytesNow = new java.util.HashMap<>();
  private long totalBytes;
  private long totalPages;
  private long zeroPages;
  /** Every measured round: the bandwidth reported. */
  private final SmoothedRate bandwidth = new SmoothedRate();
  /** Per round, the longest fixed cost of a channel (thread hand-off, drain and echo); the last few kept. */
  private final long[] fixedNanos = new long[3];
  private long roundFixedNanos;
  /** Rounds 2 and later (scattered dirty pages, as in the final copy): the switchover's rate. */
  private final SmoothedRate dirtyBandwidth = new SmoothedRate();

  Precopy(int pageSize) {
    this.pageSize = pageSize;
  }

  void roundStarted(int round, long bytesPlanned) {
    this.round = round;
    roundStartNanos = System.nanoTime();
    roundPages = roundBytes = 0;
    roundBytesPlanned = bytesPlanned;
    roundFixedNanos = 0;
    channelBytesAtRoundStart.putAll(channelBytesNow);
  }

  /** A channel's running byte counter, sampled mid-round. */
  void sampled(int channel, long bytesSent) {
    channelBytesNow.put(channel, bytesSent);
  }

  /** Bytes of the current round already on the wire (from the samples). */
  long inFlightBytes() {
    long n = 0;
    for (var e : channelBytesNow.entrySet()) n += e.getValue() - channelBytesAtRoundStart.getOrDefault(e.getKey(), 0L);
    return Math.max(0, n - roundBytes);
  }

  /** Sending rate of the current round so far, bytes per second. */
  long currentRate() {
    return (long) ((roundBytes + inFlightBytes()) * 1e9 / roundNanosSoFar());
  }

  /** Dirty rate of the current round so far (pages dirtied since it started), bytes per second: shown live. */
  long currentDirtyRate(long dirtyNow) {
    return (long) (dirtyNow * pageSize * 1e9 / roundNanosSoFar());
  }

  private long roundNanosSoFar() {
    return Math.max(1, System.nanoTime() - roundStartNanos);
  }

  /**
   * What the current round has still to send: its plan less what is on the wire, the shares of
   * channels that already finished the round included (one channel may end long before another).
   */
  long roundBytesLeft() {
    return Math.max(0, roundBytesPlanned - roundBytes - inFlightBytes());
  }

  /** A channel's fixed cost in the current round (see CopyActor.RoundSent). */
  void fixedCostSampled(long nanos) {
    roundFixedNanos = Math.max(roundFixedNanos, nanos);
  }

  /**
   * What a switchover costs beyond its pages, as the last rounds paid it: the longest of their
   * fixed costs. It leans long on purpose: an under-estimate stuns with too many pages left.
   */
  long fixedCostMs() {
    long longest = 0;
    for (long n : fixedNanos) longest = Math.max(longest, n);
    return (long) Math.ceil(longest / 1e6);
  }

  void add(SendStats s) {
    roundPages += s.pages();
    roundBytes += s.bytes();
    totalBytes += s.bytes();
    totalPages += s.pages();
    zeroPages += s.zeroPages();
  }

  /** Closes the round; dirtyAfter = pages the guest dirtied while it ran. */
  RoundStats roundFinished(long dirtyAfter, int throttlePercent) {
    long nanos = Math.max(1, System.nanoTime() - roundStartNanos);
    if (roundBytes >= MIN_MEASURED_BYTES || bandwidth.bytesPerSecond() == 0) bandwidth.add(roundBytes, nanos);
    if (round > 1 && roundBytes >= MIN_MEASURED_BYTES) dirtyBandwidth.add(roundBytes, nanos);
    double rate = dirtyRateMeasured() ? dirtyBandwidth.bytesPerSecond() : bandwidth.bytesPerSecond();
    long remainingBytes = dirtyAfter * pageSize;
    long expectedDowntimeMs = rate <= 0 ? Long.MAX_VALUE : (long) Math.ceil(remainingBytes * 1000.0 / rate);
    RoundStats stats = RoundStats.newBuilder()
        .setRound(round)
        .setPagesSent(roundPages)
        .setBytesSent(roundBytes)
        .setDurationNs(nanos)
        .setDirtyPagesAfter(dirtyAfter)
        .setBandwidthBytesPerSecond((long) bandwidth.bytesPerSecond())
        .setDirtyRateBytesPerSecond((long) (remainingBytes * 1e9 / nanos))
        .setThrottlePercent(throttlePercent)
        .setExpectedDowntimeMs(expectedDowntimeMs)
        .build();
    rounds.add(stats);
    if (roundFixedNanos > 0) fixedNanos[Math.floorMod(round - 1, fixedNanos.length)] = roundFixedNanos;
    return stats;
  }

  /** Whether a round of scattered dirty pages has measured the rate the final copy will see. */
  boolean dirtyRateMeasured() {
    return dirtyBandwidth.bytesPerSecond() > 0;
  }

  int rounds() {
    return round;
  }

  long totalBytes() {
    return totalBytes;
  }

  PerformResult result(long stunnedAtMicros, long finalPages, int throttlePercent) {
    return PerformResult.newBuilder()
        .addAllRounds(rounds)
        .setTotalBytes(totalBytes)
        .setTotalPages(totalPages)
        .setZeroPages(zeroPages)
        .setStunnedAtEpochUs(stunnedAtMicros)
        .setFinalPages(finalPages)
        .setFinalThrottlePercent(throttlePercent)
        .build();
  }

  /** Decayed bytes over decayed time: byte-weighted, and the older rounds fade (0 until a sample). */
  private static final class SmoothedRate {
    private double bytes;
    private double nanos;

    void add(long roundBytes, long roundNanos) {
      bytes = bytes * DECAY + roundBytes;
      nanos = nanos * DECAY + roundNanos;
    }

    double bytesPerSecond() {
      return nanos == 0 ? 0 : bytes * 1e9 / nanos;
    }
  }
}
