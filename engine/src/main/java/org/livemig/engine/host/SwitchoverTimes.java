package org.livemig.engine.host;

import org.livemig.messages.PerformResult;

/**
 * When the source's switchover steps happened, for the blackout's breakdown: stun requested,
 * vCPUs stopped, disk requests in flight drained, device state taken, final copy sent; with
 * copy_storage also the disks' pivot, which runs before the stun and is not part of the blackout.
 */
final class SwitchoverTimes {
  private long stunRequested;
  private long stunnedAtMicros; // wall clock, for the downtime
  private long stopped;
  private long drained;
  private long pivotStarted; // copy_storage: the disks pivot before the stun (0 without)
  private long disksPivoted;
  private long deviceStateTaken;
  private int inFlightAtStun;

  void stunRequested(int diskRequestsInFlight) {
    stunnedAtMicros = org.livemig.engine.common.EpochMicros.now();
    stunRequested = System.nanoTime();
    inFlightAtStun = diskRequestsInFlight;
  }

  void stopped() { stopped = System.nanoTime(); }

  void drained() { drained = System.nanoTime(); }

  void disksPivotStarted() { pivotStarted = System.nanoTime(); }

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
    return r.toBuilder().setStunUs((stopped - stunRequested) / 1000).setDrainUs((drained - stopped) / 1000)
        .setDiskPivotUs(pivotStarted == 0 ? 0 : (disksPivoted - pivotStarted) / 1000)
        .setDeviceStateUs((deviceStateTaken - drained) / 1000).setFinalCopyUs((now - deviceStateTaken) / 1000)
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
