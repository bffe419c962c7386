package org.livemig.persistence;

/**
 * One row of the migration list: what {@code migratectl list} shows of a migration, as its
 * coordinator last wrote it. Status, phase, error kind and failed phase are the names of the API's
 * enums (this module does not know the messages). endedAtMs is 0 until the migration ended,
 * downtimeMs -1 until known; seqNr is the journal sequence number of the coordinator's state.
 */
public record ListedMigration(
    String migrationId,
    String guestId,
    String sourceHost,
    String destinationHost,
    String status,
    String phase,
    long startedAtMs,
    long endedAtMs,
    long downtimeMs,
    String errorKind,
    String failedPhase,
    String error,
    long epoch,
    long seqNr) {

  /** Longest error summary kept: the full text stays with the coordinator's status. */
  public static final int MAX_ERROR_CHARS = 1000;

  public ListedMigration {
    if (error.length() > MAX_ERROR_CHARS) error = error.substring(0, MAX_ERROR_CHARS - 3) + "...";
  }

  public boolean ended() {
    return endedAtMs > 0;
  }

  /** The same migration at another sequence number (a rewrite of an unchanged row after recovery). */
  public boolean sameListing(ListedMigration o) {
    return o != null && o.withSeqNr(seqNr).equals(this);
  }

  public ListedMigration withSeqNr(long s) {
    return new ListedMigration(migrationId, guestId, sourceHost, destinationHost, status, phase, startedAtMs,
        endedAtMs, downtimeMs, errorKind, failedPhase, error, epoch, s);
  }

  /** Where a page ends: the position after this row in newest-first order. */
  public PageToken position() {
    return new PageToken(startedAtMs, migrationId);
  }
}
