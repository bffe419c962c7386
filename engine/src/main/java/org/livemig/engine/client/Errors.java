package org.livemig.engine.client;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Turns the coordinator's and hosts' reasons (StatusReply errors, a failed Begin or Prepare)
 * into typed MigrationExceptions. The reasons are the engine's own wording, kept stable by the
 * tests that check each kind (MigrationClientTest).
 */
final class Errors {
  private Errors() {}

  private static final String INVALID = "invalid request: ";

  /** The typed error for a reason, or null when the reason is not a request error. */
  static MigrationException fromReason(String reason) {
    if (reason == null || reason.isEmpty()) return null;
    int invalid = reason.indexOf(INVALID);
    if (invalid >= 0) {
      String rest = reason.substring(invalid + INVALID.length());
      int space = rest.indexOf(' ');
      return new MigrationException.InvalidRequest(space < 0 ? rest : rest.substring(0, space), reason);
    }
    if (reason.contains("unknown migration")) return new MigrationException.UnknownMigration(reason);
    if (reason.contains("is already migrating") || reason.contains("already exists with other arguments")
        || reason.contains("already ended") || reason.contains("too late to cancel")
        || reason.contains("can no longer change") || reason.contains("already in postcopy")
        || reason.contains("too late to start postcopy") || reason.contains("only a paused postcopy")) {
      return new MigrationException.Conflict(reason);
    }
    if (reason.contains("unknown guest") || reason.contains("was lost when host")) return new MigrationException.UnknownGuest(reason);
    if (reason.contains("unknown host")) return new MigrationException.HostUnreachable(reason);
    return null;
  }

  /** Any failure of an ask, typed: a refusal keeps its reason, a timeout means no answer. */
  static MigrationException of(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof MigrationException m) return m;
    if (c instanceof TimeoutException || c instanceof akka.pattern.AskTimeoutException) {
      return new MigrationException.HostUnreachable("no answer from the coordinator: " + c.getMessage());
    }
    MigrationException typed = fromReason(c.getMessage());
    return typed != null ? typed : new MigrationException.Refused(String.valueOf(c.getMessage()));
  }
}
