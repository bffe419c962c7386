package org.livemig.it;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coordinator node crashes while a phase is pending, journal in an H2 file. The default run
 * keeps the takeover table's outcomes no other default test reaches (BEGIN rolls back, FINISH
 * completes); PERFORM's (the copy continues, some 55 s here) is CoordinatorProcessKillTest's,
 * with the coordinator's JVM killed for real. -Dcrash.phases=all adds PERFORM, PREPARE (rolls
 * back as BEGIN does) and CONFIRM (re-sent as FINISH's successor is; ConfirmRetryTest covers a
 * silent Confirm).
 */
class CoordinatorCrashTest extends CrashScenario {
  static Stream<String> phases() {
    return "all".equals(System.getProperty("crash.phases"))
        ? Stream.of("BEGIN", "PREPARE", "PERFORM", "FINISH", "CONFIRM")
        : Stream.of("BEGIN", "FINISH");
  }

  @ParameterizedTest
  @MethodSource("phases")
  void coordinatorNodeCrashesWhileAPhaseIsPending(String phase) throws Exception {
    crashAndRecover(phase, null);
  }
}
