package org.livemig.engine.host;

import org.livemig.engine.common.EpochMicros;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;

/** The source's progress reports to its coordinator, built from its precopy counters and link share. */
final class ProgressReports {
  private final String migrationId;
  private final MigratableGuest guest;
  private final Precopy precopy;
  private final LinkShare share;
  private final java.util.function.Supplier<java.util.List<org.livemig.messages.DiskMoveStatus>> disks;

  ProgressReports(String migrationId, MigratableGuest guest, Precopy precopy, LinkShare share,
      java.util.function.Supplier<java.util.List<org.livemig.messages.DiskMoveStatus>> disks) {
    this.migrationId = migrationId;
    this.guest = guest;
    this.precopy = precopy;
    this.share = share;
    this.disks = disks;
  }

  /**
   * A channel's byte count sampled mid-round: the live progress line with the round's dirty rate
   * so far, counted here and not in the switchover's sample (a bitmap count is a pass over the
   * bitmap, which the downtime should not pay).
   */
  ProgressReport sampled(long epoch, CopyActor.Progress p) {
    precopy.sampled(p.channel(), p.bytesSent());
    return sample(epoch, precopy.currentDirtyRate(guest.dirtyBitmap().count())).build();
  }

  /** A mid-round sample for the live progress line; dirtyRate 0 = not counted. */
  ProgressReport.Builder sample(long epoch, long dirtyRate) {
    return ProgressReport.newBuilder()
        .setMigrationId(migrationId)
        .setEpoch(epoch)
        .setTransferredBytes(precopy.totalBytes() + precopy.inFlightBytes())
        .setRemainingBytes(precopy.roundBytesLeft())
        .setTotalBytes(guest.memory().sizeBytes())
        .setSentAtEpochUs(EpochMicros.now())
        .setBandwidthShareBytesPerSecond(share.bytesPerSecond())
        .addAllDisks(disks.get())
        .setRound(RoundStats.newBuilder().setRound(precopy.rounds()).setThrottlePercent(guest.throttlePercent())
            .setBandwidthBytesPerSecond(precopy.currentRate()).setDirtyRateBytesPerSecond(dirtyRate));
  }

  /** The report that closes a round (or the final copy). */
  ProgressReport progress(long epoch, RoundStats stats, boolean finalCopy) {
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
        .setBandwidthShareBytesPerSecond(share.bytesPerSecond())
        .addAllDisks(disks.get())
        .build();
  }
}
