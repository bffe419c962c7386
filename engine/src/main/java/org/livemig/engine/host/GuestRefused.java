package org.livemig.engine.host;

import org.livemig.messages.ErrorKind;

/** Why a host refused to create a guest (local only: the operator API maps the kind, never the text). */
public final class GuestRefused extends RuntimeException {
  private final ErrorKind kind;
  private final String field;

  GuestRefused(ErrorKind kind, String field, String message) {
    super(message);
    this.kind = kind;
    this.field = field;
  }

  public ErrorKind kind() {
    return kind;
  }

  /** The offending field, for ERROR_INVALID_REQUEST. */
  public String field() {
    return field;
  }
}
