package org.livemig.engine.host;

import org.livemig.messages.PerformResult;

/**
 * When the source's switchover steps happened, for the blackout's breakdown: stun requested,
 * vCPUs stopped, disk requests in flight drained, device state taken, final copy sent.
 */
final class SwitchoverTimes {
  private long stunRequested;
  private long stunnedAtMicros; // wall clock, for the downtime
  private long stopped;
  private long drained;
  private long disksPivoted; // 0 without copy_storage
  private long deviceStateTaken;
  private int inFlightAtStun;

  void stunRequested(int diskRequestsInFlight) {
    stunnedAtMicros = org.livemig.engine.common.EpochMicros.now();
    stunRequested = System.nanoTime();
    inFlightAtStun = diskRequestsInFlight;
  }

  void stopped() { stopped = System.nanoTime(); }

  void drained() { drained = System.nanoTime(); }

  void disksPivoted() { disksPivoted = System.nanoTime(); }

  void deviceStateTaken() { deviceStateTaken = System.nanoTime(); }

  int inFlightAtStun() { return inFlightAtStun; }

  long stunnedAtMicros() { return stunnedAtMicros; }

  String drainTimedOut(long timeoutMs, int inFlightNow) {
    return "drain did not finish within " + timeoutMs + " ms: " + inFlightNow + " disk request(s) of " + inFlightAtStun
        + " still in flight; the switchover is off and the guest resumes on the source";
  }

  /** The result with the source's part of the blackout, the final copy ending now. */
  PerformResult withBreakdown(PerformResult r) {
    long now = System.nanoTime();
    long pivotEnd = disksPivoted == 0 ? drained : disksPivoted;
    return r.toBuilder().setStunUs((stopped - stunRequested) / 1000).setDrainUs((drained - stopped) / 1000)
        .setDiskPivotUs((pivotEnd - drained) / 1000)
        .setDeviceStateUs((deviceStateTaken - pivotEnd) / 1000).setFinalCopyUs((now - deviceStateTaken) / 1000)
        .setDiskRequestsInFlightAtStun(inFlightAtStun).build();
  }

  /** Perform's result for the log: rounds, bytes, and the switchover's parts on the source. */
  String describe(org.livemig.messages.PerformResult result, long finalPages) {
    return "perform done: " + result.getRoundsCount() + " rounds, " + result.getTotalBytes() + " bytes, final copy "
        + finalPages + " pages; switchover on the source: stun " + result.getStunUs() / 1000 + " ms, drain "
        + result.getDrainUs() / 1000 + " ms (" + inFlightAtStun() + " disk requests in flight), final copy with device"
        + " state and EOS " + result.getFinalCopyUs() / 1000 + " ms";
  }
}
