package org.livemig.config.http;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.ToDoubleFunction;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;

/**
 * What the metrics show of one migration, as plain functions of its MigrationInfo: its gauges
 * while it runs (in Prometheus base units, after KubeVirt's kubevirt_vmi_migration_*), and how it
 * ended, in labels of bounded cardinality (never the error's text). NodeMetrics binds them.
 */
final class MigrationMetrics {
  private MigrationMetrics() {}

  /** One running migration's values; NaN where nothing is known yet. */
  record Values(double dataTotalBytes, double dataProcessedBytes, double dataRemainingBytes,
      double dirtyRateBytesPerSecond, double transferRateBytesPerSecond, double expectedDowntimeSeconds,
      double rounds, double throttleRatio, double postcopyFaults, double bandwidthShareBytesPerSecond) {}

  /** A per-migration gauge: its Prometheus name, help text and value. */
  record Gauge(String name, String help, ToDoubleFunction<Values> value) {}

  static final List<Gauge> GAUGES = List.of(
      new Gauge("livemig_migration_data_total_bytes", "Guest memory to migrate", Values::dataTotalBytes),
      new Gauge("livemig_migration_data_processed_bytes", "Memory sent so far, pages sent again included",
          Values::dataProcessedBytes),
      new Gauge("livemig_migration_data_remaining_bytes", "Memory still to send (dirty pages; in postcopy the pages "
          + "the destination lacks)", Values::dataRemainingBytes),
      new Gauge("livemig_migration_dirty_memory_rate_bytes_per_second", "Rate at which the guest dirties memory "
          + "(last round)", Values::dirtyRateBytesPerSecond),
      new Gauge("livemig_migration_memory_transfer_rate_bytes_per_second", "Rate at which memory is sent",
          Values::transferRateBytesPerSecond),
      new Gauge("livemig_migration_expected_downtime_seconds", "Downtime a switchover would take now; the "
          + "measured one goes to livemig_migrations_downtime_seconds once completed", Values::expectedDowntimeSeconds),
      new Gauge("livemig_migration_rounds", "Precopy rounds so far", Values::rounds),
      new Gauge("livemig_migration_throttle_ratio", "Auto-converge throttle of the guest's vCPU time (0 to 0.99)",
          Values::throttleRatio),
      new Gauge("livemig_migration_postcopy_faults", "Destination page faults served over postcopy: 0 without "
          + "postcopy, NaN until every page arrived", Values::postcopyFaults),
      new Gauge("livemig_migration_bandwidth_share_bytes_per_second", "What the migration may send at now: its "
          + "share of the source host's link within its own cap; 0 = unlimited or not copying",
          Values::bandwidthShareBytesPerSecond));

  /** Label names of every per-migration series, in the order of labelValues. */
  static final List<String> LABELS = List.of("migration_id", "guest_id", "source_host", "destination_host");

  static List<String> labelValues(MigrationInfo i) {
    return List.of(i.getMigrationId(), i.getGuestId(), i.getSourceHost(), i.getDestinationHost());
  }

  static boolean ended(MigrationInfo i) {
    return org.livemig.engine.coordinator.MigrationState.ended(i.getStatus());
  }

  static Values values(MigrationInfo i) {
    // Nothing sent yet: all of it remains (the status says 0 until the first sample).
    long remaining = i.getTransferredBytes() == 0 && !i.getPostcopy() ? i.getTotalBytes() : i.getRemainingBytes();
    double faults = i.hasPostcopyResult() ? i.getPostcopyResult().getFaults() : i.getPostcopy() ? Double.NaN : 0;
    return new Values(i.getTotalBytes(), i.getTransferredBytes(), remaining, i.getDirtyRateBytesPerSecond(),
        i.getThroughputBytesPerSecond(), i.getExpectedDowntimeMs() / 1000.0, i.getRounds(),
        i.getThrottlePercent() / 100.0, faults, i.getBandwidthShareBytesPerSecond());
  }

  /** The phase label of a migration that has not ended: begin, prepare, perform, finish, confirm. */
  static String phase(MigrationInfo i) {
    return label(i.getPhase());
  }

  static final List<String> PHASES = List.of(Phase.BEGIN, Phase.PREPARE, Phase.PERFORM, Phase.FINISH, Phase.CONFIRM)
      .stream().map(MigrationMetrics::label).toList();

  static final List<String> OUTCOMES = List.of("completed", "failed", "cancelled");

  /**
   * How an ended migration ended: outcome (completed, failed, cancelled); for the others where
   * (failedPhase: the phase it failed in, or postcopy once the destination ran the guest) and what
   * kind of error (errorKind, "none" when nothing more is known); its total time; the downtime a
   * completed one measured.
   */
  record Ending(String outcome, String failedPhase, String errorKind, Duration total, Optional<Duration> downtime) {}

  /** Empty while the migration runs. */
  static Optional<Ending> ending(MigrationInfo i) {
    if (!ended(i)) return Optional.empty();
    String outcome = i.getStatus().name().toLowerCase(Locale.ROOT);
    boolean completed = i.getStatus() == MigrationStatus.COMPLETED;
    String where = completed ? "" : i.getPostcopy() ? "postcopy" : label(i.getFailedPhase());
    String kind = completed ? "" : label(i.getErrorKind());
    Optional<Duration> downtime = completed && i.getDowntimeMs() >= 0 ? Optional.of(Duration.ofMillis(i.getDowntimeMs()))
        : Optional.empty();
    return Optional.of(new Ending(outcome, where, kind, Duration.ofMillis(Math.max(0, i.getTotalTimeMs())), downtime));
  }

  private static String label(Phase p) {
    if (p == Phase.UNRECOGNIZED) return "other"; // a newer node's phase
    return p == Phase.PHASE_NONE ? "none" : p.name().toLowerCase(Locale.ROOT);
  }

  private static String label(ErrorKind k) {
    if (k == ErrorKind.UNRECOGNIZED) return "other";
    return k == ErrorKind.ERROR_NONE ? "none" : k.name().substring("ERROR_".length()).toLowerCase(Locale.ROOT);
  }
}
