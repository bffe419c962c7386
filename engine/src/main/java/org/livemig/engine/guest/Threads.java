package org.livemig.engine.guest;

/** Waiting for a thread that must end before the caller goes on. */
final class Threads {
  private Threads() {}

  /** Joins t even if interrupted meanwhile; the caller's interrupt status is restored after. */
  static void joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
  }
}
