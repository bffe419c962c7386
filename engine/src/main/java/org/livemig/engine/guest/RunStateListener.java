package org.livemig.engine.guest;

/**
 * Told when a guest starts executing (RUNNING) and when it has stopped (PAUSED, DESTROYED: the
 * workload has finished its last step), with the wall-clock time in microseconds. A run-state
 * log of every host is what proves from outside that two copies never ran at the same time.
 * Called under the guest's lock: keep it short and never call back into the guest.
 */
@FunctionalInterface
public interface RunStateListener {
  RunStateListener NONE = (guestId, state, atMicros) -> {};

  void changed(String guestId, RunState state, long atMicros);

  /**
   * The guest is checkpointed (on) or no longer (off): it pauses for a moment every interval, and
   * a listener that also tells people may keep those transitions quieter. Recorded all the same.
   */
  default void checkpointed(String guestId, boolean on) {}
}
