package org.livemig.engine.guest;

/** Lifecycle of a guest as the hypervisor sees it. */
public enum RunState {
  /** Built but never ran, e.g. a destination copy still being filled. */
  CREATED,
  RUNNING,
  PAUSED,
  /** Stopped for good: the workload will never write again. */
  DESTROYED
}
