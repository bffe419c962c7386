package org.livemig.engine.dataplane.postcopy;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.livemig.engine.dataplane.DataChannel;
import org.livemig.engine.dataplane.DataPlaneException;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.PagesFrame;
import org.livemig.engine.dataplane.StreamHandler;
import org.livemig.engine.dataplane.Watchdog;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.guest.PostcopyPages;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.PageRequest;
import org.livemig.messages.Pages;
import org.livemig.messages.RecvBitmap;
import org.livemig.messages.ResumeAck;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Destination end of postcopy, one per migration (settings limit the page payload of a frame; the
 * frame limit is that of the server's codec). Registered with the {@link DataPlaneServer} for
 * POSTCOPY_PAGES, it takes every authenticated postcopy connection (a newer one supersedes an older one still open). Per
 * connection: RECV_BITMAP and RESUME_ACK, then it becomes the guest's page requester and reads
 * pages, each written only while it is missing. A separate thread per connection writes the
 * return path (requests, keepalives, the final end of stream). A broken or silent link pauses:
 * received pages stay, waiting guest accesses keep waiting until the next connection.
 *
 * <p>Listener methods are called one at a time, in order, under this object's lock: they must
 * only hand off (e.g. tell an actor).
 */
public final class PostcopyReceiver implements StreamHandler, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PostcopyReceiver.class);
  /** Page indices per PageRequest frame at most: about 40 KiB, far below the frame limit. */
  private static final int MAX_REQUEST = 4096;

  public enum State { WAITING, RECOVER, ACTIVE, PAUSED, COMPLETE, CLOSED }

  public interface Listener {
    void onRecover(int connection);

    void onActive(int connection);

    void onPaused(String reason);

    void onComplete();
  }

  private final String migrationId;
  private final GuestMemory memory;
  private final PostcopyPages pages;
  private final DataPlaneSettings settings;
  private final Duration keepalive;
  private final Listener listener;
  private final Watchdog watchdog;
  /** Page writes of every connection; a superseded connection can no longer write once it is taken. */
  private final Object writeLock = new Object();
  private final AtomicLong pagesReceived = new AtomicLong();
  private final AtomicLong duplicatePages = new AtomicLong();
  private final AtomicLong requestsSent = new AtomicLong();
  private final AtomicInteger connections = new AtomicInteger();
  // Guarded by this; link is also only replaced while holding writeLock.
  private State state = State.WAITING;
  private boolean completed;
  private PostcopyLink link;

  public PostcopyReceiver(String migrationId, GuestMemory memory, PostcopyPages pages, DataPlaneSettings settings,
      Duration keepalive, Listener listener) {
    if (pages.pageCount() != memory.pageCount()) {
      throw new IllegalArgumentException("postcopy pages of " + pages.pageCount() + " pages for memory of " + memory.pageCount());
    }
    if (keepalive.toMillis() < 30) throw new IllegalArgumentException("keepalive too short: " + keepalive);
    this.migrationId = migrationId;
    this.memory = memory;
    this.pages = pages;
    this.settings = settings;
    this.keepalive = keepalive;
    this.listener = listener;
    this.watchdog = new Watchdog("postcopy-watchdog-dst-" + migrationId, Watchdog.tickFor(keepalive));
  }

  public synchronized State state() {
    return state;
  }

  /** Pages written into guest memory. */
  public long pagesReceived() {
    return pagesReceived.get();
  }

  /** Pages that arrived while already present (not written). Only a lost-and-resent race could cause one. */
  public long duplicatePages() {
    return duplicatePages.get();
  }

  /** Page indices sent in PageRequests. */
  public long requestsSent() {
    return requestsSent.get();
  }

  /** Postcopy connections handed to this receiver. */
  public int connections() {
    return connections.get();
  }

  /**
   * Closes the current connection without callbacks; later connections are closed at once. Idempotent.
   * After completion the source gets up to a keepalive to read our end of stream and close first:
   * closing under it would reset the connection, lose the end of stream and pause the source.
   */
  @Override
  public void close() {
    PostcopyLink l;
    boolean linger;
    synchronized (this) {
      if (state == State.CLOSED) return;
      linger = state == State.COMPLETE;
      state = State.CLOSED;
      l = link;
      pages.setRequester(null);
    }
    if (l != null && linger && !l.isEnded()) {
      PostcopyLink closing = l;
      PostcopyLink.start("postcopy-dst-linger-" + migrationId, () -> {
        long deadline = System.nanoTime() + keepalive.toNanos();
        while (!closing.isEnded() && System.nanoTime() < deadline) sleepBriefly();
        closing.end();
        watchdog.close();
      });
    } else {
      if (l != null) l.end();
      watchdog.close();
    }
    log.info("postcopy receiver of migration {} closed", migrationId);
  }

  private static void sleepBriefly() {
    try {
      Thread.sleep(5);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Every authenticated postcopy channel is taken; a newer one supersedes an older one still open. */
  @Override
  public Admission admit(ChannelHeader header, DataChannel channel) {
    // The channel number means nothing here: one postcopy link at a time.
    return Admission.serve(() -> {
      Thread.currentThread().setName("dataplane-postcopy-rx-" + migrationId);
      serve(channel, String.valueOf(channel.remoteAddress()));
    });
  }

  /** The migration is forgotten: same as close. */
  @Override
  public void forget() {
    close();
  }

  /** Runs one accepted postcopy connection on the server's connection thread until it ends; never throws. */
  private void serve(DataChannel channel, String peer) {
    PostcopyLink l = attach(channel, peer);
    if (l == null) return;
    try {
      handshake(l);
      if (!becomeActive(l)) {
        l.end(); // closed or superseded during the handshake
        return;
      }
      PostcopyLink.start("postcopy-dst-tx-" + migrationId + "-" + l.number, () -> writeReturnPath(l));
      for (long page : pages.waitingPages()) l.enqueue(page); // asked on a dead link, or while paused
      completeIfNothingMissing(l); // e.g. the source missed our end of stream last time
      receive(l);
    } catch (DataPlaneException e) {
      failed(l, e.getMessage());
    } catch (RuntimeException e) {
      log.error("postcopy connection {} of migration {} failed unexpectedly", l.number, migrationId, e);
      failed(l, e.toString());
    }
  }

  /** Makes the connection current, superseding (closing) an older one the destination may still think alive. */
  private PostcopyLink attach(DataChannel channel, String peer) {
    PostcopyLink l;
    PostcopyLink old;
    synchronized (this) {
      if (state == State.CLOSED) return null; // the server closes the channel
      l = new PostcopyLink(connections.incrementAndGet(), channel);
      old = link;
      synchronized (writeLock) {
        link = l; // from now on the old connection writes no page: RECV_BITMAP below is complete
      }
      pages.setRequester(null);
      l.watchSilence(watchdog, keepalive, reason -> failed(l, reason));
      log.info("postcopy connection {} of migration {} from {}", l.number, migrationId, peer);
      if (state != State.COMPLETE) {
        state = State.RECOVER;
        listener.onRecover(l.number);
      }
    }
    if (old != null && old.end()) log.info("postcopy connection {} of migration {} superseded by {}", old.number, migrationId, l.number);
    return l;
  }

  /** RECV_BITMAP_REQUEST -> RECV_BITMAP, RESUME -> RESUME_ACK. */
  private void handshake(PostcopyLink l) {
    Frame f = l.read();
    if (!f.hasRecvBitmapRequest()) throw new DataPlaneException("expected RECV_BITMAP_REQUEST, got " + f.getKindCase());
    byte[] present = DirtyBitmap.toBytes(pages.presentSnapshot());
    l.write(Frame.newBuilder().setRecvBitmap(RecvBitmap.newBuilder()
        .setPageCount(memory.pageCount()).setBitmap(ByteString.copyFrom(present))).build());
    f = l.read();
    if (!f.hasResume()) throw new DataPlaneException("expected RESUME, got " + f.getKindCase());
    l.write(Frame.newBuilder().setResumeAck(ResumeAck.getDefaultInstance()).build());
  }

  private synchronized boolean becomeActive(PostcopyLink l) {
    if (l != link || state == State.CLOSED) return false;
    pages.setRequester(l::enqueue); // before waitingPages is read: no access can fall between the two
    if (state == State.RECOVER) {
      state = State.ACTIVE;
      log.info("postcopy connection {} of migration {} active, {} page(s) missing", l.number, migrationId, pages.missingCount());
      listener.onActive(l.number);
    }
    return true;
  }

  private void receive(PostcopyLink l) {
    ByteBuffer buffer = null; // per connection: a superseded reader may still be filling its own
    while (true) {
      Frame f = l.read();
      switch (f.getKindCase()) {
        case PAGES -> {
          buffer = receivePages(l, f.getPages(), buffer);
          completeIfNothingMissing(l);
        }
        case KEEPALIVE -> { }
        default -> throw new DataPlaneException("unexpected " + f.getKindCase() + " frame on the postcopy channel");
      }
    }
  }

  private ByteBuffer receivePages(PostcopyLink l, Pages p, ByteBuffer buffer) {
    int count = p.getIndicesCount();
    int len = PagesFrame.payloadBytes(p, memory, settings.maxPayloadBytes());
    // The whole payload is read before anything is written: a truncated batch never reaches memory.
    ByteBuffer b = buffer != null && buffer.capacity() >= len ? buffer
        : ByteBuffer.allocateDirect(Math.max(len, PostcopySource.PUSH_BATCH * memory.pageSize()));
    l.readPayload(b, len);
    // A torn batch pauses the link like any broken connection; the recovery resends what is missing.
    if (!l.payloadIntact()) throw new DataPlaneException("a batch of " + count + " page(s) failed its checksum: the link corrupts data");
    synchronized (writeLock) {
      if (l != link) throw new DataPlaneException("superseded by a newer connection");
      for (int i = 0; i < count; i++) {
        long page = p.getIndices(i);
        if (stillMissing(page)) {
          memory.writePage(page, b.position(i * memory.pageSize())); // content first, then present
          arrived(page);
        }
      }
      for (int i = 0; i < p.getZeroIndicesCount(); i++) {
        long page = p.getZeroIndices(i);
        if (stillMissing(page)) {
          memory.zeroPage(page); // a missing page may hold a stale precopy copy
          arrived(page);
        }
      }
    }
    return b;
  }

  /** A present page may have been written by the guest since: its copy is never written, only counted. */
  private boolean stillMissing(long page) {
    if (!pages.isPresent(page)) return true;
    duplicatePages.incrementAndGet();
    return false;
  }

  private void arrived(long page) {
    if (pages.markArrived(page)) pagesReceived.incrementAndGet();
    else duplicatePages.incrementAndGet(); // cannot happen under writeLock; counted so a test would see it
  }

  /** The return path's only writer: coalesced page requests, keepalives when idle, the end of stream. */
  private void writeReturnPath(PostcopyLink l) {
    long interval = keepalive.toNanos() / 3;
    try {
      while (!l.isEnded()) {
        Long item = l.poll(interval - l.nanosSinceWrite());
        if (item == null) {
          if (l.nanosSinceWrite() >= interval) l.write(PostcopyLink.KEEPALIVE);
        } else if (item == PostcopyLink.END_OF_STREAM) {
          l.write(Frame.newBuilder().setEos(EndOfStream.newBuilder().setTotalPages(memory.pageCount())).build());
          l.shutdownOutput(); // the source closes on our end of stream; we read until it does
          return;
        } else if (item >= 0) {
          requestPages(l, item);
        }
      }
    } catch (DataPlaneException e) {
      failed(l, e.getMessage());
    } catch (RuntimeException e) {
      log.error("postcopy return path of migration {} failed unexpectedly", migrationId, e);
      failed(l, e.toString());
    }
  }

  private void requestPages(PostcopyLink l, long first) {
    PageRequest.Builder r = PageRequest.newBuilder();
    boolean endOfStream = false;
    for (Long p = first; p != null; p = r.getIndicesCount() < MAX_REQUEST ? l.pollNow() : null) {
      if (p == PostcopyLink.END_OF_STREAM) endOfStream = true;
      else if (p >= 0 && !pages.isPresent(p)) r.addIndices(p); // arrived meanwhile: no need to ask
    }
    if (endOfStream) l.enqueue(PostcopyLink.END_OF_STREAM); // after these requests
    if (r.getIndicesCount() == 0) return;
    l.write(Frame.newBuilder().setPageRequest(r).build());
    requestsSent.addAndGet(r.getIndicesCount());
  }

  /**
   * Once every page is present the destination is complete, whatever happens to the link; then
   * the source is told. Complete first, so the source's close after our end of stream is no
   * failure; should the end of stream be lost, the source's next connection gets it after RESUME_ACK.
   */
  private void completeIfNothingMissing(PostcopyLink l) {
    if (pages.missingCount() != 0) return;
    complete();
    l.enqueue(PostcopyLink.END_OF_STREAM); // the writer stops after it: later markers go unread
  }

  private synchronized void complete() {
    pages.setRequester(null);
    if (completed) return;
    completed = true;
    if (state == State.CLOSED) return;
    state = State.COMPLETE;
    log.info("postcopy of migration {} complete: {} page(s) received, {} duplicate(s), {} requested",
        migrationId, pagesReceived.get(), duplicatePages.get(), requestsSent.get());
    listener.onComplete();
  }

  /** Ends the connection and pauses, once; a superseded connection or one after completion ends quietly. */
  private void failed(PostcopyLink l, String reason) {
    if (!l.end()) return;
    synchronized (this) {
      if (l == link && (state == State.RECOVER || state == State.ACTIVE)) {
        pages.setRequester(null);
        state = State.PAUSED;
        log.warn("postcopy of migration {} paused (connection {}): {}", migrationId, l.number, reason);
        listener.onPaused(reason);
        return;
      }
    }
    log.debug("postcopy connection {} of migration {} ended: {}", l.number, migrationId, reason);
  }
}
