package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;

/**
 * The primary's host dies (its JVM halts, as after kill -9) at each point of one checkpoint's
 * cycle (livemig.host.faults.replication): before anything of it is sent, with half its pages
 * sent, all sent but not acknowledged, acknowledged with its outputs not yet released. After
 * each the guest runs on host-b from the right checkpoint, matches its oracle, never ran twice at
 * once, and none of host-a's released outputs lies beyond what host-b resumed from.
 *
 * <p>A cluster of four JVMs per point (some 40 s each), so they run only with
 * {@code -Dprotection.cells=all} (or a comma list of points); the default run has the
 * "acknowledged" point in ProtectionProcessTest.
 */
class ProtectionFaultPointTest {
  private static final long CHECKPOINT = 40;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"before-send", "mid-send", "sent", "acknowledged"})
  void thePrimaryDiesAtAPointOfACheckpointAndTheSecondaryRunsFromTheLastWholeOne(String point, @TempDir Path dir)
      throws Exception {
    String cells = System.getProperty("protection.cells", "");
    Assumptions.assumeTrue(cells.equals("all") || Arrays.asList(cells.split(",")).contains(point),
        "runs with -Dprotection.cells=all or " + point);
    List<String> halt = List.of("livemig.host.faults.replication.halt-at = " + point,
        "livemig.host.faults.replication.halt-at-checkpoint = " + CHECKPOINT);
    try (ProcessCluster cluster = new ProcessCluster(dir, Map.of("host-a", halt))) {
      ProtectedGuest g = new ProtectedGuest(cluster, "fp");
      g.create();
      assertEquals(202, g.protect("host-a", "host-b", 50).statusCode());
      HostProcess primary = cluster.process("host-a");
      assertTrue(primary.process().waitFor(120, TimeUnit.SECONDS), "host-a halts at checkpoint " + CHECKPOINT);
      long diedAt = System.currentTimeMillis();
      assertEquals(137, primary.process().exitValue());
      assertTrue(primary.log().stream().anyMatch(l -> l.contains("halting at")), "it halted at the fault point");

      ProtectionInfo over = g.await(i -> i.getState() == ProtectionState.FAILED_OVER, Duration.ofSeconds(90));
      long resumed = over.getFailoverCheckpoint();
      switch (point) {
        // Nothing of it, or a part, reached host-b: it runs from the one before.
        case "before-send", "mid-send" -> assertEquals(CHECKPOINT - 1, resumed, over.toString());
        // All of it was on the wire: applied if it arrived whole before the connection went, else not.
        case "sent" -> assertTrue(resumed == CHECKPOINT - 1 || resumed == CHECKPOINT, over.toString());
        // host-b applied and acknowledged it: it runs from it, although host-a never released its outputs.
        default -> assertEquals(CHECKPOINT, resumed, over.toString());
      }
      assertTrue(over.getReason().contains("its lease ran out"), over.getReason());
      g.assertFailedOverToB(over, diedAt * 1000);
    }
  }
}
