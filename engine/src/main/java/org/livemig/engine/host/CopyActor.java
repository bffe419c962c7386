package org.livemig.engine.host;

import java.util.Map;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.PageSender;
import org.livemig.engine.dataplane.SendStats;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.PrepareCookie;

/**
 * The source end of one data channel. Socket writes block, so each transfer runs on the
 * blocking-io dispatcher and its result comes back through pipeToSelf; meanwhile a watchdog
 * timer aborts the channel when no byte has moved for the stall timeout.
 */
public final class CopyActor {

  public interface Command {}

  /** Send this channel's share (every channels-th block of 256 pages, from block channel) of a harvested dirty set. */
  public record SendRound(int round, long[] dirtyWords) implements Command {}

  /**
   * The stunned guest's last dirty pages, then the device state (channel 0 only, else null) and
   * EOS, as one transfer: every hop saved here is downtime saved. In postcopy the pages are none
   * and channel 0's EOS carries the discard set (pages the destination must fetch), else null.
   */
  public record SendFinal(int round, long[] dirtyWords, byte[] deviceState, long totalPages, long[] postcopyDiscard)
      implements Command {}

  public record SetMaxBandwidth(long bytesPerSecond) implements Command {}

  /** Cleanup: close the channel and stop, whatever is in flight. */
  public enum Stop implements Command { INSTANCE }

  private record TransferDone(Object result, Throwable error) implements Command {}

  private enum StallCheck implements Command { INSTANCE }

  /** What the channel tells its SourceActor. */
  public sealed interface Event {}

  public record Connected(int channel) implements Event {}

  /**
   * A round is in the destination's memory. fixedNanos: what the round cost beyond writing its
   * pages, waiting for a blocking-I/O thread and for the destination to drain and echo; a final
   * copy pays the same, so the switchover decision counts it. resend: dirty words of pages the
   * destination rejected (payload checksum failed), to be sent again; null when none.
   */
  public record RoundSent(int channel, int round, SendStats stats, long fixedNanos, long[] resend) implements Event {}

  public record FinalSent(int channel, SendStats stats) implements Event {}

  public record Failed(int channel, String reason) implements Event {}

  /** Sampled while a transfer runs: bytes this channel has written so far. */
  public record Progress(int channel, long bytesSent) implements Event {}

  static Behavior<Command> create(String migrationId, int channel, int channels, PrepareCookie cookie,
      GuestMemory memory, DataPlaneSettings settings, long maxBandwidth, ActorRef<Event> parent) {
    return Behaviors.withMdc(Command.class, Map.of("migrationId", migrationId),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
          CopyActor a = new CopyActor(ctx, timers, migrationId, channel, channels, memory, settings, maxBandwidth,
              parent);
          return a.connecting(cookie);
        })));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String migrationId;
  private final int channel;
  private final int channels;
  private final GuestMemory memory;
  private final DataPlaneSettings settings;
  private final ActorRef<Event> parent;
  private final Executor blockingIo;
  private long maxBandwidth;
  private volatile PageSender sender; // set by the connecting task, read by the watchdog and PostStop

  private CopyActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, String migrationId, int channel,
      int channels, GuestMemory memory, DataPlaneSettings settings, long maxBandwidth, ActorRef<Event> parent) {
    this.ctx = ctx;
    this.timers = timers;
    this.migrationId = migrationId;
    this.channel = channel;
    this.channels = channels;
    this.memory = memory;
    this.settings = settings;
    this.maxBandwidth = maxBandwidth;
    this.parent = parent;
    this.blockingIo = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
  }

  private Behavior<Command> connecting(PrepareCookie cookie) {
    long initial = perChannel(maxBandwidth); // read here: the field belongs to the actor's thread
    run(() -> {
      PageSender s = PageSender.connect(cookie.getDataHost(), cookie.getDataPort(), migrationId, cookie.getToken(),
          channel, settings, cookie.getDestinationHost());
      s.setMaxBandwidth(initial);
      sender = s;
      return s;
    });
    return transferring(r -> {
      sender.setMaxBandwidth(perChannel(maxBandwidth)); // a SetMaxBandwidth that came while connecting
      parent.tell(new Connected(channel));
      return idle();
    }, "connect");
  }

  private Behavior<Command> idle() {
    timers.cancel(StallCheck.INSTANCE);
    return common(Behaviors.receive(Command.class)
        .onMessage(SendRound.class, m -> {
          long asked = System.nanoTime();
          long[] fixed = new long[1]; // written by the transfer, read after its completion
          long[][] resend = new long[1][]; // likewise
          run(() -> {
            long started = System.nanoTime();
            SendStats stats = sender.sendPages(memory, m.dirtyWords(), channels, channel);
            long written = System.nanoTime();
            resend[0] = sender.endRound(m.round(), stats.pages(), memory.pageCount());
            fixed[0] = (started - asked) + (System.nanoTime() - written);
            return stats;
          });
          return transferring(r -> {
            parent.tell(new RoundSent(channel, m.round(), (SendStats) r, fixed[0], resend[0]));
            return idle();
          }, "round " + m.round());
        })
        .onMessage(SendFinal.class, m -> {
          run(() -> {
            SendStats stats = sender.sendPages(memory, m.dirtyWords(), channels, channel);
            if (m.deviceState() != null) sender.sendDeviceState(m.deviceState());
            sender.sendEndOfStream(m.totalPages(), m.postcopyDiscard());
            return stats;
          });
          return transferring(r -> {
            parent.tell(new FinalSent(channel, (SendStats) r));
            return idle();
          }, "final copy");
        }))
        .build();
  }

  private Behavior<Command> transferring(java.util.function.Function<Object, Behavior<Command>> onSuccess, String what) {
    timers.startTimerWithFixedDelay(StallCheck.INSTANCE, watchdogInterval());
    return common(Behaviors.receive(Command.class)
        .onMessage(TransferDone.class, m -> {
          if (m.error() != null) return failed(what + " failed: " + rootMessage(m.error()));
          return onSuccess.apply(m.result());
        })
        .onMessageEquals(StallCheck.INSTANCE, () -> {
          PageSender s = sender;
          long idleNanos = s == null ? 0 : System.nanoTime() - s.lastProgressNanos();
          if (s != null && idleNanos > settings.stallTimeout().toNanos()) {
            s.abort("data link stalled: no progress for " + idleNanos / 1_000_000 + " ms");
          } else if (s != null) {
            parent.tell(new Progress(channel, s.bytesSent()));
          }
          return Behaviors.same();
        }))
        .build();
  }

  private Behavior<Command> failed(String reason) {
    timers.cancel(StallCheck.INSTANCE);
    ctx.getLog().warn("migration {} channel {}: {}", migrationId, channel, reason);
    parent.tell(new Failed(channel, reason));
    return Behaviors.receive(Command.class)
        .onMessage(TransferDone.class, m -> Behaviors.same())
        .onMessageEquals(StallCheck.INSTANCE, Behaviors::same)
        .onMessageEquals(Stop.INSTANCE, Behaviors::stopped)
        .onMessage(Command.class, m -> {
          ctx.getLog().debug("channel {} of {} has failed; ignoring {}", channel, migrationId, m);
          return Behaviors.same();
        })
        .onSignal(PostStop.class, s -> closeSender())
        .build();
  }

  private akka.actor.typed.javadsl.BehaviorBuilder<Command> common(akka.actor.typed.javadsl.BehaviorBuilder<Command> b) {
    return b
        .onMessageEquals(Stop.INSTANCE, Behaviors::stopped)
        .onMessage(SetMaxBandwidth.class, m -> {
          maxBandwidth = m.bytesPerSecond();
          PageSender s = sender;
          if (s != null) s.setMaxBandwidth(perChannel(maxBandwidth));
          return Behaviors.same();
        })
        .onSignal(PostStop.class, s -> closeSender());
  }

  private long perChannel(long total) {
    return total <= 0 ? 0 : Math.max(1, total / channels);
  }

  /** Often enough for a live progress line, and at least four looks per stall timeout. */
  private Duration watchdogInterval() {
    long ms = Math.max(50, Math.min(250, settings.stallTimeout().toMillis() / 4));
    return Duration.ofMillis(ms);
  }

  /** A blocking transfer step; its exception becomes the channel's failure reason. */
  private interface IoTask {
    Object call() throws Exception;
  }

  private void run(IoTask task) {
    CompletableFuture<Object> f = CompletableFuture.supplyAsync(() -> {
      try {
        return task.call();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    }, blockingIo);
    ctx.pipeToSelf(f, TransferDone::new);
  }

  private Behavior<Command> closeSender() {
    PageSender s = sender;
    if (s != null) s.close();
    return Behaviors.same();
  }

  static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && (c instanceof java.util.concurrent.CompletionException
        || c instanceof java.util.concurrent.ExecutionException)) {
      c = c.getCause();
    }
    return c.getMessage() == null ? c.toString() : c.getMessage();
  }
}
