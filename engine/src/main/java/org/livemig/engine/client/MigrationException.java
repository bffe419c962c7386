package org.livemig.engine.client;

import org.livemig.messages.ErrorKind;

/**
 * Why a client call was refused. Each kind is its own subclass so that a cluster manager can
 * catch exactly what it handles; {@link #kind()} gives the same answer as a value (for HTTP
 * status codes, exit codes). The kind comes from the refusal's ErrorKind, never from its text.
 */
public class MigrationException extends RuntimeException {
  public enum Kind { UNKNOWN_MIGRATION, UNKNOWN_GUEST, HOST_UNREACHABLE, INVALID_REQUEST, CONFLICT, NOT_SUPPORTED, REFUSED }

  private final Kind kind;

  MigrationException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /** The typed exception for a refusal's kind (a field only for ERROR_INVALID_REQUEST). */
  public static MigrationException of(ErrorKind kind, String field, String message) {
    return switch (kind) {
      case ERROR_INVALID_REQUEST -> new InvalidRequest(field, message);
      case ERROR_UNKNOWN_MIGRATION -> new UnknownMigration(message);
      case ERROR_UNKNOWN_GUEST -> new UnknownGuest(message);
      case ERROR_HOST_UNREACHABLE -> new HostUnreachable(message);
      case ERROR_CONFLICT -> new Conflict(message);
      case ERROR_NOT_SUPPORTED -> new NotSupported(message);
      case ERROR_NONE, ERROR_REFUSED, ERROR_POWERED_OFF, UNRECOGNIZED -> new Refused(message);
    };
  }

  /** No migration has been started under this id. */
  public static final class UnknownMigration extends MigrationException {
    public UnknownMigration(String message) {
      super(Kind.UNKNOWN_MIGRATION, message);
    }
  }

  /** The source host has no guest of that id. */
  public static final class UnknownGuest extends MigrationException {
    public UnknownGuest(String message) {
      super(Kind.UNKNOWN_GUEST, message);
    }
  }

  /** A host (or the coordinator) did not answer, or is not registered in the cluster. */
  public static final class HostUnreachable extends MigrationException {
    public HostUnreachable(String message) {
      super(Kind.HOST_UNREACHABLE, message);
    }
  }

  /** A field of the request is wrong; nothing was started. */
  public static final class InvalidRequest extends MigrationException {
    private final String field;

    public InvalidRequest(String field, String message) {
      super(Kind.INVALID_REQUEST, message);
      this.field = field;
    }

    public String field() {
      return field;
    }
  }

  /** The request contradicts what exists: the guest is already migrating, the id is taken, it ended. */
  public static final class Conflict extends MigrationException {
    public Conflict(String message) {
      super(Kind.CONFLICT, message);
    }
  }

  /** Asked for something a node cannot serve (e.g. guests on a node without the host role). */
  public static final class NotSupported extends MigrationException {
    public NotSupported(String message) {
      super(Kind.NOT_SUPPORTED, message);
    }
  }

  /** Refused for a reason none of the other kinds covers; the message says why. */
  public static final class Refused extends MigrationException {
    public Refused(String message) {
      super(Kind.REFUSED, message);
    }
  }
}
