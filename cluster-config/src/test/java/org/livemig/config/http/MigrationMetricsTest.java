package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.PagesCompleteResult;
import org.livemig.messages.Phase;

/** One MigrationInfo -> the values and labels the metrics show, without actors or a registry. */
class MigrationMetricsTest {
  static MigrationInfo.Builder copying() {
    return MigrationInfo.newBuilder().setMigrationId("m-1").setGuestId("g-1").setSourceHost("host-a")
        .setDestinationHost("host-b").setStatus(MigrationStatus.ACTIVE).setPhase(Phase.PERFORM)
        .setTotalBytes(64L << 20).setTransferredBytes(40L << 20).setRemainingBytes(30L << 20)
        .setDirtyRateBytesPerSecond(5_000_000).setThroughputBytesPerSecond(120_000_000).setExpectedDowntimeMs(250)
        .setRounds(3).setThrottlePercent(30).setTotalTimeMs(1500).setDowntimeMs(-1);
  }

  @Test
  void aRunningMigrationsGaugesAreItsProgressInBaseUnits() {
    MigrationInfo i = copying().build();
    var v = MigrationMetrics.values(i);
    assertEquals(64L << 20, v.dataTotalBytes());
    assertEquals(40L << 20, v.dataProcessedBytes());
    assertEquals(30L << 20, v.dataRemainingBytes());
    assertEquals(5_000_000, v.dirtyRateBytesPerSecond());
    assertEquals(120_000_000, v.transferRateBytesPerSecond());
    assertEquals(0.25, v.expectedDowntimeSeconds(), 1e-9);
    assertEquals(3, v.rounds());
    assertEquals(0.30, v.throttleRatio(), 1e-9);
    assertEquals(0, v.postcopyFaults(), "a precopy migration takes no postcopy faults");
    assertEquals(0, v.bandwidthShareBytesPerSecond(), "no host link limit, no own cap: unlimited");
    assertEquals(12_000_000, MigrationMetrics.values(copying().setBandwidthShareBytesPerSecond(12_000_000).build())
        .bandwidthShareBytesPerSecond());
    assertEquals("perform", MigrationMetrics.phase(i));
    assertEquals(java.util.List.of("m-1", "g-1", "host-a", "host-b"), MigrationMetrics.labelValues(i));
    assertTrue(MigrationMetrics.ending(i).isEmpty(), "it has not ended");
  }

  @Test
  void beforeTheFirstPageEverythingRemains() {
    var v = MigrationMetrics.values(copying().setPhase(Phase.PREPARE).setStatus(MigrationStatus.SETUP)
        .setTransferredBytes(0).setRemainingBytes(0).build());
    assertEquals(64L << 20, v.dataRemainingBytes(), "nothing sent yet: the whole guest remains");
  }

  @Test
  void postcopyFaultsAreUnknownUntilEveryPageArrived() {
    var paging = copying().setStatus(MigrationStatus.POSTCOPY_ACTIVE).setPhase(Phase.CONFIRM).setPostcopy(true)
        .setRemainingBytes(8L << 20);
    var during = MigrationMetrics.values(paging.build());
    assertTrue(Double.isNaN(during.postcopyFaults()), "not known before the destination's result");
    assertEquals(8L << 20, during.dataRemainingBytes(), "in postcopy what remains is what the destination lacks");
    var after = MigrationMetrics.values(paging.setPostcopyResult(PagesCompleteResult.newBuilder().setFaults(412))
        .setRemainingBytes(0).build());
    assertEquals(412, after.postcopyFaults());
  }

  @Test
  void aCompletedMigrationEndsWithItsTimesAndNoFailureLabels() {
    var end = MigrationMetrics.ending(copying().setStatus(MigrationStatus.COMPLETED).setPhase(Phase.CONFIRM)
        .setDowntimeMs(42).setTotalTimeMs(2500).build()).orElseThrow();
    assertEquals("completed", end.outcome());
    assertEquals(Duration.ofMillis(2500), end.total());
    assertEquals(Optional.of(Duration.ofMillis(42)), end.downtime());
  }

  @Test
  void aFailureIsLabelledByPhaseAndKindNeverByItsText() {
    var failed = copying().setStatus(MigrationStatus.FAILED).setPhase(Phase.CONFIRM).setFailedPhase(Phase.PREPARE)
        .setErrorKind(ErrorKind.ERROR_HOST_UNREACHABLE).setError("PREPARE: host host-b at 10.0.0.7 did not answer "
            + "within 5000 ms").build();
    var end = MigrationMetrics.ending(failed).orElseThrow();
    assertEquals("failed", end.outcome());
    assertEquals("prepare", end.failedPhase(), "the phase it failed in, not the rollback's Confirm");
    assertEquals("host_unreachable", end.errorKind());
    assertEquals(Optional.empty(), end.downtime(), "the source ran on: no downtime measured");

    var inPostcopy = MigrationMetrics.ending(failed.toBuilder().setPostcopy(true).setFailedPhase(Phase.CONFIRM)
        .setErrorKind(ErrorKind.ERROR_NONE).build()).orElseThrow();
    assertEquals("postcopy", inPostcopy.failedPhase());
    assertEquals("none", inPostcopy.errorKind());

    var cancelled = MigrationMetrics.ending(copying().setStatus(MigrationStatus.CANCELLED)
        .setFailedPhase(Phase.PERFORM).build()).orElseThrow();
    assertEquals("cancelled", cancelled.outcome());
    assertEquals("perform", cancelled.failedPhase());
  }

  @Test
  void everyLabelValueComesFromASmallFixedSet() {
    for (Phase p : Phase.values()) {
      if (p == Phase.UNRECOGNIZED) continue;
      for (ErrorKind k : ErrorKind.values()) {
        if (k == ErrorKind.UNRECOGNIZED) continue;
        for (boolean postcopy : new boolean[] {false, true}) {
          var end = MigrationMetrics.ending(copying().setStatus(MigrationStatus.FAILED).setFailedPhase(p)
              .setErrorKind(k).setPostcopy(postcopy).setError("free text " + p + k).build()).orElseThrow();
          assertTrue(end.failedPhase().matches("none|begin|prepare|perform|finish|confirm|postcopy|other"),
              end.failedPhase());
          assertTrue(end.errorKind().matches("[a-z_]+") && end.errorKind().length() < 20, end.errorKind());
        }
      }
    }
  }
}
