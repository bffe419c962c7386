package org.livemig.engine.coordinator;

import org.livemig.messages.MigrationInfo;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.Blackout;
import org.livemig.messages.RoundStats;

/** MigrationInfo (QEMU's query-migrate, libvirt's job stats) from the state and the last sample. */
final class StatusView {
  private StatusView() {}

  /** What a status query shows: the journal's state, the live sample and postcopy count, a stun in flight. */
  static MigrationInfo info(MigrationState s, Unpersisted u) {
    MigrationInfo i = PostcopyRules.live(info(s, u.lastProgress, u.lastRoundDone), s, u);
    if (u.sourceUnconfirmed != null && !s.ended()) i = i.toBuilder().setSourceUnconfirmed(u.sourceUnconfirmed).build();
    if (Switchover.stunned(s, u)) {
      // Perform answered, Finish pending: the guest is stunned, its result not yet persisted.
      return i.toBuilder().setPhase(org.livemig.messages.Phase.FINISH)
          .setStatus(org.livemig.messages.MigrationStatus.DEVICE).build();
    }
    return i;
  }

  /**
   * The journal's state with the source's newest reports laid over it. Shown values never go
   * back: a round reported done but not (yet) persisted still counts, and a live sample counts
   * only when it is newer than every round known.
   */
  static MigrationInfo info(MigrationState s, ProgressReport last, RoundStats lastRoundDone) {
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
    b.setSourceTeardownUs(s.sourceTeardownUs());
    if (s.perform() != null) b.setBlackout(blackout(s));
    long end = s.ended() ? s.endedAtMs() : System.currentTimeMillis();
    if (s.ended()) b.setEndedAtEpochMs(s.endedAtMs());
    b.setTotalTimeMs(end - s.startedAtMs());
    if (s.setupDoneAtMs() > 0) b.setSetupTimeMs(s.setupDoneAtMs() - s.startedAtMs());
    if (s.begin() != null) {
      b.setTotalBytes(s.begin().getGuest().getPageCount() * s.begin().getGuest().getPageSize());
    }
    RoundStats lastRound = newest(s.rounds().isEmpty() ? null : s.rounds().get(s.rounds().size() - 1), lastRoundDone);
    if (lastRound != null) {
      b.setExpectedDowntimeMs(lastRound.getExpectedDowntimeMs())
          .setDirtyRateBytesPerSecond(lastRound.getDirtyRateBytesPerSecond())
          .setThroughputBytesPerSecond(lastRound.getBandwidthBytesPerSecond())
          .setThrottlePercent(lastRound.getThrottlePercent())
          .setRemainingBytes(lastRound.getDirtyPagesAfter() * pageSize(s))
          .setRounds(Math.max(s.rounds().size(), lastRound.getRound()));
    }
    long transferred = 0;
    for (RoundStats r : s.rounds()) transferred += r.getBytesSent();
    if (last != null && last.getEpoch() == s.epoch()) b.addAllDisks(last.getDisksList()); // copy_storage
    if (s.perform() != null) {
      b.setTransferredBytes(s.perform().getTotalBytes())
          .setNormalPages(s.perform().getTotalPages() - s.perform().getZeroPages())
          .setZeroPages(s.perform().getZeroPages())
          .setRemainingBytes(0)
          .setDirtyRateBytesPerSecond(lastRunningDirtyRate(s.rounds()));
      return b.build();
    }
    // Nothing sent yet: the whole guest remains.
    if (lastRound == null && last == null) b.setRemainingBytes(b.getTotalBytes());
    boolean sampleOfThisEpoch = last != null && last.getEpoch() == s.epoch();
    if (sampleOfThisEpoch) {
      transferred = Math.max(transferred, last.getTransferredBytes());
      b.setBandwidthShareBytesPerSecond(last.getBandwidthShareBytesPerSecond());
    }
    b.setTransferredBytes(transferred);
    if (sampleOfThisEpoch && !last.getRoundDone() && last.getRound().getRound() > b.getRounds()) {
      // Mid-round: the live sample, taken in the round after every one known done, is the newest.
      b.setRemainingBytes(last.getRemainingBytes())
          .setRounds(last.getRound().getRound())
          .setThroughputBytesPerSecond(last.getRound().getBandwidthBytesPerSecond());
      if (last.getRound().getDirtyRateBytesPerSecond() > 0 || lastRound == null) {
        b.setDirtyRateBytesPerSecond(last.getRound().getDirtyRateBytesPerSecond());
      }
    }
    return b.build();
  }

  /** Of the persisted last round and the last one reported done, the later (null when neither). */
  static RoundStats newest(RoundStats persisted, RoundStats reported) {
    if (persisted == null) return reported;
    if (reported == null) return persisted;
    return reported.getRound() > persisted.getRound() ? reported : persisted;
  }

  /**
   * After the switchover the last round is the final copy, sent with the guest stunned (it
   * dirtied nothing): the dirty rate shown is the last round's while the guest still ran.
   */
  static long lastRunningDirtyRate(java.util.List<RoundStats> rounds) {
    for (int k = rounds.size() - 1; k >= 0; k--) {
      if (rounds.get(k).getDirtyPagesAfter() > 0 || k == 0) return rounds.get(k).getDirtyRateBytesPerSecond();
    }
    return 0;
  }

  private static long pageSize(MigrationState s) {
    return s.begin() == null ? 4096 : s.begin().getGuest().getPageSize();
  }

  /** The blackout's parts as the source (stun, drain, final copy) and the destination (device state, unleash) measured them. */
  static Blackout blackout(MigrationState s) {
    var p = s.perform();
    Blackout.Builder b = Blackout.newBuilder().setStunUs(p.getStunUs()).setDrainUs(p.getDrainUs())
        .setFinalCopyUs(p.getFinalCopyUs()).setDeviceStateUs(p.getDeviceStateUs())
        .setDiskRequestsInFlightAtStun(p.getDiskRequestsInFlightAtStun()).setDiskPivotUs(p.getDiskPivotUs());
    if (s.activate() != null) b.setDeviceStateUs(p.getDeviceStateUs() + s.activate().getDeviceStateLoadUs())
        .setUnleashUs(s.activate().getUnleashUs());
    return b.build();
  }
}
