package org.livemig.engine.coordinator;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.PerformResult;
import org.livemig.messages.Phase;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.RoundStats;

/**
 * What the coordinator knows of one migration, rebuilt from its journal. Immutable: apply()
 * returns the next state and has no side effects, so replaying the journal is always safe.
 */
public record MigrationState(
    String migrationId,
    String guestId,
    String sourceHost,
    String destinationHost,
    MigrationParameters parameters,
    long epoch,
    MigrationStatus status,
    Phase phase,
    BeginCookie begin,
    PrepareCookie prepare,
    PerformResult perform,
    ActivateResult activate,
    List<RoundStats> rounds,
    ResumeOwner resumeOwner,
    String ownerToken,
    Phase failedPhase,
    String error,
    boolean cancelled,
    long startedAtMs,
    long setupDoneAtMs,
    long stunnedAtUs,
    long endedAtMs,
    long downtimeUs,
    Set<String> cleanedUp) {

  /** Before MigrationRequested: nothing is known yet. */
  public static final MigrationState EMPTY = new MigrationState("", "", "", "", MigrationParameters.getDefaultInstance(),
      0, MigrationStatus.STATUS_NONE, Phase.PHASE_NONE, null, null, null, null, List.of(), ResumeOwner.OWNER_NONE, "",
      Phase.PHASE_NONE, "", false, 0, 0, 0, 0, -1, Set.of());

  public boolean started() {
    return status != MigrationStatus.STATUS_NONE;
  }

  public boolean ended() {
    return status == MigrationStatus.COMPLETED || status == MigrationStatus.FAILED
        || status == MigrationStatus.CANCELLED;
  }

  /** Once the source is chosen to resume, the migration is rolling back. */
  public boolean rollingBack() {
    return resumeOwner == ResumeOwner.SOURCE && !ended();
  }

  public MigrationState apply(CoordinatorEvent e) {
    long at = e.getAtEpochMs();
    return switch (e.getEventCase()) {
      case REQUESTED -> {
        var r = e.getRequested();
        // Schema version 0 (before epochs existed) wrote no epoch: the first incarnation is epoch 1.
        long epoch = r.getEpoch() == 0 ? 1 : r.getEpoch();
        yield new MigrationState(r.getMigrationId(), r.getGuestId(), r.getSourceHost(), r.getDestinationHost(),
            r.getParameters(), epoch, MigrationStatus.SETUP, Phase.BEGIN, null, null, null, null, List.of(),
            ResumeOwner.OWNER_NONE, "", Phase.PHASE_NONE, "", false, at, 0, 0, 0, -1, Set.of());
      }
      case PHASE_COMPLETED -> {
        var p = e.getPhaseCompleted();
        yield switch (p.getPhase()) {
          case BEGIN -> with(MigrationStatus.SETUP, Phase.PREPARE).begin(p.getBegin());
          case PREPARE -> with(MigrationStatus.ACTIVE, Phase.PERFORM).prepare(p.getPrepare(), at);
          case PERFORM -> with(MigrationStatus.DEVICE, Phase.FINISH).perform(p.getPerform());
          case FINISH -> with(status, Phase.CONFIRM).activated(p.getActivate());
          default -> this; // CONFIRM is closed by MigrationCompleted
        };
      }
      case ROUND_COMPLETED -> {
        List<RoundStats> r = new ArrayList<>(rounds);
        r.add(e.getRoundCompleted().getRound());
        yield new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, status, phase,
            begin, prepare, perform, activate, List.copyOf(r), resumeOwner, ownerToken, failedPhase, error, cancelled,
            startedAtMs, setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
      }
      case SWITCHOVER_STARTED -> new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters,
          epoch, MigrationStatus.DEVICE, phase, begin, prepare, perform, activate, rounds, resumeOwner, ownerToken,
          failedPhase, error, cancelled, startedAtMs, setupDoneAtMs, e.getSwitchoverStarted().getStunnedAtEpochUs(),
          endedAtMs, downtimeUs, cleanedUp);
      case RESUME_OWNER_CHOSEN -> {
        var o = e.getResumeOwnerChosen();
        boolean toSource = o.getOwner() == ResumeOwner.SOURCE;
        yield new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch,
            toSource && o.getCancelled() ? MigrationStatus.CANCELLING : status, toSource ? Phase.CONFIRM : phase, begin,
            prepare, perform, activate, rounds, o.getOwner(), o.getOwnerToken(),
            toSource ? o.getFailedPhase() : failedPhase, toSource ? o.getReason() : error, toSource && o.getCancelled(),
            startedAtMs, setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
      }
      case CLEANUP_DONE -> {
        Set<String> c = new TreeSet<>(cleanedUp);
        c.add(e.getCleanupDone().getHost());
        yield new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, status, phase,
            begin, prepare, perform, activate, rounds, resumeOwner, ownerToken, failedPhase, error, cancelled,
            startedAtMs, setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, Set.copyOf(c));
      }
      case COMPLETED -> new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch,
          MigrationStatus.COMPLETED, phase, begin, prepare, perform, activate, rounds, resumeOwner, ownerToken,
          failedPhase, error, cancelled, startedAtMs, setupDoneAtMs, stunnedAtUs, at, e.getCompleted().getDowntimeUs(),
          cleanedUp);
      case FAILED -> {
        var f = e.getFailed();
        yield new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch,
            f.getCancelled() ? MigrationStatus.CANCELLED : MigrationStatus.FAILED, phase, begin, prepare, perform,
            activate, rounds, resumeOwner, ownerToken, f.getPhase(), f.getReason(), f.getCancelled(), startedAtMs,
            setupDoneAtMs, stunnedAtUs, at, downtimeUs, cleanedUp);
      }
      case RESTARTED -> new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters,
          e.getRestarted().getEpoch(), status, phase, begin, prepare, perform, activate, rounds, resumeOwner, ownerToken,
          failedPhase, error, cancelled, startedAtMs, setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
      case PARAMETERS_CHANGED -> new MigrationState(migrationId, guestId, sourceHost, destinationHost,
          e.getParametersChanged().getParameters(), epoch, status, phase, begin, prepare, perform, activate, rounds,
          resumeOwner, ownerToken, failedPhase, error, cancelled, startedAtMs, setupDoneAtMs, stunnedAtUs, endedAtMs,
          downtimeUs, cleanedUp);
      case CANCEL_REQUESTED, EVENT_NOT_SET -> this;
    };
  }

  /** The same state seen in another phase (for a decision taken before the phase is persisted). */
  MigrationState withPhase(Phase p) {
    return with(status, p);
  }

  private MigrationState with(MigrationStatus s, Phase p) {
    return new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, s, p, begin,
        prepare, perform, activate, rounds, resumeOwner, ownerToken, failedPhase, error, cancelled, startedAtMs,
        setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
  }

  private MigrationState begin(BeginCookie b) {
    return new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, status, phase, b,
        prepare, perform, activate, rounds, resumeOwner, ownerToken, failedPhase, error, cancelled, startedAtMs,
        setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
  }

  private MigrationState prepare(PrepareCookie p, long at) {
    return new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, status, phase,
        begin, p, perform, activate, rounds, resumeOwner, ownerToken, failedPhase, error, cancelled, startedAtMs, at,
        stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
  }

  private MigrationState perform(PerformResult r) {
    return new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, status, phase,
        begin, prepare, r, activate, rounds, resumeOwner, ownerToken, failedPhase, error, cancelled, startedAtMs,
        setupDoneAtMs, r.getStunnedAtEpochUs(), endedAtMs, downtimeUs, cleanedUp);
  }

  private MigrationState activated(ActivateResult a) {
    return new MigrationState(migrationId, guestId, sourceHost, destinationHost, parameters, epoch, status, phase,
        begin, prepare, perform, a, rounds, resumeOwner, ownerToken, failedPhase, error, cancelled, startedAtMs,
        setupDoneAtMs, stunnedAtUs, endedAtMs, downtimeUs, cleanedUp);
  }
}
