package org.livemig.engine.serialization;

import java.util.List;
import java.util.Set;
import org.livemig.engine.coordinator.MigrationState;
import org.livemig.engine.coordinator.PostcopyState;
import org.livemig.messages.MigrationSnapshot;

/** MigrationState <-> its protobuf snapshot. */
final class Snapshots {
  static final int SCHEMA_VERSION = 1;

  private Snapshots() {}

  static MigrationSnapshot toProto(MigrationState s) {
    MigrationSnapshot.Builder b = MigrationSnapshot.newBuilder()
        .setSchemaVersion(SCHEMA_VERSION)
        .setMigrationId(s.migrationId()).setGuestId(s.guestId())
        .setSourceHost(s.sourceHost()).setDestinationHost(s.destinationHost())
        .setParameters(s.parameters()).setEpoch(s.epoch()).setStatus(s.status()).setPhase(s.phase())
        .addAllRounds(s.rounds()).setResumeOwner(s.resumeOwner()).setOwnerToken(s.ownerToken())
        .setFailedPhase(s.failedPhase()).setError(s.error()).setErrorKind(s.errorKind()).setCancelled(s.cancelled())
        .setStartedAtMs(s.startedAtMs()).setSetupDoneAtMs(s.setupDoneAtMs()).setStunnedAtUs(s.stunnedAtUs())
        .setEndedAtMs(s.endedAtMs()).setDowntimeUs(s.downtimeUs()).addAllCleanedUp(s.cleanedUp())
        .setPostcopy(s.postcopy().started()).setRecoveries(s.postcopy().recoveries())
        .setPostcopyComplete(s.postcopy().complete()).setPostcopyPagesMissing(s.postcopy().pagesMissing())
        .setPostcopyPausedReason(s.postcopy().pausedReason()).setPostcopySourceLost(s.postcopy().sourceLost())
        .setSourceTeardownUs(s.sourceTeardownUs());
    if (s.postcopy().result() != null) b.setPostcopyResult(s.postcopy().result());
    if (s.begin() != null) b.setBegin(s.begin());
    if (s.prepare() != null) b.setPrepare(s.prepare());
    if (s.perform() != null) b.setPerform(s.perform());
    if (s.activate() != null) b.setActivate(s.activate());
    return b.build();
  }

  /**
   * The state in a snapshot. An enum value this version does not know (a newer writer, or a corrupt
   * store) is refused: the state could never be written again (toProto cannot encode it).
   *
   * @throws IllegalArgumentException naming the field and its number
   */
  static MigrationState fromProto(MigrationSnapshot p) {
    known("status", p.getStatusValue(), p.getStatus());
    known("phase", p.getPhaseValue(), p.getPhase());
    known("resume_owner", p.getResumeOwnerValue(), p.getResumeOwner());
    known("failed_phase", p.getFailedPhaseValue(), p.getFailedPhase());
    known("error_kind", p.getErrorKindValue(), p.getErrorKind());
    return new MigrationState(p.getMigrationId(), p.getGuestId(), p.getSourceHost(), p.getDestinationHost(),
        p.getParameters(), p.getEpoch(), p.getStatus(), p.getPhase(),
        p.hasBegin() ? p.getBegin() : null, p.hasPrepare() ? p.getPrepare() : null,
        p.hasPerform() ? p.getPerform() : null, p.hasActivate() ? p.getActivate() : null,
        List.copyOf(p.getRoundsList()), p.getResumeOwner(), p.getOwnerToken(), p.getFailedPhase(), p.getError(),
        p.getErrorKind(), p.getCancelled(), p.getStartedAtMs(), p.getSetupDoneAtMs(), p.getStunnedAtUs(), p.getEndedAtMs(),
        p.getDowntimeUs(), Set.copyOf(p.getCleanedUpList()), new PostcopyState(p.getPostcopy(), p.getRecoveries(),
            p.getPostcopyComplete(), p.getPostcopyPagesMissing(), p.getPostcopyPausedReason(),
            p.hasPostcopyResult() ? p.getPostcopyResult() : null, p.getPostcopySourceLost()), p.getSourceTeardownUs());
  }

  private static void known(String field, int number, Enum<?> value) {
    if (value.name().equals("UNRECOGNIZED")) {
      throw new IllegalArgumentException("snapshot " + field + " " + number + " is unknown to this version");
    }
  }
}
