package org.livemig.engine.guest;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Benchmark, not a test: how long a guest's allocation holds up the rest of its process. While
 * one thread allocates a guest, the main thread asks for stop-the-world pauses (System.gc, every
 * 20 ms) and times each: a pause waits until every thread can stop, and the JDK zeroes a new
 * direct buffer in one call that cannot. Compares {@link GuestMemory} (32 MiB chunks, allocated
 * in parallel) with one thread allocating 256 MiB buffers (GuestMemory before), back to back.
 *
 * <p>Run: {@code java -Xmx64m -XX:MaxDirectMemorySize=3g -cp engine/target/classes:engine/target/test-classes
 * org.livemig.engine.guest.AllocationStallBench [MiB] [repeats]}
 */
public final class AllocationStallBench {
  private AllocationStallBench() {}

  public static void main(String[] args) throws Exception {
    long mib = args.length > 0 ? Long.parseLong(args[0]) : 1024;
    int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    for (int r = 0; r < repeats; r++) {
      measure("256 MiB buffers, one thread", () -> {
        List<ByteBuffer> chunks = new ArrayList<>();
        for (long left = mib; left > 0; left -= 256) chunks.add(ByteBuffer.allocateDirect((int) (Math.min(256, left) << 20)));
        return chunks.size();
      });
      measure("GuestMemory", () -> new GuestMemory(4096, mib * 256).chunkIndex(mib * 256 - 1) + 1);
    }
  }

  private static void measure(String what, java.util.concurrent.Callable<Integer> allocate) throws Exception {
    System.gc();
    int[] chunks = new int[1];
    Thread allocating = new Thread(() -> {
      try {
        chunks[0] = allocate.call();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }, "allocating");
    long t0 = System.nanoTime();
    allocating.start();
    long worst = 0;
    int pauses = 0;
    while (allocating.isAlive()) {
      long p = System.nanoTime();
      System.gc();
      worst = Math.max(worst, System.nanoTime() - p);
      pauses++;
      Thread.sleep(20);
    }
    allocating.join();
    System.out.printf(Locale.ROOT, "%-28s %3d chunks: allocated in %5d ms; %3d pauses, the longest %4d ms%n", what, chunks[0],
        (System.nanoTime() - t0) / 1_000_000, pauses, worst / 1_000_000);
  }
}
