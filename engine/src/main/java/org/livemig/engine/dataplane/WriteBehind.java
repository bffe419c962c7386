package org.livemig.engine.dataplane;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.livemig.engine.guest.disk.DiskFile;

/**
 * The destination's write-behind for a disk stream. The bulk copy's blocks are written without a
 * sync, so the page cache would hold gigabytes until the copy's barrier forced them all at once:
 * a 4 GiB disk's barrier outlasted the source's ack timeout on a busy host, and the migration
 * failed. Every {@link #FORCE_EVERY} bytes a force starts on a thread of its own while the stream
 * goes on; once {@link #MAX_BEHIND} bytes were written while one runs, the stream waits for it. So
 * what a barrier has to force stays bounded whatever the disk's speed, and a disk slower than the
 * link slows the copy (the source's sends block) instead of piling up unsynced data.
 */
final class WriteBehind implements AutoCloseable {
  static final long FORCE_EVERY = 32L << 20;
  static final long MAX_BEHIND = 128L << 20;

  /** Makes everything written so far durable. */
  @FunctionalInterface
  interface Force {
    void run() throws IOException;
  }

  private final Force force;
  private final long forceEvery;
  private final long maxBehind;
  private final ExecutorService thread;
  private Future<?> inFlight; // the receiving thread only, as is written
  private long written; // since the force in flight started, or since the last one did

  WriteBehind(String migrationId, List<DiskFile> disks) {
    this(migrationId, () -> {
      for (DiskFile d : disks) d.force();
    }, FORCE_EVERY, MAX_BEHIND);
  }

  WriteBehind(String migrationId, Force force, long forceEvery, long maxBehind) {
    this.force = force;
    this.forceEvery = forceEvery;
    this.maxBehind = maxBehind;
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "dataplane-blocks-flush-" + migrationId);
      t.setDaemon(true);
      return t;
    });
  }

  /** Bytes written to the disks, not yet durable: starts a force, or waits for the one in flight when far behind. */
  void written(long bytes) throws IOException {
    written += bytes;
    if (inFlight != null && (inFlight.isDone() || written >= maxBehind)) awaitIdle();
    if (inFlight == null && written >= forceEvery) {
      written = 0;
      inFlight = thread.submit(() -> {
        force.run();
        return null;
      });
    }
  }

  /** Waits for the force in flight, if any (a barrier's force follows); its failure fails the stream. */
  void awaitIdle() throws IOException {
    Future<?> f = inFlight;
    if (f == null) return;
    inFlight = null;
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for the write-behind", e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException("write-behind failed: " + e.getCause(), e);
    }
  }

  @Override
  public void close() {
    thread.shutdown();
  }
}
