package org.livemig.jmh;

import java.util.concurrent.TimeUnit;
import org.livemig.engine.guest.DirtyBitmap;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** The dirty-log sync of one precopy round, and the marking the guest workload pays per write. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class DirtyBitmapBench {
  /** 1 GiB of 4 KiB pages. */
  @Param({"262144"})
  long pages;

  /** Pages dirty when the round syncs, per mille. */
  @Param({"10", "1000"})
  int dirtyPerMille;

  private DirtyBitmap bitmap;
  private long next;

  @Setup(Level.Invocation)
  public void dirty() {
    if (bitmap == null) bitmap = new DirtyBitmap(pages);
    long step = Math.max(1, 1000 / Math.max(1, dirtyPerMille));
    for (long p = 0; p < pages; p += step) bitmap.mark(p);
  }

  @Benchmark
  public long[] syncAndClear() {
    return bitmap.syncAndClear();
  }

  @Benchmark
  public long countThenSync() {
    return bitmap.count() + bitmap.syncAndClear().length;
  }
}
