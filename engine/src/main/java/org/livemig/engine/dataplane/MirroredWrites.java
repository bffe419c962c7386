package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.livemig.engine.guest.disk.DiskFile;

/**
 * The destination's mirrored guest writes (sync frames with blocks), each made durable and
 * acknowledged on a thread of a small pool, side by side: the guest keeps up to its queue depth
 * of writes in flight, and a receiver that synced them one after the other made each wait for
 * all the others' syncs. Their order does not matter: a block has at most one guest write in
 * flight (the disk holds it), and the copy holds a block until the write to it is acknowledged.
 */
final class MirroredWrites implements AutoCloseable {
  private static final int THREADS = 16;

  private final ThreadPoolExecutor pool;
  private final Object lock = new Object();
  private int pending; // guarded by lock
  private IOException failure; // guarded by lock: the first write that failed fails the stream

  MirroredWrites(String migrationId) {
    AtomicInteger n = new AtomicInteger();
    pool = new ThreadPoolExecutor(THREADS, THREADS, 5, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "dataplane-blocks-sync-" + migrationId + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true); // idle between bursts of writes: no thread kept
  }

  /** Writes the blocks durably, then acks, on the pool; data is copied (the caller reuses its buffer). */
  void submit(DiskFile disk, long[] blocks, int count, ByteBuffer data, Runnable ack) throws IOException {
    long[] own = java.util.Arrays.copyOf(blocks, count);
    ByteBuffer copy = ByteBuffer.allocate(data.remaining()).put(data.duplicate()).flip();
    synchronized (lock) {
      if (failure != null) throw failure;
      pending++;
    }
    pool.execute(() -> {
      IOException failed = null;
      try {
        disk.writeBlocksDurably(own, count, copy);
        ack.run();
      } catch (IOException | RuntimeException e) {
        failed = e instanceof IOException io ? io : new IOException(e.toString(), e);
      }
      synchronized (lock) {
        if (failed != null && failure == null) failure = failed;
        pending--;
        lock.notifyAll();
      }
    });
  }

  /** Waits until every write submitted so far is durable and acknowledged (before a barrier's force). */
  void awaitAll() throws IOException {
    synchronized (lock) {
      while (pending > 0 && failure == null) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted waiting for mirrored writes", e);
        }
      }
      if (failure != null) throw failure;
    }
  }

  /** The stream ended: writes still queued are dropped (the migration fails without them), threads end. */
  @Override
  public void close() {
    pool.shutdownNow();
  }
}
