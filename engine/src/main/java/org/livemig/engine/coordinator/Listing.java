package org.livemig.engine.coordinator;

import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import org.livemig.persistence.ListedMigration;

/**
 * A coordinator's row in the migration list (MigrationListView): written after each persisted
 * change and after every recovery (so a crash between the journal write and the row's is caught
 * up by the next incarnation), one write at a time, the newest state winning; a failed write is
 * tried again every livemig.list.retry. The table keeps the row with the highest journal sequence
 * number, so an older incarnation's late write changes nothing. An ended coordinator passivates
 * only once its row is written ({@link #behind()}): remembered entities bring it back otherwise.
 */
final class Listing {
  /** The list's messages to its coordinator. */
  interface Command extends MigrationCoordinator.Command {}

  private record Written(ListedMigration row, Throwable failure) implements Command {}

  private enum Retry implements Command { INSTANCE }

  private static final String RETRY_TIMER = "list-retry";

  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final MigrationListView view;
  private final Duration retry;
  /** The newest row not yet written, or null. */
  private ListedMigration pending;
  private ListedMigration written;
  private boolean writing;

  Listing(ActorContext<MigrationCoordinator.Command> ctx, TimerScheduler<MigrationCoordinator.Command> timers) {
    this.ctx = ctx;
    this.timers = timers;
    this.view = MigrationListView.get(ctx.getSystem());
    this.retry = ctx.getSystem().settings().config().getDuration("livemig.list.retry");
  }

  /** The state after journal sequence number seqNr is persisted (or recovered). */
  void changed(MigrationState s, long seqNr) {
    if (!view.enabled() || !s.started()) return;
    ListedMigration row = MigrationListView.row(s, seqNr);
    if (pending == null && row.sameListing(written)) return; // only the sequence number moved
    pending = row;
    if (!writing) write();
  }

  /** Whether the newest row is still to be written. */
  boolean behind() {
    return pending != null || writing;
  }

  void on(Command c) {
    if (c instanceof Written w) {
      writing = false;
      if (w.failure() != null) {
        ctx.getLog().warn("{}: migration list not updated ({}); trying again in {}", w.row().migrationId(),
            w.failure().getMessage(), retry);
        timers.startSingleTimer(RETRY_TIMER, Retry.INSTANCE, retry);
        return;
      }
      written = w.row();
      if (pending == w.row()) pending = null;
      if (pending != null) write();
    } else if (c == Retry.INSTANCE && pending != null && !writing) {
      write();
    }
  }

  private void write() {
    writing = true;
    ListedMigration row = pending;
    ctx.pipeToSelf(view.write(row), (ok, failure) -> new Written(row, failure));
  }
}
