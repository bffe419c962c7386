package org.livemig.engine.replication;

import java.util.ArrayList;
import java.util.List;
import org.livemig.engine.guest.OutputSink;

/** The guest's clients, as far as a test or a demo can tell: every output that reached them, in order. */
public final class OutputRecording implements OutputSink {
  private final List<Output> seen = new ArrayList<>(); // guarded by this

  @Override
  public synchronized void emit(Output output) {
    seen.add(output);
  }

  public synchronized List<Output> outputs() {
    return List.copyOf(seen);
  }

  /** The number of the last output seen (0 = none). */
  public synchronized long last() {
    return seen.isEmpty() ? 0 : seen.get(seen.size() - 1).number();
  }
}
