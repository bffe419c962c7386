package org.livemig.engine.coordinator;

import org.livemig.messages.MigrationInfo;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;

/** MigrationInfo (QEMU's query-migrate, libvirt's job stats) from the state and the last sample. */
final class StatusView {
  private StatusView() {}

  /** What a status query shows: the journal's state, the live sample and postcopy count, a stun in flight. */
  static MigrationInfo info(MigrationState s, Unpersisted u) {
    MigrationInfo i = PostcopyRules.live(info(s, u.lastProgress), s, u);
    if (u.sourceUnconfirmed != null && !s.ended()) i = i.toBuilder().setSourceUnconfirmed(u.sourceUnconfirmed).build();
    if (Switchover.stunned(s, u)) {
      // Perform answered, Finish pending: the guest is stunned, its result not yet persisted.
      return i.toBuilder().setPhase(org.livemig.messages.Phase.FINISH)
          .setStatus(org.livemig.messages.MigrationStatus.DEVICE).build();
    }
    return i;
  }

  static MigrationInfo info(MigrationState s, ProgressReport last) {
    MigrationInfo.Builder b = MigrationInfo.newBuilder()
        .setMigrationId(s.migrationId())
        .setGuestId(s.guestId())
        .setSourceHost(s.sourceHost())
        .setDestinationHost(s.destinationHost())
        .setStatus(s.status())
        .setPhase(s.phase())
        .setEpoch(s.epoch())
        .setStartedAtEpochMs(s.startedAtMs())
        .setDowntimeMs(s.downtimeUs() < 0 ? -1 : Math.round(s.downtimeUs() / 1000.0))
        .setError(s.error())
        .setErrorKind(s.errorKind())
        .setFailedPhase(s.failedPhase())
        .setResumeOwner(s.resumeOwner())
        .addAllRoundHistory(s.rounds())
        .addAllCleanedUpHosts(s.cleanedUp())
        .setRounds(s.rounds().size())
        .setParameters(s.parameters())
        .setPostcopy(s.postcopy().started())
        .setRecoveries(s.postcopy().recoveries())
        .setPostcopyPagesMissing(s.postcopy().pagesMissing())
        .setPostcopyPausedReason(s.status() == org.livemig.messages.MigrationStatus.POSTCOPY_PAUSED
            ? s.postcopy().pausedReason() : "");
    if (s.postcopy().result() != null) b.setPostcopyResult(s.postcopy().result());
    if (!s.started()) return b.build();
    long end = s.ended() ? s.endedAtMs() : System.currentTimeMillis();
    b.setTotalTimeMs(end - s.startedAtMs());
    if (s.setupDoneAtMs() > 0) b.setSetupTimeMs(s.setupDoneAtMs() - s.startedAtMs());
    if (s.begin() != null) {
      b.setTotalBytes(s.begin().getGuest().getPageCount() * s.begin().getGuest().getPageSize());
    }
    RoundStats lastRound = s.rounds().isEmpty() ? null : s.rounds().get(s.rounds().size() - 1);
    if (lastRound != null) {
      b.setExpectedDowntimeMs(lastRound.getExpectedDowntimeMs())
          .setDirtyRateBytesPerSecond(lastRound.getDirtyRateBytesPerSecond())
          .setThroughputBytesPerSecond(lastRound.getBandwidthBytesPerSecond())
          .setThrottlePercent(lastRound.getThrottlePercent())
          .setRemainingBytes(lastRound.getDirtyPagesAfter() * pageSize(s));
    }
    long transferred = 0;
    for (RoundStats r : s.rounds()) transferred += r.getBytesSent();
    if (s.perform() != null) {
      b.setTransferredBytes(s.perform().getTotalBytes())
          .setNormalPages(s.perform().getTotalPages() - s.perform().getZeroPages())
          .setZeroPages(s.perform().getZeroPages())
          .setRemainingBytes(0);
    } else if (last != null && last.getEpoch() == s.epoch() && !last.getRoundDone()) {
      // Mid-round: the live sample is newer than the last persisted round.
      b.setTransferredBytes(Math.max(transferred, last.getTransferredBytes()))
          .setRemainingBytes(last.getRemainingBytes())
          .setRounds(Math.max(s.rounds().size(), last.getRound().getRound()))
          .setThroughputBytesPerSecond(last.getRound().getBandwidthBytesPerSecond());
    } else {
      b.setTransferredBytes(transferred);
    }
    return b.build();
  }

  private static long pageSize(MigrationState s) {
    return s.begin() == null ? 4096 : s.begin().getGuest().getPageSize();
  }
}
