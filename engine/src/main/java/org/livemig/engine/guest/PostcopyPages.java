package org.livemig.engine.guest;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Destination side of postcopy: which pages hold valid content, and the guest accesses waiting
 * for the ones that do not (QEMU's userfault wait). A guest access to a missing page asks the
 * source for it through the {@link Requester} and blocks until the data plane has written it.
 *
 * <p>Rule for writers: once a page is present the guest may write it, so a later copy from the
 * source must never be written. The data plane therefore writes a page only while it is missing
 * (the guest never touches a missing page, so nobody else writes it), writes the content first
 * and then calls {@link #markArrived}, so whoever sees the bit sees the content.
 */
public final class PostcopyPages {
  private static final Logger log = LoggerFactory.getLogger(PostcopyPages.class);
  /** Fault latencies kept for the percentiles; beyond this the oldest are overwritten. */
  private static final int MAX_SAMPLES = 1 << 16;

  /** The return path: asks the source for a page. Must not block (the guest thread calls it). */
  public interface Requester {
    void request(long page);
  }

  private final DirtyBitmap present;
  private final AtomicLong missing;
  /** Accesses blocked right now: lets an arrival skip the lock when nobody waits. */
  private final AtomicInteger waiters = new AtomicInteger();
  private final Object lock = new Object();
  // Guarded by lock.
  private final Map<Long, Integer> waiting = new HashMap<>();
  private final long[] samples = new long[MAX_SAMPLES];
  private long faults;
  private long maxNanos;
  private volatile Requester requester;

  /** present: bits set = pages valid at switchover (after the discard); it keeps being marked as pages arrive. */
  public PostcopyPages(DirtyBitmap present) {
    this.present = present;
    this.missing = new AtomicLong(present.pageCount() - present.count());
  }

  public long pageCount() {
    return present.pageCount();
  }

  /** The return path; replaced at each reconnect, null while paused (requests then wait for {@link #waitingPages}). */
  public void setRequester(Requester r) {
    requester = r;
  }

  public boolean isPresent(long page) {
    return present.isSet(page);
  }

  /**
   * Guest thread, before touching a missing page: asks for it (once per wait) and blocks until it
   * is present or keepWaiting turns false (guest pausing or destroyed; those call {@link #wakeAll}).
   * Returns whether the page is present. An interrupt ends the wait with the interrupt status kept.
   */
  public boolean awaitPresent(long page, BooleanSupplier keepWaiting) {
    if (present.isSet(page)) return true;
    long t0 = System.nanoTime();
    synchronized (lock) {
      // Registered before the request: a requester installed later re-requests it via waitingPages.
      waiting.merge(page, 1, Integer::sum);
      waiters.incrementAndGet();
    }
    try {
      request(page);
      synchronized (lock) {
        try {
          while (!present.isSet(page) && keepWaiting.getAsBoolean()) lock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt(); // the caller decides what an interrupt means
        }
        boolean arrived = present.isSet(page);
        if (arrived) recordFault(System.nanoTime() - t0);
        return arrived;
      }
    } finally {
      synchronized (lock) {
        waiting.computeIfPresent(page, (p, n) -> n == 1 ? null : n - 1);
        waiters.decrementAndGet();
      }
    }
  }

  private void request(long page) {
    Requester r = requester;
    if (r == null || present.isSet(page)) return;
    try {
      r.request(page);
    } catch (RuntimeException e) {
      // The wait goes on: the page is asked for again when the next connection resumes.
      log.warn("requesting page {} failed: {}", page, e.toString());
    }
  }

  /** Waiters re-check their keepWaiting (a guest pause or destroy calls this). */
  public void wakeAll() {
    synchronized (lock) {
      lock.notifyAll();
    }
  }

  /**
   * Data plane, after writing the page's content: marks it present and wakes its waiters.
   * Returns false if it already was present (a duplicate: its copy must not have been written).
   */
  public boolean markArrived(long page) {
    if (!present.markIfClear(page)) return false;
    missing.decrementAndGet();
    // Dekker pair with awaitPresent: bit set, then waiters read; waiters incremented, then bit read.
    if (waiters.get() > 0) {
      synchronized (lock) {
        if (waiting.containsKey(page)) lock.notifyAll();
      }
    }
    return true;
  }

  public long missingCount() {
    return missing.get();
  }

  /** Pages some access waits for now, in page order (re-requested when a connection resumes). */
  public long[] waitingPages() {
    synchronized (lock) {
      return waiting.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
    }
  }

  /** The present set, word by word (bit i = page i), for RECV_BITMAP. */
  public long[] presentSnapshot() {
    return present.snapshot();
  }

  public FaultStats faultStats() {
    long[] sorted;
    long count;
    long max;
    synchronized (lock) {
      count = faults;
      max = maxNanos;
      sorted = Arrays.copyOf(samples, (int) Math.min(count, MAX_SAMPLES));
    }
    if (sorted.length == 0) return FaultStats.NONE;
    Arrays.sort(sorted);
    int n = sorted.length;
    int p99 = Math.min(n - 1, (int) Math.ceil(n * 0.99) - 1);
    return new FaultStats(count, sorted[n / 2], sorted[p99], max);
  }

  private void recordFault(long nanos) { // under lock
    samples[(int) (faults % MAX_SAMPLES)] = nanos;
    faults++;
    maxNanos = Math.max(maxNanos, nanos);
  }
}
