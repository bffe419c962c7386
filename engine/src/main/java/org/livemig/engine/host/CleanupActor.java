package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.livemig.engine.guest.MigratableGuest;

/**
 * Cleanup of one migration on one host, as a state machine rather than flags and semaphores
 * (the Storage vMotion lesson): StopCopies -> CloseEndpoint -> ReleaseGuest -> Done. Each state
 * does its part or skips it when the plan has nothing for it, so the same machine serves the
 * source and the destination, success and every failure path. The HostAgent spawns at most one
 * per migration, which is what makes it run exactly once.
 */
public final class CleanupActor {

  public interface Command {}

  private enum StopTimedOut implements Command { INSTANCE }

  private record GuestDestroyed(long micros, Throwable error) implements Command {}

  /**
   * What there is to clean: copy actors to stop (their channels close with them), the
   * data-plane endpoint to close, and a guest copy to destroy (null = keep the guest).
   */
  /** filesToDelete: disk files this host created for the migration and that are nobody's disk now (deleted after the guest). */
  public record Plan(String role, List<ActorRef<CopyActor.Command>> copies, Runnable closeEndpoint, MigratableGuest guestToDestroy,
      List<java.nio.file.Path> filesToDelete) {
    public Plan(String role, List<ActorRef<CopyActor.Command>> copies, Runnable closeEndpoint, MigratableGuest guestToDestroy) {
      this(role, copies, closeEndpoint, guestToDestroy, List.of());
    }
  }

  /**
   * Sent when Done is reached; steps lists what actually ran, for the log and the tests;
   * teardownMicros is how long destroying the guest copy took (0 when none was).
   */
  public record Finished(String migrationId, String host, String role, List<String> steps, long teardownMicros) {}

  /** stopTimeout: how long to wait for the copies to stop before going on (livemig.host.cleanup-stop-timeout). */
  static Behavior<Command> create(String migrationId, String host, Plan plan, Duration stopTimeout,
      ActorRef<Finished> replyTo) {
    return Behaviors.withMdc(Command.class, Map.of("migrationId", migrationId),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
            new CleanupActor(ctx, timers, migrationId, host, plan, stopTimeout, replyTo).stoppingCopies())));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String migrationId;
  private final String host;
  private final Plan plan;
  private final Duration stopTimeout;
  private final ActorRef<Finished> replyTo;
  private final List<String> steps = new ArrayList<>();
  private long teardownMicros;

  private CleanupActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, String migrationId, String host,
      Plan plan, Duration stopTimeout, ActorRef<Finished> replyTo) {
    this.ctx = ctx;
    this.timers = timers;
    this.migrationId = migrationId;
    this.host = host;
    this.plan = plan;
    this.stopTimeout = stopTimeout;
    this.replyTo = replyTo;
  }

  private Behavior<Command> stoppingCopies() {
    if (plan.copies().isEmpty()) return closingEndpoint();
    ctx.getLog().info("cleanup {} on {} ({}): stopping {} copy channel(s)", migrationId, host, plan.role(),
        plan.copies().size());
    Set<ActorRef<?>> running = new HashSet<>();
    for (ActorRef<CopyActor.Command> copy : plan.copies()) {
      ctx.watch(copy);
      copy.tell(CopyActor.Stop.INSTANCE);
      running.add(copy);
    }
    timers.startSingleTimer(StopTimedOut.INSTANCE, stopTimeout);
    steps.add("StopCopies");
    return waitingForCopies(running);
  }

  private Behavior<Command> waitingForCopies(Set<ActorRef<?>> running) {
    if (running.isEmpty()) {
      timers.cancel(StopTimedOut.INSTANCE);
      return closingEndpoint();
    }
    return Behaviors.receive(Command.class)
        .onMessageEquals(StopTimedOut.INSTANCE, () -> {
          ctx.getLog().error("cleanup {} on {}: {} copy channel(s) did not stop within {}; going on", migrationId,
              host, running.size(), stopTimeout);
          return closingEndpoint();
        })
        .onSignal(Terminated.class, t -> {
          running.remove(t.getRef());
          return waitingForCopies(running);
        })
        .build();
  }

  private Behavior<Command> closingEndpoint() {
    if (plan.closeEndpoint() != null) {
      try {
        plan.closeEndpoint().run();
        steps.add("CloseEndpoint");
      } catch (RuntimeException e) {
        ctx.getLog().error("cleanup {} on {}: closing the data endpoint failed: {}", migrationId, host, e.toString());
        steps.add("CloseEndpoint(failed: " + e.getMessage() + ")");
      }
    }
    return releasingGuest();
  }

  private Behavior<Command> releasingGuest() {
    MigratableGuest guest = plan.guestToDestroy();
    if (guest == null) return done();
    // The workload stops, disk requests in flight end, disk handles close: blocking, so not on this
    // thread; after the switchover, never inside it.
    var blockingIo = ctx.getSystem().dispatchers().lookup(
        akka.actor.typed.DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
    ctx.pipeToSelf(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      long t0 = System.nanoTime();
      guest.destroy();
      long micros = (System.nanoTime() - t0) / 1000;
      // Closed with the guest: its copy of a disk, not wanted. Unlinking a large file written in
      // small pieces can take seconds: it goes on after the answer, not inside it.
      if (!plan.filesToDelete().isEmpty()) {
        java.util.concurrent.CompletableFuture.runAsync(() -> GuestDiskFiles.deleteEach(plan.filesToDelete(), "cleanup " + migrationId + " on " + host), blockingIo);
      }
      return micros;
    }, blockingIo), (micros, error) -> new GuestDestroyed(micros == null ? 0 : micros, error));
    return Behaviors.receive(Command.class)
        .onMessage(GuestDestroyed.class, m -> {
          teardownMicros = m.micros();
          if (m.error() != null) {
            ctx.getLog().error("cleanup {} on {}: destroying guest copy {} failed: {}", migrationId, host,
                guest.description().getGuestId(), m.error().toString());
            steps.add("ReleaseGuest(failed: " + m.error().getMessage() + ")");
          } else {
            steps.add(plan.filesToDelete().isEmpty() ? "ReleaseGuest" : "ReleaseGuest+DeleteFiles");
            ctx.getLog().info("cleanup {} on {}: guest copy {} destroyed in {} ms", migrationId, host,
                guest.description().getGuestId(), teardownMicros / 1000);
          }
          return done();
        })
        .onMessageEquals(StopTimedOut.INSTANCE, Behaviors::same) // a copy's deadline that fired as they stopped
        .build();
  }

  private Behavior<Command> done() {
    steps.add("Done");
    ctx.getLog().info("cleanup {} on {} ({}) done: {}", migrationId, host, plan.role(), steps);
    replyTo.tell(new Finished(migrationId, host, plan.role(), List.copyOf(steps), teardownMicros));
    return Behaviors.stopped();
  }
}
