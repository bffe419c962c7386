package org.livemig.engine.guest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntToLongFunction;

/**
 * Allocates a guest's memory chunks on all cores at once: a large guest's setup is its
 * first-touch allocation (the JDK zeroes each chunk, and the kernel maps every page on the way:
 * seconds per GiB on a virtualised host). The calling thread allocates too, so one guest's
 * allocation never waits for helpers busy with another's. The helpers are threads of their own:
 * a parallel stream started on an actor thread would run on the actors' fork-join pool and hold
 * up every actor there.
 */
final class ChunkAllocator {
  private static final int HELPERS = Math.max(0, Runtime.getRuntime().availableProcessors() - 1);
  private static final ExecutorService POOL = HELPERS == 0 ? null : Executors.newFixedThreadPool(HELPERS, r -> {
    Thread t = new Thread(r, "guest-memory-allocator");
    t.setDaemon(true);
    return t;
  });

  private ChunkAllocator() {}

  /**
   * count little-endian direct buffers, chunk i of bytesOf(i) bytes. The first failure (no room:
   * OutOfMemoryError) stops the rest, since each later one would cost a full GC and the JDK's wait
   * for room, and is thrown here as it was.
   */
  static ByteBuffer[] allocate(int count, IntToLongFunction bytesOf) {
    ByteBuffer[] chunks = new ByteBuffer[count];
    AtomicInteger next = new AtomicInteger();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    CountDownLatch settled = new CountDownLatch(count); // each chunk allocated, failed or skipped: publishes it here
    Runnable work = () -> {
      for (int i; (i = next.getAndIncrement()) < count; settled.countDown()) {
        if (failed.get() != null) continue;
        try {
          chunks[i] = ByteBuffer.allocateDirect(Math.toIntExact(bytesOf.applyAsLong(i))).order(ByteOrder.LITTLE_ENDIAN);
        } catch (RuntimeException | Error e) {
          failed.compareAndSet(null, e);
        }
      }
    };
    for (int h = 0; h < Math.min(HELPERS, count - 1); h++) POOL.execute(work);
    work.run();
    awaitUninterruptibly(settled); // only chunks a helper is still allocating: the rest are claimed
    Throwable e = failed.get();
    if (e instanceof RuntimeException r) throw r;
    if (e instanceof Error r) throw r;
    return chunks;
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    while (true) {
      try {
        latch.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
  }
}
