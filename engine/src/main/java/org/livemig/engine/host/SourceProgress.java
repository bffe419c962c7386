package org.livemig.engine.host;

import org.livemig.engine.common.EpochMicros;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;

/** The progress reports a migration's source sends its coordinator, from its precopy counters. */
record SourceProgress(String migrationId, MigratableGuest guest, Precopy precopy) {
  /** A mid-round sample for the live progress line; dirtyRate 0 = not counted. */
  ProgressReport.Builder sample(long epoch, long dirtyRate) {
    return ProgressReport.newBuilder()
        .setMigrationId(migrationId)
        .setEpoch(epoch)
        .setTransferredBytes(precopy.totalBytes() + precopy.inFlightBytes())
        .setRemainingBytes(Math.max(0, precopy.roundBytesPlanned() - precopy.inFlightBytes()))
        .setTotalBytes(guest.memory().sizeBytes())
        .setSentAtEpochUs(EpochMicros.now())
        .setRound(RoundStats.newBuilder().setRound(precopy.rounds()).setThrottlePercent(guest.throttlePercent())
            .setBandwidthBytesPerSecond(precopy.currentRate()).setDirtyRateBytesPerSecond(dirtyRate));
  }

  /** A round's (or the final copy's) report. */
  ProgressReport report(long epoch, RoundStats stats, boolean finalCopy) {
    return ProgressReport.newBuilder()
        .setMigrationId(migrationId)
        .setEpoch(epoch)
        .setRound(stats)
        .setTransferredBytes(precopy.totalBytes())
        .setRemainingBytes(stats.getDirtyPagesAfter() * guest.memory().pageSize())
        .setTotalBytes(guest.memory().sizeBytes())
        .setFinalCopy(finalCopy)
        .setRoundDone(true)
        .setSentAtEpochUs(EpochMicros.now())
        .build();
  }
}
