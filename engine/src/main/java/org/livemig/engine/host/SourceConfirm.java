package org.livemig.engine.host;

import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.ConfirmRequest;
import org.livemig.messages.ConfirmResult;

/** What Confirm does to the source's guest and what it answers, apart from the actor's states. */
final class SourceConfirm {
  private SourceConfirm() {}

  /**
   * A rollback: the guest runs again unthrottled, owned through the coordinator's token (or its
   * own), unless it was paused when the migration began; its disk requests in flight go on.
   */
  static void resume(MigratableGuest guest, ConfirmRequest confirm, boolean pausedAtBegin) {
    guest.setThrottlePercent(0);
    if (guest.state() == RunState.RUNNING) return;
    String token = confirm.getOwnerToken().isEmpty() ? guest.ownerToken() : confirm.getOwnerToken();
    if (!token.equals(guest.ownerToken())) guest.assignOwner(token);
    if (!pausedAtBegin) guest.run(token);
  }

  static ConfirmResult.Builder result(boolean success, MigratableGuest guest, SourcePostcopy postcopyRole,
      long teardownMicros) {
    var result = ConfirmResult.newBuilder().setSourceDestroyed(success)
        .setSourceRunning(guest.state() == RunState.RUNNING).setTeardownUs(teardownMicros);
    if (postcopyRole != null) {
      result.setPostcopyPagesSent(postcopyRole.pagesSent()).setPostcopyPagesResent(postcopyRole.pagesResent());
    }
    return result;
  }
}
