package org.livemig.jmh;

import java.util.concurrent.TimeUnit;
import org.livemig.engine.guest.DirtyBitmap;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * What a guest write pays to mark its page dirty, with a sync every 64 Ki marks (a round),
 * so both the CAS of a clean page and the read-only path of an already dirty one are measured.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class DirtyMarkBench {
  private static final long PAGES = 262144;
  private final DirtyBitmap bitmap = new DirtyBitmap(PAGES);
  private long next;
  private int sinceSync;

  @Benchmark
  public void mark() {
    bitmap.mark(next);
    next = (next + 4099) % PAGES;
    if (++sinceSync == 65536) {
      sinceSync = 0;
      bitmap.syncAndClear();
    }
  }
}
