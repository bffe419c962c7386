package org.livemig.engine.storage;

import java.util.EnumSet;
import java.util.Set;
import org.livemig.engine.guest.disk.DiskMirror;

/**
 * A disk move's state machine, as plain functions (the SvMotion seed's wish: stun and unstun are
 * states, nothing waits on a semaphore). Each phase has one action, run by the actor; the action's
 * end and the requests from outside (cancel, pivot, power off, a failed mirrored write) are the
 * only inputs. A request to end is remembered and taken once the running action ended; from then
 * on the next phase is the first cleanup step not yet done, so every step runs exactly once:
 *
 * <pre>
 * success:   CREATE_TARGET, BULK_COPY, [INSTALL_MIRROR], SYNC, READY, STUN, PIVOT, UNSTUN, CLOSE_SOURCE, DONE
 * migration: ... READY, STUN, PIVOT, AWAIT_COMMIT, UNSTUN, CLOSE_SOURCE, DONE (committed by Confirm)
 * failure, write-blocking mirror installed:  STUN_FOR_CLEANUP, REMOVE_MIRROR, CLOSE_TARGET, UNSTUN, DONE
 * failure before it (or background):        REMOVE_MIRROR, CLOSE_TARGET, DONE
 * failure while stunned for the pivot:      REMOVE_MIRROR, CLOSE_TARGET, UNSTUN, DONE
 * power off before the pivot:               POWER_OFF, REMOVE_MIRROR, CLOSE_TARGET, DONE
 * power off after the pivot:                POWER_OFF, CLOSE_SOURCE, DONE
 * migration rolled back after the pivot:    CLOSE_TARGET, UNSTUN, DONE (the source's file is the disk still)
 * </pre>
 *
 * <p>A storage-only move commits at its pivot: from then on the disk is the new file. A move that
 * is part of a migration (remote) commits only when the migration's Confirm succeeded: until then
 * the source may resume on its own file, so the pivot (the mirror removed at the switchover, the
 * destination's copy whole) is not yet the point of no return. Its disk stays stunned from the
 * pivot until the commit or the rollback: the migration pivots the disks before it stops the vCPUs
 * (so that neither the drain nor the pivot is downtime), and a write issued after the pivot would
 * reach the source's file alone.
 */
public final class StorageMove {
  private StorageMove() {}

  public enum Phase {
    CREATE_TARGET, BULK_COPY, INSTALL_MIRROR, SYNC, READY, STUN, PIVOT, UNSTUN, AWAIT_COMMIT, CLOSE_SOURCE,
    STUN_FOR_CLEANUP, REMOVE_MIRROR, CLOSE_TARGET, POWER_OFF, DONE
  }

  public enum Outcome { COMPLETED, FAILED, CANCELLED }

  /** What has happened to the guest's disk and the two files so far. */
  public enum Flag {
    PIVOT_REQUESTED, MIRROR_INSTALLED, STUNNED, PIVOTED, COMMITTED, POWERED_OFF, MIRROR_REMOVED, TARGET_CLOSED,
    SOURCE_CLOSED
  }

  /** Why the move ends early: the first reason wins, except that a power off always goes through. */
  public record End(Outcome outcome, String reason, boolean powerOff) {}

  public record State(Phase phase, DiskMirror.Mode mode, boolean autoPivot, boolean remote, Set<Flag> flags, End end) {
    public State {
      flags = Set.copyOf(flags);
    }

    public boolean has(Flag f) { return flags.contains(f); }

    public boolean ended() { return phase == Phase.DONE; }

    /** Once committed the move completed, whatever came later (a power off leaves the guest off on the target). */
    public Outcome outcome() {
      return has(Flag.COMMITTED) || end == null ? Outcome.COMPLETED : end.outcome();
    }

    State to(Phase p) { return new State(p, mode, autoPivot, remote, flags, end); }

    State with(End e) { return new State(phase, mode, autoPivot, remote, flags, e); }

    State plus(Flag add, Flag remove) {
      EnumSet<Flag> f = flags.isEmpty() ? EnumSet.noneOf(Flag.class) : EnumSet.copyOf(flags);
      if (add != null) f.add(add);
      if (remove != null) f.remove(remove);
      return new State(phase, mode, autoPivot, remote, f, end);
    }
  }

  /** A storage-only move on one host. */
  public static State start(DiskMirror.Mode mode, boolean autoPivot) {
    return new State(Phase.CREATE_TARGET, mode, autoPivot, false, Set.of(), null);
  }

  /** A disk's part of a migration: pivoted at the switchover when asked, committed by Confirm. */
  public static State startRemote(DiskMirror.Mode mode) {
    return new State(Phase.CREATE_TARGET, mode, false, true, Set.of(), null);
  }

  /** An operator asks to pivot (a move started with manual pivot waits in READY for this). */
  public static State pivotRequested(State s) {
    return s.ended() || s.end() != null ? s : s.plus(Flag.PIVOT_REQUESTED, null);
  }

  /**
   * A request to end the move (cancel, failure, power off), taken when the running action ends.
   * Once committed only a power off still matters: the move completed on the target.
   */
  public static State endRequested(State s, End e) {
    if (s.ended()) return s;
    if (s.end() == null) return s.has(Flag.COMMITTED) && !e.powerOff() ? s : s.with(e);
    if (e.powerOff() && !s.end().powerOff()) return s.with(new End(s.end().outcome(), s.end().reason() + "; " + e.reason(), true));
    return s;
  }

  /** Whether the running action should stop early: an end it must make way for, or the pivot is due. */
  public static boolean shouldStop(State s) {
    boolean ending = s.end() != null && (!s.has(Flag.COMMITTED) || s.end().powerOff());
    return ending || (s.phase() == Phase.READY && (s.autoPivot() || s.has(Flag.PIVOT_REQUESTED)));
  }

  /**
   * The running phase's action ended (error null if it did what it should): the next phase. An
   * error before the commit fails the move; one in a cleanup step, or after the commit, is the
   * actor's to log: the step counts as done, so cleanup never loops.
   */
  public static State completed(State s, String error) {
    if (s.ended()) return s;
    boolean ok = error == null;
    State done = applied(s, ok);
    if (!ok && done.end() == null && !done.has(Flag.COMMITTED)) {
      done = done.with(new End(Outcome.FAILED, s.phase().name().toLowerCase() + ": " + error, false));
    }
    return done.to(next(done));
  }

  /** The flags a phase's action changed. */
  private static State applied(State s, boolean ok) {
    return switch (s.phase()) {
      case INSTALL_MIRROR -> ok ? s.plus(Flag.MIRROR_INSTALLED, null) : s;
      case STUN, STUN_FOR_CLEANUP -> s.plus(Flag.STUNNED, null); // even a drain that timed out: it issues nothing
      case PIVOT -> ok ? s.plus(Flag.PIVOTED, Flag.MIRROR_INSTALLED).plus(Flag.MIRROR_REMOVED, null)
          .plus(s.remote() ? null : Flag.COMMITTED, null) : s;
      case AWAIT_COMMIT -> ok ? s.plus(Flag.COMMITTED, null) : s;
      case REMOVE_MIRROR -> s.plus(Flag.MIRROR_REMOVED, Flag.MIRROR_INSTALLED);
      case CLOSE_TARGET -> s.plus(Flag.TARGET_CLOSED, null);
      case CLOSE_SOURCE -> s.plus(Flag.SOURCE_CLOSED, null);
      case UNSTUN -> s.plus(null, Flag.STUNNED);
      case POWER_OFF -> s.plus(Flag.POWERED_OFF, Flag.STUNNED);
      default -> s;
    };
  }

  private static Phase next(State s) {
    End e = s.end();
    if (e != null && e.powerOff() && !s.has(Flag.POWERED_OFF)) return Phase.POWER_OFF;
    if (s.has(Flag.COMMITTED)) return afterCommit(s);
    if (e != null) return cleanup(s);
    return switch (s.phase()) {
      case CREATE_TARGET -> Phase.BULK_COPY;
      case BULK_COPY -> s.mode() == DiskMirror.Mode.WRITE_BLOCKING ? Phase.INSTALL_MIRROR : Phase.SYNC;
      case INSTALL_MIRROR -> Phase.SYNC;
      case SYNC -> Phase.READY;
      case READY -> Phase.STUN;
      case STUN -> Phase.PIVOT;
      case PIVOT -> s.remote() ? Phase.AWAIT_COMMIT : Phase.UNSTUN; // remote: stunned until Confirm decides
      default -> throw new IllegalStateException("no phase after " + s.phase() + " on the way to the commit");
    };
  }

  private static Phase afterCommit(State s) {
    if (s.has(Flag.STUNNED)) return Phase.UNSTUN;
    if (!s.has(Flag.SOURCE_CLOSED)) return Phase.CLOSE_SOURCE;
    return Phase.DONE;
  }

  /**
   * The first cleanup step not yet done of a move that ends before its pivot. A write-blocking
   * mirror may have writes in flight to the target: stun first, so that none is when it closes.
   */
  private static Phase cleanup(State s) {
    boolean off = s.has(Flag.POWERED_OFF);
    if (s.has(Flag.MIRROR_INSTALLED) && !s.has(Flag.STUNNED) && !off) return Phase.STUN_FOR_CLEANUP;
    if (!s.has(Flag.MIRROR_REMOVED)) return Phase.REMOVE_MIRROR;
    if (!s.has(Flag.TARGET_CLOSED)) return Phase.CLOSE_TARGET;
    if (s.has(Flag.STUNNED) && !off) return Phase.UNSTUN;
    return Phase.DONE;
  }
}
