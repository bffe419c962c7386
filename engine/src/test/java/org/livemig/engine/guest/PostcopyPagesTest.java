package org.livemig.engine.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.livemig.messages.GuestDescription;

/** A destination guest in postcopy: accesses to missing pages wait, pause and destroy end the wait. */
class PostcopyPagesTest {
  private final GuestDescription d = SyntheticGuestTest.desc("pc", 20_000);
  private final BlockingQueue<Long> requests = new LinkedBlockingQueue<>();

  /** Makes dst a postcopy copy of source (paused): every page present except the missing one. */
  private PostcopyPages inPostcopy(SyntheticGuest source, SyntheticGuest dst, long missing) {
    byte[] page = new byte[d.getPageSize()];
    DirtyBitmap present = new DirtyBitmap(d.getPageCount());
    present.markAll();
    for (long p = 0; p < d.getPageCount(); p++) {
      source.memory().readPage(p, page);
      dst.memory().writePage(p, page);
    }
    long[] discard = new long[(int) ((d.getPageCount() + 63) / 64)];
    discard[(int) (missing >>> 6)] = 1L << (missing & 63);
    present.clear(discard);
    dst.memory().zeroPage(missing); // stale: must not be what the guest ends up with
    dst.loadDeviceState(source.deviceState());
    dst.assignOwner("dst");
    PostcopyPages pages = new PostcopyPages(present);
    pages.setRequester(requests::add);
    dst.setPostcopyPages(pages);
    return pages;
  }

  @Test
  void accessToAMissingPageWaitsForItAndPauseOrDestroyEndTheWait() throws Exception {
    GuestOracle oracle = new GuestOracle(d);
    SyntheticGuest src = SyntheticGuest.create(d, "src");
    src.run("src");
    Thread.sleep(50);
    SyntheticGuestTest.pauseAndWait(src);
    long missing = oracle.pageAt(src.steps()); // the destination's next step writes it
    SyntheticGuest dst = SyntheticGuest.empty(d);
    PostcopyPages pages = inPostcopy(src, dst, missing);
    try {
      assertEquals(1, pages.missingCount());
      long steps = dst.steps();
      dst.run("dst");
      assertEquals(missing, requests.poll(5, TimeUnit.SECONDS), "the access asked for its page");
      Thread.sleep(100);
      assertEquals(steps, dst.steps(), "the step waits for its page");
      assertArrayEquals(new long[] {missing}, pages.waitingPages());

      // A pause ends the wait without doing the step.
      SyntheticGuestTest.pauseAndWait(dst);
      assertEquals(steps, dst.steps());
      assertEquals(0, pages.waitingPages().length);

      // Running again asks again; the page arriving lets the step through.
      dst.run("dst");
      assertEquals(missing, requests.poll(5, TimeUnit.SECONDS));
      byte[] content = new byte[d.getPageSize()];
      src.memory().readPage(missing, content);
      dst.memory().writePage(missing, content); // content first,
      assertTrue(pages.markArrived(missing));     // then present
      assertFalse(pages.markArrived(missing), "a second arrival is a duplicate");
      for (int i = 0; i < 500 && dst.steps() <= steps + 100; i++) Thread.sleep(10);
      assertTrue(dst.steps() > steps + 100, "the guest went on after the page arrived");
      SyntheticGuestTest.pauseAndWait(dst);
      GuestOracle.Verification v = oracle.verify(dst.memory(), dst.steps());
      assertTrue(v.matches(), () -> "postcopy guest diverged: " + v);
      FaultStats f = pages.faultStats();
      assertEquals(1, f.faults(), "the interrupted wait is not a fault served");
      assertTrue(f.medianNanos() > 0 && f.maxNanos() >= f.p99Nanos() && f.p99Nanos() >= f.medianNanos(), f.toString());
      assertEquals(0, pages.missingCount());
    } finally {
      dst.destroy();
      src.destroy();
    }
  }

  @Test
  void destroyReturnsWhileTheWorkloadWaitsForAPage() throws Exception {
    SyntheticGuest src = SyntheticGuest.create(d, "src");
    long first = new GuestOracle(d).pageAt(0);
    SyntheticGuest dst = SyntheticGuest.empty(d);
    PostcopyPages pages = inPostcopy(src, dst, first);
    try {
      dst.run("dst");
      assertEquals(first, requests.poll(5, TimeUnit.SECONDS));
      long t0 = System.nanoTime();
      dst.destroy(); // joins the workload thread: it must leave the wait
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2), "destroy hung on a waiting workload");
      assertEquals(0, dst.steps());
      assertEquals(RunState.DESTROYED, dst.state());
      assertEquals(0, pages.faultStats().faults());
    } finally {
      dst.destroy();
      src.destroy();
    }
  }

  @Test
  void requesterInstalledLaterSeesTheWaitingPages() throws Exception {
    DirtyBitmap present = new DirtyBitmap(128);
    PostcopyPages pages = new PostcopyPages(present);
    assertEquals(128, pages.missingCount());
    Thread waiter = new Thread(() -> pages.awaitPresent(70, () -> true));
    waiter.start();
    for (int i = 0; i < 200 && pages.waitingPages().length == 0; i++) Thread.sleep(5);
    assertArrayEquals(new long[] {70}, pages.waitingPages(), "waits with no return path (paused)");
    pages.setRequester(requests::add);
    assertTrue(requests.isEmpty(), "a request is made once per wait; a resume re-requests waitingPages");
    assertTrue(pages.markArrived(70));
    waiter.join(2000);
    assertFalse(waiter.isAlive());
    assertEquals(127, pages.missingCount());
    assertTrue(pages.isPresent(70));
    assertEquals(1L << 6, pages.presentSnapshot()[1]);
  }
}
