package org.livemig.it;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Coordinator node crashes in every phase, journal in an H2 file. */
class CoordinatorCrashTest extends CrashScenario {
  @ParameterizedTest
  @ValueSource(strings = {"BEGIN", "PREPARE", "PERFORM", "FINISH", "CONFIRM"})
  void coordinatorNodeCrashesWhileAPhaseIsPending(String phase) throws Exception {
    crashAndRecover(phase, null);
  }
}
