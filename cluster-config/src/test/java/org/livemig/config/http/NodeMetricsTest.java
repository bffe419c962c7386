package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.*;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/** NodeMetrics' binding fed the coordinators' notices directly (no actors): gauges come and go, ends count once. */
class NodeMetricsTest {
  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final NodeMetrics metrics = new NodeMetrics(registry, null);

  Gauge gauge(String name, String migrationId) {
    return registry.find(name).tag("migration_id", migrationId).gauge();
  }

  double outcomes(String outcome) {
    return registry.get("livemig_migrations_total").tag("outcome", outcome).counter().count();
  }

  @Test
  void aMigrationsGaugesFollowItWhileItRunsAndGoWhenItEnds() {
    MigrationInfo running = MigrationMetricsTest.copying().build();
    metrics.published(running);
    assertEquals(40L << 20, gauge("livemig_migration_data_processed_bytes", "m-1").value());
    assertEquals("host-b", gauge("livemig_migration_data_total_bytes", "m-1").getId().getTag("destination_host"));
    assertEquals(1, registry.get("livemig_migrations_in_phase").tag("phase", "perform").gauge().value());
    metrics.published(running.toBuilder().setTransferredBytes(50L << 20).setRemainingBytes(14L << 20).build());
    assertEquals(50L << 20, gauge("livemig_migration_data_processed_bytes", "m-1").value(), "the latest sample");
    assertEquals(14L << 20, gauge("livemig_migration_data_remaining_bytes", "m-1").value());

    MigrationInfo completed = running.toBuilder().setStatus(MigrationStatus.COMPLETED).setPhase(Phase.CONFIRM)
        .setDowntimeMs(30).setTotalTimeMs(2000).build();
    metrics.published(completed);
    assertNull(gauge("livemig_migration_data_processed_bytes", "m-1"), "an ended migration has no gauges");
    assertFalse(metrics.text().contains("m-1"), metrics.text());
    assertEquals(1, outcomes("completed"));
    assertEquals(0, registry.get("livemig_migrations_in_phase").tag("phase", "perform").gauge().value());
    Timer downtime = registry.get("livemig_migrations_downtime_seconds").timer();
    assertEquals(1, downtime.count());
    assertEquals(0.030, downtime.totalTime(java.util.concurrent.TimeUnit.SECONDS), 1e-9);
    assertEquals(1, registry.get("livemig_migrations_duration_seconds").tag("outcome", "completed").timer().count());

    // The end published again (its cleanup moved the phase), or heard by a node that never ran it: not counted.
    metrics.published(completed);
    metrics.published(completed.toBuilder().setMigrationId("m-elsewhere").build());
    assertEquals(1, outcomes("completed"));
  }

  @Test
  void aCoordinatorThatLeavesTheNodeTakesItsGaugesAndCountsNothing() {
    metrics.published(MigrationMetricsTest.copying().setMigrationId("m-moved").build());
    assertNotNull(gauge("livemig_migration_rounds", "m-moved"));
    metrics.stopped("m-moved");
    assertNull(gauge("livemig_migration_rounds", "m-moved"));
    // It ends on the node it moved to; this one never saw it end.
    metrics.published(MigrationMetricsTest.copying().setMigrationId("m-moved").setStatus(MigrationStatus.FAILED)
        .build());
    for (String outcome : MigrationMetrics.OUTCOMES) assertEquals(0, outcomes(outcome), outcome);
  }

  @Test
  void failuresAreCountedByPhaseAndKind() {
    MigrationInfo m = MigrationMetricsTest.copying().setMigrationId("m-f").build();
    metrics.published(m);
    metrics.published(m.toBuilder().setStatus(MigrationStatus.FAILED).setPhase(Phase.CONFIRM)
        .setFailedPhase(Phase.PERFORM).setErrorKind(ErrorKind.ERROR_HOST_UNREACHABLE)
        .setError("PERFORM: source host host-a left the cluster").build());
    assertEquals(1, outcomes("failed"));
    Counter failed = registry.get("livemig_migrations_failed_total").counter();
    assertEquals(1, failed.count());
    assertEquals("perform", failed.getId().getTag("phase"));
    assertEquals("host_unreachable", failed.getId().getTag("error_kind"));
    assertFalse(metrics.text().contains("left the cluster"), "never the error's text");
  }

  @Test
  void theHostGaugesShowTheAgentsLastAnswer() {
    metrics.hostGauges("host-a");
    assertTrue(Double.isNaN(registry.get("livemig_host_guests").gauge().value()), "unknown until the agent answered");
    metrics.hostLoad(new HostAgent.Load("host-a", 2, 96L << 20, 1L << 30, 3));
    assertEquals(2, registry.get("livemig_host_guests").tag("host", "host-a").gauge().value());
    assertEquals(96L << 20, registry.get("livemig_host_memory_reserved_bytes").gauge().value());
    assertEquals(1L << 30, registry.get("livemig_host_memory_capacity_bytes").gauge().value());
    assertEquals(3, registry.get("livemig_host_data_channels").gauge().value());
  }
}
