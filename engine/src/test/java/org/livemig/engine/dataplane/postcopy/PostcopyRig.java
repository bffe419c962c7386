package org.livemig.engine.dataplane.postcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.chaos.LinkProxy;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.Guests;
import org.livemig.engine.dataplane.RecordingListener;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.PostcopyPages;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;
import org.livemig.messages.StreamKind;

/**
 * One postcopy migration on loopback at the moment of switchover: a paused source guest, a
 * destination guest holding a "precopied" part of memory (pages below a fraction, minus the
 * pages the source dirtied after they were copied: the discard), with its device state loaded
 * and its postcopy pages set, a receiver on a data server, a source, and a proxy between them.
 */
final class PostcopyRig implements AutoCloseable {
  static final String ID = "m-pc";
  static final String TOKEN = "pc-token";

  final GuestDescription description;
  final DataPlaneServer server;
  final SyntheticGuest src;
  final SyntheticGuest dst;
  final PostcopyPages pages;
  final long missingAtSwitchover;
  final PostcopyEvents srcEvents = new PostcopyEvents("source");
  final PostcopyEvents dstEvents = new PostcopyEvents("destination");
  final PostcopyReceiver receiver;
  final PostcopySource source;
  final LinkProxy proxy;

  /** 4 KiB pages, a hot set of 256 pages taking 90% of the writes. */
  static GuestDescription guest(long pageCount, long pagesPerSecond) {
    return GuestDescription.newBuilder()
        .setGuestId("pc-guest").setPageSize(Guests.PAGE).setPageCount(pageCount).setSeed(7)
        .setDirtyPagesPerSecond(pagesPerSecond).setHotPages(256).setHotPerMille(900)
        .setInitialFill(InitialFill.FILL_PATTERN).build();
  }

  PostcopyRig(GuestDescription d, double precopied, Duration keepalive, boolean inPostcopy) throws Exception {
    this.description = d;
    long n = d.getPageCount();
    src = SyntheticGuest.create(d, "src");
    runFor(src, 100);
    dst = SyntheticGuest.empty(d);
    byte[] page = new byte[Guests.PAGE];
    DirtyBitmap present = new DirtyBitmap(n);
    for (long p = 0; p < n; p++) { // copied whole, so a page still missing holds a stale copy
      src.memory().readPage(p, page);
      dst.memory().writePage(p, page);
      if (p < precopied * n) present.mark(p);
    }
    src.dirtyBitmap().syncAndClear();
    runFor(src, 50);
    present.clear(src.dirtyBitmap().syncAndClear()); // the postcopy discard
    dst.loadDeviceState(src.deviceState());
    dst.assignOwner("dst");
    pages = new PostcopyPages(present);
    missingAtSwitchover = pages.missingCount();
    dst.setPostcopyPages(pages);

    DataPlaneSettings settings = DataPlaneSettings.defaults();
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
    receiver = new PostcopyReceiver(ID, dst.memory(), pages, settings, keepalive, dstEvents);
    server.expect(ID, TOKEN, 1, new RecordingListener(), dst.memory(), new DirtyBitmap(n));
    if (inPostcopy) server.expectStream(ID, StreamKind.POSTCOPY_PAGES, receiver);
    source = new PostcopySource(ID, src.memory(), settings, keepalive, srcEvents);
    proxy = LinkProxy.inFrontOf(server.port());
  }

  private static void runFor(SyntheticGuest g, long millis) throws Exception {
    if (g.description().getDirtyPagesPerSecond() == 0) return;
    g.run(g.ownerToken());
    Thread.sleep(millis);
    g.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** Connects the source through the proxy. */
  void connect() {
    source.connect("127.0.0.1", proxy.port(), TOKEN, Duration.ofSeconds(2));
  }

  void awaitActive(int connection) throws InterruptedException {
    assertEquals("active " + connection, dstEvents.await("active"));
    assertEquals("active " + connection, srcEvents.await("active"));
  }

  void awaitPaused() throws InterruptedException {
    srcEvents.await("paused");
    dstEvents.await("paused");
    assertEquals(PostcopySource.State.PAUSED, source.state());
    assertEquals(PostcopyReceiver.State.PAUSED, receiver.state());
  }

  /** Both ends complete, every page arrived exactly once, and the destination guest follows the oracle. */
  void assertCompleteAndCorrect() throws Exception {
    dstEvents.await("complete");
    srcEvents.await("complete");
    assertEquals(PostcopySource.State.COMPLETE, source.state());
    assertEquals(PostcopyReceiver.State.COMPLETE, receiver.state());
    assertEquals(0, pages.missingCount());
    assertEquals(0, receiver.duplicatePages(), "a page arrived that was already present");
    assertEquals(missingAtSwitchover, receiver.pagesReceived(), "every missing page written once");
    assertEquals(0, source.pagesLeft());
    dst.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    GuestOracle.Verification v = new GuestOracle(description).verify(dst.memory(), dst.steps());
    assertTrue(v.matches(), () -> "destination diverged from the guest's history: " + v);
  }

  /** The destination guest is blocked on a missing page: one access waits and steps stand still. */
  void assertGuestBlocked() throws InterruptedException {
    for (int i = 0; i < 200 && pages.waitingPages().length == 0; i++) Thread.sleep(10);
    assertEquals(1, pages.waitingPages().length, "the workload waits for one page");
    long steps = dst.steps();
    Thread.sleep(200);
    assertEquals(steps, dst.steps(), "a guest waiting for a missing page made progress");
  }

  @Override
  public void close() throws IOException {
    dst.destroy(); // returns promptly even while the workload waits for a page
    src.destroy();
    source.close();
    receiver.close();
    proxy.close();
    server.close();
  }
}
