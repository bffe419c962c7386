package org.livemig.persistence;

/** The journal database cannot be reached or prepared; nothing may be decided without it. */
public final class JournalUnavailableException extends RuntimeException {
  public JournalUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
