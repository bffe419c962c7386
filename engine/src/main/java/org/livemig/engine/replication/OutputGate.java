package org.livemig.engine.replication;

import java.util.ArrayDeque;
import org.livemig.engine.guest.OutputSink;

/**
 * Output commit on the primary: the guest's external output is held here until the checkpoint
 * whose state includes it is acknowledged by the secondary, then released in order. Whatever the
 * clients have seen is therefore in the state a failover resumes from. The guest's workload
 * thread emits; the checkpointer releases; the downstream sink is called under this gate's lock,
 * in order, and must not block.
 */
public final class OutputGate implements OutputSink {
  private final OutputSink released;
  // Guarded by this.
  private final ArrayDeque<Output> held = new ArrayDeque<>();
  private long releasedUpto;

  public OutputGate(OutputSink released) {
    this.released = released;
  }

  @Override
  public synchronized void emit(Output output) {
    if (releasedUpto == Long.MAX_VALUE) released.emit(output); // replication ended: nothing is held any more
    else held.addLast(output);
  }

  /** An acknowledged checkpoint covers outputs up to upto: they go out. */
  public synchronized void release(long upto) {
    while (!held.isEmpty() && held.peekFirst().number() <= upto) released.emit(held.pollFirst());
    releasedUpto = Math.max(releasedUpto, upto);
  }

  /**
   * Replication ended for good with the primary still the guest's owner (unprotect, not
   * failover): nothing needs holding any more. After a failover, never: the secondary emits
   * these again from its own copy. From then on output passes straight through.
   */
  public synchronized void releaseAll() {
    while (!held.isEmpty()) released.emit(held.pollFirst());
    releasedUpto = Long.MAX_VALUE;
  }

  public synchronized int held() {
    return held.size();
  }

  /** Outputs numbered up to this may have been released (the last acknowledged checkpoint's outputs_upto). */
  public synchronized long releasedUpto() {
    return releasedUpto;
  }
}
