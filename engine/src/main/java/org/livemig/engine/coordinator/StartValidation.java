package org.livemig.engine.coordinator;

import org.livemig.messages.MigrationParameters;
import org.livemig.messages.StartMigration;

/** Checks a StartMigration before anything is persisted; returns the problem, or null. */
final class StartValidation {
  private StartValidation() {}

  static String check(StartMigration r, String migrationId) {
    if (!r.getMigrationId().isEmpty() && !r.getMigrationId().equals(migrationId)) {
      return "invalid request: migration_id '" + r.getMigrationId() + "' does not match the entity " + migrationId;
    }
    if (r.getGuestId().isBlank()) return "invalid request: guest_id is empty";
    if (r.getSourceHost().isBlank()) return "invalid request: source_host is empty";
    if (r.getDestinationHost().isBlank()) return "invalid request: destination_host is empty";
    if (r.getSourceHost().equals(r.getDestinationHost())) {
      return "invalid request: source_host and destination_host are both " + r.getSourceHost();
    }
    MigrationParameters p = r.getParameters();
    if (p.getThrottleInitialPercent() > 99) return "invalid request: throttle_initial_percent must be 0..99";
    if (p.getThrottleIncrementPercent() > 99) return "invalid request: throttle_increment_percent must be 0..99";
    if (p.getThrottleMaxPercent() > 99) return "invalid request: throttle_max_percent must be 0..99";
    if (p.getChannels() > 16) return "invalid request: channels must be 1..16";
    if (p.getPostcopyKeepaliveMs() != 0 && p.getPostcopyKeepaliveMs() < 50) {
      return "invalid request: postcopy_keepalive_ms must be at least 50";
    }
    if (p.getPostcopyNow()) return "invalid request: postcopy_now is set by startPostcopy, not at start";
    return null;
  }
}
