package org.livemig.engine.dataplane.postcopy;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Records the events of either postcopy end ("recover 2", "active 2", "paused reason", "complete"). */
final class PostcopyEvents implements PostcopySource.Listener, PostcopyReceiver.Listener {
  final String side;
  final List<String> events = new CopyOnWriteArrayList<>();
  private final BlockingQueue<String> pending = new LinkedBlockingQueue<>();

  PostcopyEvents(String side) {
    this.side = side;
  }

  @Override
  public void onRecover(int connection) {
    add("recover " + connection);
  }

  @Override
  public void onActive(int connection) {
    add("active " + connection);
  }

  @Override
  public void onPaused(String reason) {
    add("paused " + reason);
  }

  @Override
  public void onComplete() {
    add("complete");
  }

  private void add(String e) {
    events.add(e);
    pending.add(e);
  }

  /** Waits for the next event that starts with prefix, passing over others; returns it. */
  String await(String prefix) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      String e = pending.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      if (e == null) throw new AssertionError(side + ": no '" + prefix + "' within 10 s; events " + events);
      if (e.startsWith(prefix)) return e;
    }
  }
}
