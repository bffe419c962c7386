package org.livemig.engine.coordinator;

import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;
import org.livemig.messages.ReplicationStatusReport;

/**
 * A protection as operators see it: the journalled state, the primary's last report and what
 * the hosts said meanwhile (ProtectionRules.Progress), as one ProtectionInfo. Decides nothing.
 */
public final class ProtectionStatus {
  private ProtectionStatus() {}

  /** The status operators see. */
  public static ProtectionInfo info(Protection s, ProtectionRules.Progress p) {
    var b = ProtectionInfo.newBuilder().setGuestId(s.guestId()).setGeneration(s.generation())
        .setPrimaryHost(s.primary()).setSecondaryHost(s.secondary()).setState(s.state()).setReason(s.reason())
        .setEpoch(s.epoch()).setIntervalMs(s.request().getIntervalMs()).setManualFailover(s.request().getManualFailover())
        .setLastCheckpointAgeMs(-1).setPrimaryLostAtEpochMs(s.primaryLostAt())
        .setFailoverDecidedAtEpochMs(s.failoverDecidedAt()).setFailedOverAtEpochMs(s.failedOverAt());
    if (s.state() == ProtectionState.FAILED_OVER) {
      b.setFailoverCheckpoint(s.failover().getCheckpoint()).setFailoverSteps(s.failover().getSteps())
          .setFailoverOutputsUpto(s.failover().getOutputsUpto());
    }
    ReplicationStatusReport r = p.status;
    if (r != null) {
      b.setCheckpoints(r.getCheckpoints()).setLastCheckpoint(r.getLastCheckpoint())
          .setLastCheckpointAgeMs(r.getLastCheckpointAgeMs()).setLastCheckpointBytes(r.getLastCheckpointBytes())
          .setLastPauseUs(r.getLastPauseUs()).setP50PauseUs(r.getP50PauseUs()).setP99PauseUs(r.getP99PauseUs())
          .setSyncBytes(r.getSyncBytes()).setPrimaryFenced(r.getFenced() && s.replicating())
          .setPrimaryLeaseStopped(r.getLeaseStopped() && s.replicating());
    }
    if (s.replicating() && p.streamEnded != null && s.reason().isEmpty()) {
      b.setReason("the secondary's checkpoint stream ended: " + p.streamEnded);
    }
    return b.build();
  }
}
