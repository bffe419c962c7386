package org.livemig.config.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.knowm.xchart.XYChart;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.RoundStats;

/** The report's chart draws the disks' copy and the memory's rounds together. */
class MigrationReportTest {
  private static final long MIB = 1024 * 1024;

  private static MigrationInfo.Builder migration() {
    return MigrationInfo.newBuilder().setMigrationId("m").setGuestId("g").setSourceHost("a").setDestinationHost("b")
        .setStatus(MigrationStatus.COMPLETED).setTotalBytes(64 * MIB).setDowntimeMs(40)
        .addRoundHistory(RoundStats.newBuilder().setRound(1).setPagesSent(16384).setBytesSent(64 * MIB)
            .setBandwidthBytesPerSecond(100_000_000).setDirtyPagesAfter(256))
        .addRoundHistory(RoundStats.newBuilder().setRound(2).setPagesSent(256).setBytesSent(MIB)
            .setBandwidthBytesPerSecond(90_000_000));
  }

  @Test
  void theDisksCopyIsRoundZeroAndWhatTheyHoldStaysDrawnAcrossTheRounds() {
    MigrationInfo info = migration()
        .addDisks(DiskMoveStatus.newBuilder().setDiskId("root").setMode("write-blocking").setCopiedBytes(48 * MIB)
            .setRateBytesPerSecond(30_000_000).setMirroredWrites(120).setOutcome("COMPLETED"))
        .addDisks(DiskMoveStatus.newBuilder().setDiskId("data").setMode("write-blocking").setCopiedBytes(16 * MIB)
            .setRateBytesPerSecond(10_000_000).setOutcome("COMPLETED"))
        .build();
    XYChart c = MigrationReport.chart(info);

    var disks = c.getSeriesMap().get("disks copied (MiB)");
    assertTrue(disks != null, "a disk series: " + c.getSeriesMap().keySet());
    assertEquals(3, disks.getXData().length, "round 0 (the disks) and the two memory rounds");
    for (double y : disks.getYData()) assertEquals(64.0, y, 1e-9);
    var throughput = c.getSeriesMap().get("throughput (MB/s)");
    assertEquals(0.0, throughput.getXData()[0]);
    assertEquals(40.0, throughput.getYData()[0], 1e-9, "round 0's rate is the disks' copy rate");
    assertEquals(100.0, throughput.getYData()[1], 1e-9);
    assertEquals(64.0, c.getSeriesMap().get("remaining (MiB)").getYData()[0], 1e-9, "the whole memory before round 1");
    assertFalse(MigrationReport.blackout(info).contains("disk pivot"), "no pivot measured");
    var pivoted = info.toBuilder().setBlackout(org.livemig.messages.Blackout.newBuilder().setStunUs(1000)
        .setDiskPivotUs(2500)).build();
    assertTrue(MigrationReport.blackout(pivoted).endsWith("; disk pivot before the stun (I/O held, vCPUs running): 2.5 ms"),
        MigrationReport.blackout(pivoted));
    assertTrue(MigrationReport.disk(info.getDisks(0)).startsWith("disk root (write-blocking): 48.0 MiB copied at 30.0 MB/s"),
        MigrationReport.disk(info.getDisks(0)));
  }

  @Test
  void withoutDisksTheChartIsTheRoundsAlone() {
    XYChart c = MigrationReport.chart(migration().build());
    assertFalse(c.getSeriesMap().containsKey("disks copied (MiB)"));
    assertEquals(2, c.getSeriesMap().get("throughput (MB/s)").getXData().length);
  }
}
