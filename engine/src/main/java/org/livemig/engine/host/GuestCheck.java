package org.livemig.engine.host;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.GuestVerification;

/**
 * Checks a guest's memory against its oracle from outside (GET /guests/{id}/verify): a running
 * guest is paused so that its memory and step count hold still, checked page by page on the
 * blocking dispatcher, and runs again afterwards; a paused guest stays paused.
 */
final class GuestCheck {
  private GuestCheck() {}

  static CompletionStage<GuestVerification> run(MigratableGuest guest, String hostId, Executor blockingIo) {
    boolean wasRunning = guest.state() == RunState.RUNNING;
    long started = System.nanoTime();
    CompletionStage<Void> still = wasRunning ? guest.pause() : CompletableFuture.completedFuture(null);
    return still.thenApplyAsync(v -> {
      long steps = guest.steps();
      GuestOracle.Verification result;
      try {
        result = new GuestOracle(guest.description()).verify(guest.memory(), steps);
      } finally {
        if (wasRunning) guest.run(guest.ownerToken());
      }
      return GuestVerification.newBuilder().setGuestId(guest.description().getGuestId()).setHost(hostId)
          .setVerified(result.matches()).setPagesChecked(result.pagesChecked()).setMismatches(result.mismatches())
          .addAllFirstMismatches(result.firstMismatches()).setSteps(steps).setState(guest.state().name())
          .setCheckMs((System.nanoTime() - started) / 1_000_000).build();
    }, blockingIo);
  }
}
