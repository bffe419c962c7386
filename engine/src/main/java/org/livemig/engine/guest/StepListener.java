package org.livemig.engine.guest;

/**
 * Told by a synthetic guest's workload thread after each step, before the next one: what the
 * guest does besides writing memory hangs here (its external output, {@link GuestOutput}). It
 * runs inside the step loop, so it must be quick and never block.
 */
@FunctionalInterface
public interface StepListener {
  StepListener NONE = steps -> {};

  /** The step that made the step count {@code steps} is done (its page written and marked dirty). */
  void stepped(long steps);
}
