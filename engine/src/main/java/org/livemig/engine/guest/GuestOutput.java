package org.livemig.engine.guest;

/**
 * A synthetic guest's external output (as packets to its clients would be): its workload emits
 * message n+1 after every stepsPerOutput-th step, numbered from 1. The counter is guest state
 * that changes while the guest runs, so a checkpoint records it (outputs_upto) and a secondary
 * that fails over continues numbering after it ({@link #continueAfter}).
 *
 * <p>Thread contract: {@link #stepped} runs on the workload thread only; {@link #emitted} may be
 * read anywhere and is exact once a pause has completed; {@link #continueAfter} only while the
 * guest is stopped.
 */
public final class GuestOutput implements StepListener {
  private final long stepsPerOutput;
  private final OutputSink sink;
  private volatile long emitted;

  public GuestOutput(long stepsPerOutput, OutputSink sink) {
    if (stepsPerOutput < 1) throw new IllegalArgumentException("stepsPerOutput must be positive: " + stepsPerOutput);
    this.stepsPerOutput = stepsPerOutput;
    this.sink = sink;
  }

  @Override
  public void stepped(long steps) {
    if (steps % stepsPerOutput != 0) return;
    long n = emitted + 1; // single writer: the workload thread
    emitted = n;
    sink.emit(new OutputSink.Output(n, steps));
  }

  /** The number of the last message emitted (0 = none). */
  public long emitted() {
    return emitted;
  }

  /** Failover: this copy's history includes outputs up to upto; its next message is upto + 1. */
  public void continueAfter(long upto) {
    if (upto < 0) throw new IllegalArgumentException("outputs_upto must be >= 0: " + upto);
    emitted = upto;
  }
}
