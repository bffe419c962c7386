package org.livemig.engine.coordinator;

import org.livemig.messages.ActivateResult;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CancelRequested;
import org.livemig.messages.CleanupDone;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.MigrationCompleted;
import org.livemig.messages.MigrationFailed;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationRequested;
import org.livemig.messages.PerformResult;
import org.livemig.messages.Phase;
import org.livemig.messages.PhaseCompleted;
import org.livemig.messages.PrecopyRoundCompleted;
import org.livemig.messages.PrepareCookie;
import org.livemig.engine.security.DataToken;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.ResumeOwnerChosen;
import org.livemig.messages.RoundStats;
import org.livemig.messages.StartMigration;
import org.livemig.messages.SwitchoverStarted;

/** Builds the coordinator's journal events, each stamped with the schema version and time. */
final class Events {
  /** Version 1: the first schema. A reader must accept every version up to this one. */
  static final int SCHEMA_VERSION = 1;

  private Events() {}

  private static CoordinatorEvent.Builder event() {
    return CoordinatorEvent.newBuilder().setSchemaVersion(SCHEMA_VERSION).setAtEpochMs(System.currentTimeMillis());
  }

  static CoordinatorEvent requested(StartMigration r, MigrationParameters resolved, long epoch) {
    return requested(r, resolved, epoch, false);
  }

  /** queued: the migration waits for an admission slot (QUEUED) before Begin. */
  static CoordinatorEvent requested(StartMigration r, MigrationParameters resolved, long epoch, boolean queued) {
    return event().setRequested(MigrationRequested.newBuilder().setMigrationId(r.getMigrationId())
        .setGuestId(r.getGuestId()).setSourceHost(r.getSourceHost()).setDestinationHost(r.getDestinationHost())
        .setParameters(resolved).setEpoch(epoch).setQueued(queued)).build();
  }

  static CoordinatorEvent admitted() {
    return event().setAdmitted(org.livemig.messages.MigrationAdmitted.getDefaultInstance()).build();
  }

  /** Cancelled before admission: nothing ran on any host, so nothing rolls back. */
  static CoordinatorEvent cancelledWhileQueued(String reason) {
    return event().setFailed(MigrationFailed.newBuilder().setPhase(Phase.PHASE_NONE).setReason(reason)
        .setCancelled(true)).build();
  }

  static CoordinatorEvent begun(BeginCookie c) {
    return event().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.BEGIN).setBegin(c)).build();
  }

  /** The journal keeps the data token's hash only; the token stays in Unpersisted. */
  static CoordinatorEvent prepared(PrepareCookie c) {
    return event().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.PREPARE)
        .setPrepare(DataToken.persistable(c))).build();
  }

  static CoordinatorEvent performed(PerformResult r) {
    return event().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.PERFORM).setPerform(r)).build();
  }

  static CoordinatorEvent switchoverStarted(long stunnedAtUs) {
    return event().setSwitchoverStarted(SwitchoverStarted.newBuilder().setStunnedAtEpochUs(stunnedAtUs)).build();
  }

  static CoordinatorEvent finished(ActivateResult a) {
    return event().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.FINISH).setActivate(a)).build();
  }

  static CoordinatorEvent confirmed() {
    return event().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.CONFIRM)).build();
  }

  /** Confirm with the source's answer (its postcopy counters, whether it was destroyed). */
  static CoordinatorEvent confirmed(org.livemig.messages.ConfirmResult r) {
    return event().setPhaseCompleted(PhaseCompleted.newBuilder().setPhase(Phase.CONFIRM).setConfirm(r)).build();
  }

  static CoordinatorEvent round(RoundStats r) {
    return event().setRoundCompleted(PrecopyRoundCompleted.newBuilder().setRound(r)).build();
  }

  static CoordinatorEvent destinationOwns(String token) {
    return event().setResumeOwnerChosen(ResumeOwnerChosen.newBuilder().setOwner(ResumeOwner.DESTINATION)
        .setOwnerToken(token).setReason("finish: every page and the device state arrived")).build();
  }

  /** The source resumes: the decision that starts every rollback. */
  static CoordinatorEvent rollback(MigrationState s, String reason, boolean cancelled) {
    return rollback(s, reason, cancelled, org.livemig.messages.ErrorKind.ERROR_NONE);
  }

  /** kind: what refused, when a host's refusal (or a host not found) is the cause. */
  static CoordinatorEvent rollback(MigrationState s, String reason, boolean cancelled,
      org.livemig.messages.ErrorKind kind) {
    return event().setResumeOwnerChosen(ResumeOwnerChosen.newBuilder().setOwner(ResumeOwner.SOURCE)
        .setReason(reason).setFailedPhase(s.phase()).setCancelled(cancelled).setErrorKind(kind)).build();
  }

  static CoordinatorEvent cancelRequested(String reason) {
    return cancelRequested(reason, false);
  }

  static CoordinatorEvent cancelRequested(String reason, boolean powerOff) {
    return event().setCancelRequested(CancelRequested.newBuilder().setReason(reason).setPowerOff(powerOff)).build();
  }

  static CoordinatorEvent restarted(long epoch, org.livemig.messages.Phase phase) {
    return event().setRestarted(org.livemig.messages.CoordinatorRestarted.newBuilder().setEpoch(epoch).setPhase(phase))
        .build();
  }

  static CoordinatorEvent parametersChanged(MigrationParameters p) {
    return event().setParametersChanged(org.livemig.messages.ParametersChanged.newBuilder().setParameters(p)).build();
  }

  static CoordinatorEvent postcopyStarted(long pagesMissing) {
    return event().setPostcopyStarted(org.livemig.messages.PostcopyStarted.newBuilder().setPagesMissing(pagesMissing))
        .build();
  }

  static CoordinatorEvent postcopyPaused(String host, String reason, long pagesMissing) {
    return event().setPostcopyPaused(org.livemig.messages.PostcopyPaused.newBuilder().setHost(host).setReason(reason)
        .setPagesMissing(pagesMissing)).build();
  }

  /** Postcopy paused for good: the source's host left the cluster with the pages the destination lacks. */
  static CoordinatorEvent postcopySourceLost(String host, String reason, long pagesMissing) {
    return event().setPostcopyPaused(org.livemig.messages.PostcopyPaused.newBuilder().setHost(host).setReason(reason)
        .setPagesMissing(pagesMissing).setSourceLost(true)).build();
  }

  static CoordinatorEvent recoveryStarted(String dataHost, int dataPort, int attempt) {
    return event().setRecoveryStarted(org.livemig.messages.RecoveryStarted.newBuilder().setDataHost(dataHost)
        .setDataPort(dataPort).setAttempt(attempt)).build();
  }

  static CoordinatorEvent postcopyResumed(int attempt) {
    return event().setPostcopyResumed(org.livemig.messages.PostcopyResumed.newBuilder().setAttempt(attempt)).build();
  }

  static CoordinatorEvent postcopyCompleted(org.livemig.messages.PagesCompleteResult r) {
    return event().setPostcopyCompleted(org.livemig.messages.PostcopyCompleted.newBuilder().setResult(r)).build();
  }

  static CoordinatorEvent cleanupDone(String host) {
    return event().setCleanupDone(CleanupDone.newBuilder().setHost(host)).build();
  }

  static CoordinatorEvent completed(long downtimeUs, long runningAtUs) {
    return event().setCompleted(MigrationCompleted.newBuilder().setDowntimeUs(downtimeUs)
        .setDestinationRunningAtEpochUs(runningAtUs)).build();
  }

  /** A failure that leaves the source as it is (postcopy: its copy is stale, it never resumes). */
  static CoordinatorEvent failedIn(Phase phase, String reason) {
    return event().setFailed(MigrationFailed.newBuilder().setPhase(phase).setReason(reason)).build();
  }

  static CoordinatorEvent failed(MigrationState s, String reason) {
    return event().setFailed(MigrationFailed.newBuilder().setPhase(s.failedPhase()).setReason(reason)
        .setCancelled(s.cancelled()).setErrorKind(s.errorKind())).build();
  }
}
