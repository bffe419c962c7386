package org.livemig.engine.dataplane;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread that fires a callback (typically: close the socket) for every watched channel idle
 * longer than its limit. Needed because blocking SocketChannel reads and writes ignore SO_TIMEOUT;
 * closing the channel from here makes the blocked call fail promptly.
 */
public final class Watchdog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Watchdog.class);
  private static volatile Watchdog shared;

  private final ScheduledExecutorService timer;
  private final Set<Watch> watches = ConcurrentHashMap.newKeySet();

  public Watchdog(String name, Duration tick) {
    timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
    long tickMs = Math.max(5, tick.toMillis());
    timer.scheduleWithFixedDelay(this::check, tickMs, tickMs, TimeUnit.MILLISECONDS);
  }

  /** Process-wide instance for senders' handshakes (a daemon thread, never closed). */
  public static Watchdog shared() {
    Watchdog w = shared;
    if (w == null) {
      synchronized (Watchdog.class) {
        if (shared == null) shared = new Watchdog("dataplane-watchdog", Duration.ofMillis(20));
        w = shared;
      }
    }
    return w;
  }

  /** Tick period that detects a timeout within about a quarter of it. */
  public static Duration tickFor(Duration... timeouts) {
    long min = Long.MAX_VALUE;
    for (Duration d : timeouts) min = Math.min(min, d.toMillis());
    return Duration.ofMillis(Math.max(5, Math.min(250, min / 4)));
  }

  /**
   * Calls onIdle(idleNanos) once when now - lastActivity() exceeds limitNanos. A constant
   * lastActivity turns the watch into a hard deadline.
   */
  public Watch watch(LongSupplier lastActivity, long limitNanos, LongConsumer onIdle) {
    Watch w = new Watch(lastActivity, limitNanos, onIdle);
    watches.add(w);
    return w;
  }

  private void check() {
    long now = System.nanoTime();
    for (Watch w : watches) {
      long idle = now - w.lastActivity.getAsLong();
      if (idle > w.limitNanos && w.fired.compareAndSet(false, true)) {
        watches.remove(w);
        try {
          w.onIdle.accept(idle);
        } catch (RuntimeException e) {
          log.error("watchdog callback failed", e);
        }
      }
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
    watches.clear();
  }

  public final class Watch {
    private final LongSupplier lastActivity;
    private final long limitNanos;
    private final LongConsumer onIdle;
    private final AtomicBoolean fired = new AtomicBoolean();

    private Watch(LongSupplier lastActivity, long limitNanos, LongConsumer onIdle) {
      this.lastActivity = lastActivity;
      this.limitNanos = limitNanos;
      this.onIdle = onIdle;
    }

    /** Stops watching; returns false if the callback already fired (or is firing). */
    public boolean cancel() {
      watches.remove(this);
      return fired.compareAndSet(false, true);
    }
  }
}
