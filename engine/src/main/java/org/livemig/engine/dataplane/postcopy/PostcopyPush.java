package org.livemig.engine.dataplane.postcopy;

import java.time.Duration;
import org.livemig.engine.dataplane.PageBatch;
import org.livemig.engine.guest.GuestMemory;

/**
 * The postcopy source's writer loop for one connection: requested pages first, then one small
 * batch of the background push in page order, then the requests again, so a requested page never
 * waits behind a bulk queue. With nothing left to push it sends a keepalive every keepalive/3.
 * A bandwidth cap paces the background push only: requested pages always go at once (QEMU's
 * max-postcopy-bandwidth does the same). Runs until the link ends; a write failure throws.
 */
final class PostcopyPush {
  /** What was written: pages[0..count), the first urgent of them on request. */
  interface Sent {
    void pages(long[] pages, int count, int urgent);
  }

  private final PostcopyLink link;
  private final GuestMemory memory;
  private final PagesToSend toSend;
  private final long keepaliveNanos;
  private final Sent sent;
  private final java.util.function.LongSupplier maxBandwidth;
  private long paceNext = System.nanoTime();
  private final PageBatch batch = new PageBatch(PostcopySource.PUSH_BATCH, PostcopySource.PUSH_BATCH);
  private final long[] pages = new long[PostcopySource.PUSH_BATCH];
  private int count;

  PostcopyPush(PostcopyLink link, GuestMemory memory, PagesToSend toSend, Duration keepalive,
      java.util.function.LongSupplier maxBandwidth, Sent sent) {
    this.maxBandwidth = maxBandwidth;
    this.link = link;
    this.memory = memory;
    this.toSend = toSend;
    this.keepaliveNanos = keepalive.toNanos() / 3;
    this.sent = sent;
  }

  void run() {
    Long next = null; // a request that arrived while idle
    while (!link.isEnded()) {
      int urgent = takeRequested(next);
      next = null;
      if (urgent > 0) {
        flush(urgent);
        continue;
      }
      long paced = paceWait();
      if (paced > 0) { // over the cap: wait, but serve any request that comes meanwhile
        next = link.poll(paced);
        continue;
      }
      int n = toSend.takeNext(link, pages);
      if (n > 0) {
        for (int i = 0; i < n; i++) add(pages[i]);
        flush(0);
        long rate = maxBandwidth.getAsLong();
        if (rate > 0) paceNext += (long) n * memory.pageSize() * 1_000_000_000L / rate;
        continue;
      }
      long idle = link.nanosSinceWrite();
      if (idle >= keepaliveNanos) {
        link.write(PostcopyLink.KEEPALIVE);
        continue;
      }
      next = link.poll(keepaliveNanos - idle);
    }
  }

  /** Nanoseconds until the next background batch fits the cap (0: now); unused credit is not hoarded. */
  private long paceWait() {
    if (maxBandwidth.getAsLong() <= 0) return 0;
    long now = System.nanoTime();
    paceNext = Math.max(paceNext, now - 10_000_000L);
    return Math.max(0, paceNext - now);
  }

  /** Batches the queued requests still left to send; a request for a page already sent is skipped. */
  private int takeRequested(Long first) {
    int urgent = 0;
    Long p = first != null ? first : link.pollNow();
    while (p != null) {
      if (p >= 0 && toSend.take(link, p)) {
        add(p);
        urgent++;
      }
      p = urgent < PostcopySource.PUSH_BATCH ? link.pollNow() : null;
    }
    return urgent;
  }

  private void add(long page) {
    if (memory.isZeroPage(page)) batch.zero(page);
    else batch.page(memory, page);
    pages[count++] = page;
  }

  private void flush(int urgent) {
    link.writePages(batch, memory);
    sent.pages(pages, count, urgent);
    batch.clear();
    count = 0;
  }
}
