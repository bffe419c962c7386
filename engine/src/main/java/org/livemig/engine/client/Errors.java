package org.livemig.engine.client;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.Refusal;

/**
 * Turns refusals into typed MigrationExceptions by their kind (ErrorKind travels with every
 * refusal), never by their wording.
 */
final class Errors {
  private Errors() {}

  static MigrationException of(Refusal r) {
    return MigrationException.of(r.getKind(), r.getField(), r.getMessage());
  }

  /**
   * A failure of Begin or Prepare that refuses the request itself (an unknown guest or host, a
   * busy guest, a bad field), as opposed to one the status reports (e.g. not enough memory).
   */
  static boolean refusesRequest(ErrorKind kind) {
    return switch (kind) {
      case ERROR_INVALID_REQUEST, ERROR_UNKNOWN_MIGRATION, ERROR_UNKNOWN_GUEST, ERROR_HOST_UNREACHABLE,
          ERROR_CONFLICT -> true;
      default -> false;
    };
  }

  /** Any failure of an ask, typed: a timeout means no answer. */
  static MigrationException of(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof MigrationException m) return m;
    if (c instanceof TimeoutException || c instanceof akka.pattern.AskTimeoutException) {
      return new MigrationException.HostUnreachable("no answer from the coordinator: " + c.getMessage());
    }
    if (c instanceof java.sql.SQLException) return new MigrationException.HostUnreachable(c.getMessage());
    return new MigrationException.Refused(String.valueOf(c.getMessage()));
  }
}
