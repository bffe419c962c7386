package org.livemig.engine.coordinator;

import org.livemig.engine.common.Ids;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.Refusal;
import org.livemig.messages.StartMigration;

/** Checks a StartMigration before anything is persisted; returns the refusal, or null. */
final class StartValidation {
  private StartValidation() {}

  static Refusal check(StartMigration r, String migrationId) {
    if (!r.getMigrationId().isEmpty() && !r.getMigrationId().equals(migrationId)) {
      return invalid("migration_id", Ids.shown(r.getMigrationId()) + " does not match the entity "
          + Ids.shown(migrationId));
    }
    for (String[] id : new String[][] {{"migration_id", migrationId}, {"guest_id", r.getGuestId()},
        {"source_host", r.getSourceHost()}, {"destination_host", r.getDestinationHost()}}) {
      String problem = Ids.problem(id[0], id[1]);
      if (problem != null) {
        return Refusal.newBuilder().setKind(ErrorKind.ERROR_INVALID_REQUEST).setField(id[0]).setMessage(problem).build();
      }
    }
    if (r.getSourceHost().equals(r.getDestinationHost())) {
      return invalid("source_host", "and destination_host are both " + r.getSourceHost());
    }
    MigrationParameters p = r.getParameters();
    if (p.getThrottleInitialPercent() > 99) return invalid("throttle_initial_percent", "must be 0..99");
    if (p.getThrottleIncrementPercent() > 99) return invalid("throttle_increment_percent", "must be 0..99");
    if (p.getThrottleMaxPercent() > 99) return invalid("throttle_max_percent", "must be 0..99");
    if (p.getChannels() > 16) return invalid("channels", "must be 1..16");
    if (p.getPostcopyKeepaliveMs() != 0 && p.getPostcopyKeepaliveMs() < 50) {
      return invalid("postcopy_keepalive_ms", "must be at least 50");
    }
    if (p.getPostcopyNow()) return invalid("postcopy_now", "is set by startPostcopy, not at start");
    if (!p.getStorageMode().isEmpty() && !p.getStorageMode().equals("write-blocking")
        && !p.getStorageMode().equals("background")) {
      return invalid("storage_mode", "must be write-blocking or background, was '" + p.getStorageMode() + "'");
    }
    if (!p.getStorageMode().isEmpty() && !p.getCopyStorage()) return invalid("storage_mode", "needs copy_storage");
    return null;
  }

  /** Checks the parameters with the defaults filled in; returns the refusal, or null. */
  static Refusal checkResolved(MigrationParameters p) {
    // While the source drains its disks its channels are silent: a drain allowed to last as long
    // as the channels' stall timeout would be cut off by their watchdog with a misleading error.
    if (p.getDrainTimeoutMs() >= p.getStallTimeoutMs()) {
      return invalid("drain_timeout_ms", "(" + p.getDrainTimeoutMs() + " ms) must be below the stall timeout ("
          + p.getStallTimeoutMs() + " ms): the data channels are silent while the disks drain");
    }
    return null;
  }

  /** "invalid request: FIELD PROBLEM", with the field named apart for clients. */
  static Refusal invalid(String field, String problem) {
    return Refusal.newBuilder().setKind(ErrorKind.ERROR_INVALID_REQUEST).setField(field)
        .setMessage("invalid request: " + field + " " + problem).build();
  }
}
