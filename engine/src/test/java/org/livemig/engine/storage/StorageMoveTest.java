package org.livemig.engine.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.disk.DiskMirror.Mode;
import org.livemig.engine.storage.StorageMove.End;
import org.livemig.engine.storage.StorageMove.Outcome;
import org.livemig.engine.storage.StorageMove.Phase;
import org.livemig.engine.storage.StorageMove.State;

/** The disk move's state machine as a table: each row a path, each cleanup step exactly once. */
class StorageMoveTest {
  /** Runs a script: "ok" / "err" end the running action; "cancel", "off", "mirror-fail", "pivot" arrive from outside. */
  private static Run run(Mode mode, boolean autoPivot, String... script) {
    return run(StorageMove.start(mode, autoPivot), script);
  }

  private static Run run(State start, String... script) {
    State s = start;
    List<Phase> path = new ArrayList<>(List.of(s.phase()));
    for (String step : script) {
      State before = s;
      s = switch (step) {
        case "ok" -> StorageMove.completed(s, null);
        case "err" -> StorageMove.completed(s, "I/O error");
        case "cancel" -> StorageMove.endRequested(s, new End(Outcome.CANCELLED, "cancelled", false));
        case "off" -> StorageMove.endRequested(s, new End(Outcome.CANCELLED, "powered off", true));
        case "mirror-fail" -> StorageMove.endRequested(s, new End(Outcome.FAILED, "target write failed", false));
        case "pivot" -> StorageMove.pivotRequested(s);
        default -> throw new IllegalArgumentException(step);
      };
      if (s.phase() != before.phase()) path.add(s.phase());
    }
    return new Run(s, path);
  }

  private record Run(State state, List<Phase> path) {}

  /** Runs ok until the end: the phases still to come, for a path's cleanup. */
  private static Run finish(Run r) {
    State s = r.state();
    List<Phase> path = new ArrayList<>(r.path());
    for (int i = 0; i < 20 && !s.ended(); i++) {
      s = StorageMove.completed(s, null);
      path.add(s.phase());
    }
    assertTrue(s.ended(), "ends: " + path);
    return new Run(s, path);
  }

  private static List<Phase> phases(String names) {
    return java.util.Arrays.stream(names.split(" ")).map(Phase::valueOf).toList();
  }

  @Test
  void writeBlockingSuccess() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT UNSTUN CLOSE_SOURCE DONE"), r.path());
    assertEquals(Outcome.COMPLETED, r.state().outcome());
  }

  @Test
  void backgroundSuccessInstallsNoSynchronousMirror() {
    Run r = finish(run(Mode.BACKGROUND, true));
    assertEquals(phases("CREATE_TARGET BULK_COPY SYNC READY STUN PIVOT UNSTUN CLOSE_SOURCE DONE"), r.path());
  }

  @Test
  void createTargetFailsNothingToUndoButTheFile() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "err"));
    assertEquals(phases("CREATE_TARGET REMOVE_MIRROR CLOSE_TARGET DONE"), r.path());
    assertEquals(Outcome.FAILED, r.state().outcome());
    assertTrue(r.state().end().reason().startsWith("create_target: "), r.state().end().reason());
  }

  @Test
  void copyFailsBeforeTheMirrorIsInstalledNoStun() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY REMOVE_MIRROR CLOSE_TARGET DONE"), r.path());
    assertEquals(Outcome.FAILED, r.state().outcome());
  }

  @Test
  void failureAfterTheMirrorIsInstalledStunsForCleanupThenUnstuns() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "ok", "ok", "mirror-fail", "ok"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC STUN_FOR_CLEANUP REMOVE_MIRROR CLOSE_TARGET UNSTUN"
        + " DONE"), r.path());
    assertEquals(Outcome.FAILED, r.state().outcome());
    assertEquals("target write failed", r.state().end().reason());
  }

  @Test
  void backgroundFailureAfterTheFirstPassNeedsNoStun() {
    Run r = finish(run(Mode.BACKGROUND, true, "ok", "ok", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY SYNC REMOVE_MIRROR CLOSE_TARGET DONE"), r.path());
  }

  @Test
  void cancelInBulkCopyWaitsForTheCopyToStopThenCleansUp() {
    Run r = run(Mode.WRITE_BLOCKING, true, "ok", "cancel");
    assertEquals(Phase.BULK_COPY, r.state().phase(), "the copy's action ends first");
    assertTrue(StorageMove.shouldStop(r.state()));
    r = finish(r);
    assertEquals(phases("CREATE_TARGET BULK_COPY REMOVE_MIRROR CLOSE_TARGET DONE"), r.path());
    assertEquals(Outcome.CANCELLED, r.state().outcome());
  }

  @Test
  void manualPivotWaitsInReadyUntilAsked() {
    Run r = run(Mode.WRITE_BLOCKING, false, "ok", "ok", "ok", "ok");
    assertEquals(Phase.READY, r.state().phase());
    assertFalse(StorageMove.shouldStop(r.state()), "READY holds until a pivot or an end");
    assertTrue(StorageMove.shouldStop(StorageMove.pivotRequested(r.state())));
    Run pivoted = finish(run(Mode.WRITE_BLOCKING, false, "ok", "ok", "ok", "ok", "pivot"));
    assertEquals(Outcome.COMPLETED, pivoted.state().outcome());
  }

  @Test
  void cancelInReadyWithTheMirrorInstalled() {
    Run r = finish(run(Mode.WRITE_BLOCKING, false, "ok", "ok", "ok", "ok", "cancel", "ok"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN_FOR_CLEANUP REMOVE_MIRROR CLOSE_TARGET"
        + " UNSTUN DONE"), r.path());
    assertEquals(Outcome.CANCELLED, r.state().outcome());
  }

  @Test
  void drainTimeoutAtThePivotFailsWhileStunned() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "ok", "ok", "ok", "ok", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN REMOVE_MIRROR CLOSE_TARGET UNSTUN DONE"),
        r.path());
    assertEquals(Outcome.FAILED, r.state().outcome());
  }

  @Test
  void pivotFailureCleansUpWithoutASecondStun() {
    Run r = finish(run(Mode.BACKGROUND, true, "ok", "ok", "ok", "ok", "ok", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY SYNC READY STUN PIVOT REMOVE_MIRROR CLOSE_TARGET UNSTUN DONE"), r.path());
  }

  @Test
  void cancelAfterThePivotIsTooLate() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "ok", "ok", "ok", "ok", "ok", "ok", "cancel"));
    assertEquals(Outcome.COMPLETED, r.state().outcome());
    assertEquals(null, r.state().end(), "ignored: nothing to undo");
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT UNSTUN CLOSE_SOURCE DONE"), r.path());
  }

  @Test
  void cancelDuringThePivotThatSucceededStillCompletes() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "ok", "ok", "ok", "ok", "ok", "cancel", "ok"));
    assertEquals(Outcome.COMPLETED, r.state().outcome());
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT UNSTUN CLOSE_SOURCE DONE"), r.path());
  }

  @Test
  void powerOffBeforeThePivotNothingResumes() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "ok", "ok", "off", "ok"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC POWER_OFF REMOVE_MIRROR CLOSE_TARGET DONE"), r.path());
    assertEquals(Outcome.CANCELLED, r.state().outcome());
    assertTrue(r.state().has(StorageMove.Flag.POWERED_OFF));
  }

  @Test
  void powerOffDuringCleanupSkipsTheUnstunAndRepeatsNoStep() {
    Run r = finish(run(Mode.WRITE_BLOCKING, false, "ok", "ok", "ok", "ok", "cancel", "ok", "off", "ok"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN_FOR_CLEANUP POWER_OFF REMOVE_MIRROR"
        + " CLOSE_TARGET DONE"), r.path());
    assertEquals(Outcome.CANCELLED, r.state().outcome());
    assertTrue(r.state().end().reason().contains("powered off"), r.state().end().reason());
  }

  @Test
  void powerOffDuringThePivotClosesTheSourceAsOnSuccess() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "ok", "ok", "ok", "ok", "ok", "off"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT POWER_OFF CLOSE_SOURCE DONE"),
        r.path());
    assertEquals(Outcome.COMPLETED, r.state().outcome());
  }

  @Test
  void aMigrationsDiskPivotsAtTheSwitchoverAndCommitsAtConfirm() {
    Run r = run(StorageMove.startRemote(Mode.WRITE_BLOCKING), "ok", "ok", "ok", "ok");
    assertEquals(Phase.READY, r.state().phase());
    assertFalse(StorageMove.shouldStop(r.state()), "READY until the switchover asks for the pivot");
    r = run(StorageMove.startRemote(Mode.WRITE_BLOCKING), "ok", "ok", "ok", "ok", "pivot", "ok", "ok", "ok");
    assertEquals(Phase.AWAIT_COMMIT, r.state().phase());
    assertTrue(r.state().has(StorageMove.Flag.STUNNED), "pivoted before the vCPUs stop: no write may reach the "
        + "source's file alone until Confirm decides");
    assertEquals(Outcome.COMPLETED, finish(r).state().outcome());
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT AWAIT_COMMIT UNSTUN CLOSE_SOURCE"
        + " DONE"), finish(r).path());
  }

  @Test
  void aMigrationRolledBackAfterThePivotKeepsTheSourceFile() {
    // The rollback stops AWAIT_COMMIT without the commit: its action ends with an error.
    Run r = finish(run(StorageMove.startRemote(Mode.BACKGROUND), "ok", "ok", "ok", "pivot", "ok", "ok", "ok",
        "cancel", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY SYNC READY STUN PIVOT AWAIT_COMMIT CLOSE_TARGET UNSTUN DONE"), r.path());
    assertEquals(Outcome.CANCELLED, r.state().outcome());
    assertFalse(r.state().has(StorageMove.Flag.SOURCE_CLOSED), "the source's file is the disk still");
  }

  @Test
  void aMigrationsDiskPoweredOffAfterThePivotClosesTheTargetAndIssuesNothingMore() {
    Run r = finish(run(StorageMove.startRemote(Mode.WRITE_BLOCKING), "ok", "ok", "ok", "ok", "pivot", "ok", "ok", "ok",
        "off", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC READY STUN PIVOT AWAIT_COMMIT POWER_OFF CLOSE_TARGET"
        + " DONE"), r.path());
    assertFalse(r.state().has(StorageMove.Flag.SOURCE_CLOSED), "the guest is off on its source file");
  }

  @Test
  void aMigrationsDiskFailingBeforeTheSwitchoverCleansUpAsALocalMove() {
    Run r = finish(run(StorageMove.startRemote(Mode.WRITE_BLOCKING), "ok", "ok", "ok", "mirror-fail", "ok"));
    assertEquals(phases("CREATE_TARGET BULK_COPY INSTALL_MIRROR SYNC STUN_FOR_CLEANUP REMOVE_MIRROR CLOSE_TARGET UNSTUN"
        + " DONE"), r.path());
  }

  @Test
  void aFailingCleanupStepIsNotRetried() {
    Run r = finish(run(Mode.WRITE_BLOCKING, true, "ok", "err", "err", "err"));
    assertEquals(phases("CREATE_TARGET BULK_COPY REMOVE_MIRROR CLOSE_TARGET DONE"), r.path());
    assertTrue(r.state().end().reason().startsWith("bulk_copy: "), "the first error is the reason");
  }
}
