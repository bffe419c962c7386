package org.livemig.engine.coordinator;

import org.livemig.messages.Phase;
import org.livemig.messages.ResumeOwner;

/**
 * Who may run the guest: the rules every failure path leans on, as plain functions of the
 * journal's state and what this incarnation sent. Once the destination may run the guest, the
 * source resumes only on the destination's definite no (an error answer, an incomplete copy,
 * or its host gone from the cluster), never on silence or on the source's own failure.
 */
final class Ownership {
  private Ownership() {}

  /**
   * Whether the destination may run the guest. True when this incarnation sent Activate or a
   * Finish that runs on completion (see Step.FINISH), or the destination owns the guest; and in
   * an incarnation that replayed a switchover marker it did not write (its predecessor may have
   * sent either just before it stopped).
   */
  static boolean mayHaveRun(MigrationState s, Unpersisted u) {
    if (s.rollingBack()) return false;
    return u.runPermitted || s.resumeOwner() == ResumeOwner.DESTINATION || (marked(s) && !u.markedHere);
  }

  /** The switchover marker is in the journal (its time is the source's report, never 0). */
  static boolean marked(MigrationState s) {
    return s.stunnedAtUs() != 0;
  }

  /**
   * A new incarnation's choice by the phase it replayed: Begin and Prepare roll back; Perform
   * continues unless configured to roll back, and never rolls back once the marker is written
   * (a Finish that runs the guest may be out); later phases re-send their command.
   */
  static boolean rollBackOnTakeover(MigrationState s, boolean continuePerform) {
    if (s.rollingBack() || s.resumeOwner() == ResumeOwner.DESTINATION) return false;
    return s.phase() == Phase.BEGIN || s.phase() == Phase.PREPARE
        || (s.phase() == Phase.PERFORM && !continuePerform && !marked(s));
  }

  /**
   * Silence from a host (a timeout) while the switchover is unsettled: the destination may run the
   * guest, so resuming the source could leave two running. The step is asked again.
   */
  static boolean askAgainOnSilence(MigrationState s, Unpersisted u) {
    return !s.inPostcopy() && mayHaveRun(s, u) && s.activate() == null;
  }

  /**
   * Silence from the source after the guest runs on the destination: its stunned copy must still
   * be destroyed, so Confirm is asked again (until it answers or its host leaves the cluster)
   * instead of declaring the migration complete with a copy left behind. Likewise a power off's
   * Confirm: until the source answers, nobody knows the guest is off.
   */
  static boolean confirmAgainOnSilence(MigrationState s, Step step) {
    return step == Step.CONFIRM && ((s.resumeOwner() == ResumeOwner.DESTINATION && s.activate() != null)
        || (s.poweredOff() && !s.ended()));
  }

  /** Why a cancel is refused, or null when the migration may still roll back. */
  static String cancelRefusal(MigrationState s, Unpersisted u) {
    if (s.resumeOwner() == ResumeOwner.DESTINATION) {
      return "too late to cancel migration " + s.migrationId() + ": the destination owns the guest since switchover";
    }
    if (!s.rollingBack() && mayHaveRun(s, u)) {
      return "too late to cancel migration " + s.migrationId()
          + ": the destination may already run the guest; the switchover is being settled";
    }
    return null;
  }
}
