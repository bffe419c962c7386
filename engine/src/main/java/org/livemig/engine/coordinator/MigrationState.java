package org.livemig.engine.coordinator;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.ErrorKind;
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
    ErrorKind errorKind,
    boolean cancelled,
    long startedAtMs,
    long setupDoneAtMs,
    long stunnedAtUs,
    long endedAtMs,
    long downtimeUs,
    Set<String> cleanedUp,
    PostcopyState postcopy,
    long sourceTeardownUs) {

  /** Before MigrationRequested: nothing is known yet. */
  public static final MigrationState EMPTY = new MigrationState("", "", "", "", MigrationParameters.getDefaultInstance(),
      0, MigrationStatus.STATUS_NONE, Phase.PHASE_NONE, null, null, null, null, List.of(), ResumeOwner.OWNER_NONE, "",
      Phase.PHASE_NONE, "", ErrorKind.ERROR_NONE, false, 0, 0, 0, 0, -1, Set.of(), PostcopyState.NONE, 0);

  public boolean started() {
    return status != MigrationStatus.STATUS_NONE;
  }

  public boolean ended() {
    return ended(status);
  }

  /** Cancelled by powering the guest off: the source stops it for good, nobody resumes it. */
  public boolean poweredOff() {
    return cancelled && errorKind == ErrorKind.ERROR_POWERED_OFF;
  }

  /** Completed, failed or cancelled: nothing more happens to the migration. */
  public static boolean ended(MigrationStatus status) {
    return status == MigrationStatus.COMPLETED || status == MigrationStatus.FAILED
        || status == MigrationStatus.CANCELLED;
  }

  /** Accepted, waiting for an admission slot: no host has heard of it. */
  public boolean queued() {
    return status == MigrationStatus.QUEUED;
  }

  /** The destination runs the guest and still lacks pages: the source must stay, paused, until complete. */
  public boolean inPostcopy() {
    return postcopy.started() && !postcopy.complete() && !ended();
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
        // Queued: waiting for an admission slot, in no phase yet (MigrationAdmitted starts Begin).
        yield new MigrationState(r.getMigrationId(), r.getGuestId(), r.getSourceHost(), r.getDestinationHost(),
            r.getParameters(), epoch, r.getQueued() ? MigrationStatus.QUEUED : MigrationStatus.SETUP,
            r.getQueued() ? Phase.PHASE_NONE : Phase.BEGIN, null, null, null, null, List.of(),
            ResumeOwner.OWNER_NONE, "", Phase.PHASE_NONE, "", ErrorKind.ERROR_NONE, false, at, 0, 0, 0, -1, Set.of(),
            PostcopyState.NONE, 0);
      }
      case PHASE_COMPLETED -> {
        var p = e.getPhaseCompleted();
        yield switch (p.getPhase()) {
          case BEGIN -> change(n -> { n.phase = Phase.PREPARE; n.begin = p.getBegin(); });
          case PREPARE -> change(n -> {
            n.status = MigrationStatus.ACTIVE;
            n.phase = Phase.PERFORM;
            n.prepare = p.getPrepare();
            n.setupDoneAtMs = at;
          });
          case PERFORM -> change(n -> {
            n.status = MigrationStatus.DEVICE;
            n.phase = Phase.FINISH;
            n.perform = p.getPerform();
            // Every round, the final copy's included (its report was not persisted on its own).
            if (p.getPerform().getRoundsCount() > 0) n.rounds = List.copyOf(p.getPerform().getRoundsList());
            n.stunnedAtUs = p.getPerform().getStunnedAtEpochUs();
          });
          case FINISH -> change(n -> { n.phase = Phase.CONFIRM; n.activate = p.getActivate(); });
          case CONFIRM -> change(n -> n.sourceTeardownUs = p.getConfirm().getTeardownUs()); // ended by MigrationCompleted
          default -> this;
        };
      }
      case ROUND_COMPLETED -> change(n -> {
        List<RoundStats> r = new ArrayList<>(rounds);
        r.add(e.getRoundCompleted().getRound());
        n.rounds = List.copyOf(r);
      });
      // The switchover marker: written when a switchover is near (or with Perform's result in
      // journals from before the marker), so the status stays; Perform's result says DEVICE.
      case SWITCHOVER_STARTED -> change(n -> n.stunnedAtUs = e.getSwitchoverStarted().getStunnedAtEpochUs());
      case RESUME_OWNER_CHOSEN -> change(n -> {
        var o = e.getResumeOwnerChosen();
        n.resumeOwner = o.getOwner();
        n.ownerToken = o.getOwnerToken();
        if (o.getOwner() == ResumeOwner.SOURCE) {
          if (o.getCancelled()) n.status = MigrationStatus.CANCELLING;
          n.phase = Phase.CONFIRM;
          n.failedPhase = o.getFailedPhase();
          n.error = o.getReason();
          n.errorKind = o.getErrorKind();
          n.cancelled = o.getCancelled();
        }
      });
      case CLEANUP_DONE -> change(n -> {
        Set<String> c = new TreeSet<>(cleanedUp);
        c.add(e.getCleanupDone().getHost());
        n.cleanedUp = Set.copyOf(c);
      });
      case COMPLETED -> change(n -> {
        n.status = MigrationStatus.COMPLETED;
        n.endedAtMs = at;
        n.downtimeUs = e.getCompleted().getDowntimeUs();
      });
      case FAILED -> change(n -> {
        var f = e.getFailed();
        n.status = f.getCancelled() ? MigrationStatus.CANCELLED : MigrationStatus.FAILED;
        n.failedPhase = f.getPhase();
        n.error = f.getReason();
        if (f.getErrorKind() != ErrorKind.ERROR_NONE) n.errorKind = f.getErrorKind();
        n.cancelled = f.getCancelled();
        n.endedAtMs = at;
      });
      case ADMITTED -> change(n -> { n.status = MigrationStatus.SETUP; n.phase = Phase.BEGIN; });
      case RESTARTED -> change(n -> n.epoch = e.getRestarted().getEpoch());
      case POSTCOPY_STARTED -> change(n -> {
        n.status = MigrationStatus.POSTCOPY_ACTIVE;
        n.postcopy = postcopy.begun(e.getPostcopyStarted().getPagesMissing());
      });
      case POSTCOPY_PAUSED -> change(n -> {
        n.status = MigrationStatus.POSTCOPY_PAUSED;
        var p = e.getPostcopyPaused();
        n.postcopy = postcopy.paused(p.getHost() + ": " + p.getReason(), p.getPagesMissing(), p.getSourceLost());
      });
      case RECOVERY_STARTED -> change(n -> {
        n.status = MigrationStatus.POSTCOPY_RECOVER;
        n.postcopy = postcopy.recovering(e.getRecoveryStarted().getAttempt());
      });
      case POSTCOPY_RESUMED -> change(n -> {
        n.status = MigrationStatus.POSTCOPY_ACTIVE;
        n.postcopy = postcopy.resumed();
      });
      case POSTCOPY_COMPLETED -> change(n -> {
        n.status = MigrationStatus.POSTCOPY_ACTIVE;
        n.postcopy = postcopy.completed(e.getPostcopyCompleted().getResult());
      });
      case PARAMETERS_CHANGED -> change(n -> n.parameters = e.getParametersChanged().getParameters());
      case CANCEL_REQUESTED, EVENT_NOT_SET -> this;
    };
  }

  /** The same state seen in another phase (for a decision taken before the phase is persisted). */
  MigrationState withPhase(Phase p) {
    return change(n -> n.phase = p);
  }

  /** A copy with some fields changed: the one place that lists every field. */
  private MigrationState change(java.util.function.Consumer<Next> edit) {
    Next n = new Next(this);
    edit.accept(n);
    return new MigrationState(n.migrationId, n.guestId, n.sourceHost, n.destinationHost, n.parameters, n.epoch,
        n.status, n.phase, n.begin, n.prepare, n.perform, n.activate, n.rounds, n.resumeOwner, n.ownerToken,
        n.failedPhase, n.error, n.errorKind, n.cancelled, n.startedAtMs, n.setupDoneAtMs, n.stunnedAtUs, n.endedAtMs, n.downtimeUs,
        n.cleanedUp, n.postcopy, n.sourceTeardownUs);
  }

  /** The fields of a state being derived inside change(); never escapes it. */
  private static final class Next {
    final String migrationId;
    final String guestId;
    final String sourceHost;
    final String destinationHost;
    MigrationParameters parameters;
    long epoch;
    MigrationStatus status;
    Phase phase;
    BeginCookie begin;
    PrepareCookie prepare;
    PerformResult perform;
    ActivateResult activate;
    List<RoundStats> rounds;
    ResumeOwner resumeOwner;
    String ownerToken;
    Phase failedPhase;
    String error;
    ErrorKind errorKind;
    boolean cancelled;
    final long startedAtMs;
    long setupDoneAtMs;
    long stunnedAtUs;
    long endedAtMs;
    long downtimeUs;
    Set<String> cleanedUp;
    PostcopyState postcopy;
    long sourceTeardownUs;

    Next(MigrationState s) {
      migrationId = s.migrationId;
      guestId = s.guestId;
      sourceHost = s.sourceHost;
      destinationHost = s.destinationHost;
      parameters = s.parameters;
      epoch = s.epoch;
      status = s.status;
      phase = s.phase;
      begin = s.begin;
      prepare = s.prepare;
      perform = s.perform;
      activate = s.activate;
      rounds = s.rounds;
      resumeOwner = s.resumeOwner;
      ownerToken = s.ownerToken;
      failedPhase = s.failedPhase;
      error = s.error;
      errorKind = s.errorKind;
      cancelled = s.cancelled;
      startedAtMs = s.startedAtMs;
      setupDoneAtMs = s.setupDoneAtMs;
      stunnedAtUs = s.stunnedAtUs;
      endedAtMs = s.endedAtMs;
      downtimeUs = s.downtimeUs;
      cleanedUp = s.cleanedUp;
      postcopy = s.postcopy;
      sourceTeardownUs = s.sourceTeardownUs;
    }
  }
}
