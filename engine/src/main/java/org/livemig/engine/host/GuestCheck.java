package org.livemig.engine.host;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestVerification;

/**
 * Checks a guest's memory and disks against their oracles from outside (GET /guests/{id}/verify): a running
 * guest is paused so that its memory and step count hold still, checked page by page on the
 * blocking dispatcher, and runs again afterwards; a paused guest stays paused.
 */
final class GuestCheck {
  private static final Duration DRAIN_WAIT = Duration.ofSeconds(2);

  private GuestCheck() {}

  static CompletionStage<GuestVerification> run(MigratableGuest guest, String hostId, Executor blockingIo) {
    boolean wasRunning = guest.state() == RunState.RUNNING;
    long started = System.nanoTime();
    CompletionStage<Void> paused = wasRunning ? guest.pause() : CompletableFuture.completedFuture(null);
    // Disks: wait for the requests in flight, but not for a hung one (it counts as not landed).
    CompletionStage<Void> still = paused.thenCompose(v -> guest.drain().toCompletableFuture()
        .completeOnTimeout(null, DRAIN_WAIT.toMillis(), TimeUnit.MILLISECONDS));
    return still.thenApplyAsync(v -> {
      long steps = guest.steps();
      GuestOracle.Verification result;
      List<DiskVerification> disks;
      try {
        result = new GuestOracle(guest.description()).verify(guest.memory(), steps);
        disks = guest.verifyDisks();
      } finally {
        if (wasRunning) guest.run(guest.ownerToken());
      }
      boolean disksMatch = disks.stream().allMatch(d -> d.getMismatches() == 0 && d.getOwnershipViolations() == 0);
      return GuestVerification.newBuilder().setGuestId(guest.description().getGuestId()).setHost(hostId)
          .setVerified(result.matches() && disksMatch).addAllDisks(disks)
          .setPagesChecked(result.pagesChecked()).setMismatches(result.mismatches())
          .addAllFirstMismatches(result.firstMismatches()).setSteps(steps).setState(guest.state().name())
          .setCheckMs((System.nanoTime() - started) / 1_000_000).build();
    }, blockingIo);
  }
}
