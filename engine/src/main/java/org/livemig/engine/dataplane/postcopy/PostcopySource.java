package org.livemig.engine.dataplane.postcopy;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.livemig.engine.dataplane.ChannelRefusedException;
import org.livemig.engine.dataplane.DataPlane;
import org.livemig.engine.dataplane.DataPlaneException;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.LinkOptions;
import org.livemig.engine.dataplane.Watchdog;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.livemig.messages.RecvBitmap;
import org.livemig.messages.RecvBitmapRequest;
import org.livemig.messages.Resume;
import org.livemig.messages.StreamKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Source end of postcopy, one per migration, living across connections. Each {@link #connect}
 * runs one connection on its own threads: handshake (RECV_BITMAP, RESUME, RESUME_ACK), then a
 * writer that sends requested pages ahead of a background push in page order, and a reader for
 * page requests, keepalives and the destination's end of stream. A broken or silent link pauses
 * (never fails); a later connect recovers and resends exactly what the destination lacks.
 * The source guest is paused, so pages go straight from its memory to the socket.
 *
 * <p>Listener methods are called one at a time, in order, under this object's lock: they must
 * only hand off (e.g. tell an actor).
 */
public final class PostcopySource implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PostcopySource.class);
  /** Background pages per frame: a requested page waits behind at most one such batch... */
  static final int PUSH_BATCH = 32;
  /** ...plus what sits in the socket buffer, hence a small one (precopy uses 4 MiB). */
  static final int SOCKET_BUFFER = 256 << 10;
  /** Requests and their pages must not wait for Nagle. */
  private static final LinkOptions LINK = new LinkOptions(SOCKET_BUFFER, 0, true);
  /** The first connection races the destination's Finish by design: retry soon. */
  private static final long RETRY_NANOS = 10_000_000L;

  public enum State { IDLE, RECOVER, ACTIVE, PAUSED, COMPLETE, CLOSED }

  public interface Listener {
    void onActive(int connection);

    void onPaused(String reason);

    void onComplete();
  }

  private final String migrationId;
  private final GuestMemory memory;
  private final DataPlaneSettings settings;
  private final Duration keepalive;
  private final Listener listener;
  private final LinkOptions options;
  private final PagesToSend toSend;
  private final DirtyBitmap sentOnce;
  private final Watchdog watchdog;
  private final AtomicLong pagesSent = new AtomicLong();
  private final AtomicLong pagesResent = new AtomicLong();
  private final AtomicLong urgentPagesSent = new AtomicLong();
  private final AtomicLong requestsReceived = new AtomicLong();
  private final AtomicInteger connections = new AtomicInteger();
  private volatile long maxBandwidth;
  // Guarded by this.
  private State state = State.IDLE;
  private int attempt; // connect() calls; a failure of an older attempt changes nothing
  private PostcopyLink link;

  public PostcopySource(String migrationId, GuestMemory memory, DataPlaneSettings settings, Duration keepalive, Listener listener) {
    this(migrationId, memory, settings, keepalive, listener, null);
  }

  /**
   * destinationHost: on an authenticating transport every connection, a recovery's to a new
   * address too, must reach that host, or it sends nothing (null or empty = any peer).
   */
  public PostcopySource(String migrationId, GuestMemory memory, DataPlaneSettings settings, Duration keepalive, Listener listener,
      String destinationHost) {
    if (keepalive.toMillis() < 30) throw new IllegalArgumentException("keepalive too short: " + keepalive);
    this.migrationId = migrationId;
    this.memory = memory;
    this.settings = settings;
    this.keepalive = keepalive;
    this.listener = listener;
    this.options = destinationHost == null || destinationHost.isEmpty() ? LINK : LINK.expecting(destinationHost);
    this.toSend = new PagesToSend(memory.pageCount());
    this.sentOnce = new DirtyBitmap(memory.pageCount());
    this.watchdog = new Watchdog("postcopy-watchdog-src-" + migrationId, Watchdog.tickFor(keepalive));
  }

  /**
   * Opens a postcopy connection on its own threads and returns at once. A refusal because the
   * destination is not in postcopy yet is retried every 10 ms for up to retryFor; any other
   * failure pauses. Allowed only when IDLE or PAUSED.
   */
  public void connect(String host, int port, String token, Duration retryFor) {
    int a;
    synchronized (this) {
      if (state != State.IDLE && state != State.PAUSED) {
        throw new IllegalStateException("postcopy of migration " + migrationId + " cannot connect while " + state
            + " (only when IDLE or PAUSED)");
      }
      state = State.RECOVER;
      a = ++attempt;
    }
    log.info("postcopy of migration {} connecting to {}:{} (attempt {})", migrationId, host, port, a);
    PostcopyLink.start("postcopy-src-" + migrationId + "-" + a, () -> run(a, host, port, token, retryFor));
  }

  /** Caps the background push in bytes per second (0 = none); requested pages are never held back. */
  public void setMaxBandwidth(long bytesPerSecond) {
    if (bytesPerSecond < 0) throw new IllegalArgumentException("negative bandwidth: " + bytesPerSecond);
    maxBandwidth = bytesPerSecond;
  }

  public synchronized State state() {
    return state;
  }

  public long pagesSent() {
    return pagesSent.get();
  }

  /** Pages sent more than once over the migration (lost in flight on a broken connection). */
  public long pagesResent() {
    return pagesResent.get();
  }

  /** Pages sent because the destination asked for them. */
  public long urgentPagesSent() {
    return urgentPagesSent.get();
  }

  /** Pages the destination asked for (each index of each PageRequest). */
  public long requestsReceived() {
    return requestsReceived.get();
  }

  /** Pages still to send: lacking at the destination's last RECV_BITMAP and not sent since (all before the first). */
  public long pagesLeft() {
    return toSend.left();
  }

  /** Connections the destination accepted. */
  public int connections() {
    return connections.get();
  }

  @Override
  public void close() {
    PostcopyLink l;
    synchronized (this) {
      if (state == State.CLOSED) return;
      state = State.CLOSED;
      l = link;
    }
    if (l != null) l.end();
    watchdog.close();
    log.info("postcopy source of migration {} closed", migrationId);
  }

  /** One connection, on its own thread: dial, handshake, then this thread is the writer. */
  private void run(int a, String host, int port, String token, Duration retryFor) {
    PostcopyLink l = null;
    try {
      l = dial(a, host, port, token, retryFor);
      if (l == null) return; // closed or superseded meanwhile
      handshake(l);
      if (!becomeActive(l)) return;
      PostcopyLink reading = l;
      PostcopyLink.start("postcopy-src-rx-" + migrationId + "-" + l.number, () -> readReturnPath(a, reading));
      new PostcopyPush(l, memory, toSend, keepalive, () -> maxBandwidth, this::sent).run();
    } catch (DataPlaneException e) {
      failed(a, l, e.getMessage());
    } catch (RuntimeException e) {
      log.error("postcopy connection of migration {} failed unexpectedly", migrationId, e);
      failed(a, l, e.toString());
    }
  }

  private PostcopyLink dial(int a, String host, int port, String token, Duration retryFor) {
    long deadline = System.nanoTime() + retryFor.toNanos();
    ChannelHeader header = ChannelHeader.newBuilder().setProtocolVersion(DataPlane.PROTOCOL_VERSION)
        .setMigrationId(migrationId).setToken(token).setKind(StreamKind.POSTCOPY_PAGES).build();
    while (true) {
      try {
        PostcopyLink l = PostcopyLink.dial(host, port, header, settings, options, connections::incrementAndGet);
        synchronized (this) {
          if (a == attempt && state == State.RECOVER) {
            link = l;
            l.watchSilence(watchdog, keepalive, reason -> failed(a, l, reason));
            return l;
          }
        }
        l.end();
        return null;
      } catch (ChannelRefusedException e) {
        if (!e.reason().contains(DataPlane.NOT_IN_POSTCOPY) || System.nanoTime() + RETRY_NANOS > deadline) throw e;
        log.debug("postcopy of migration {}: {}; retrying", migrationId, e.reason());
      }
      sleepBeforeRetry();
      synchronized (this) {
        if (a != attempt || state != State.RECOVER) return null;
      }
    }
  }

  /** RECV_BITMAP -> rebuild what is left to send -> RESUME -> RESUME_ACK. */
  private void handshake(PostcopyLink l) {
    l.write(Frame.newBuilder().setRecvBitmapRequest(RecvBitmapRequest.getDefaultInstance()).build());
    Frame f = l.read();
    if (!f.hasRecvBitmap()) throw new DataPlaneException("expected RECV_BITMAP, got " + f.getKindCase());
    RecvBitmap rb = f.getRecvBitmap();
    if (rb.getPageCount() != memory.pageCount()) {
      throw new DataPlaneException("RECV_BITMAP of " + rb.getPageCount() + " pages for a guest of " + memory.pageCount());
    }
    long[] present;
    try {
      present = DirtyBitmap.fromBytes(rb.getBitmap().toByteArray(), memory.pageCount());
    } catch (IllegalArgumentException e) {
      throw new DataPlaneException("malformed RECV_BITMAP: " + e.getMessage(), e);
    }
    long left = toSend.rebuild(l, present);
    log.info("postcopy connection {} of migration {}: destination lacks {} page(s)", l.number, migrationId, left);
    l.write(Frame.newBuilder().setResume(Resume.getDefaultInstance()).build());
    f = l.read();
    if (!f.hasResumeAck()) throw new DataPlaneException("expected RESUME_ACK, got " + f.getKindCase());
  }

  private synchronized boolean becomeActive(PostcopyLink l) {
    if (l != link || state != State.RECOVER) return false;
    state = State.ACTIVE;
    log.info("postcopy connection {} of migration {} active", l.number, migrationId);
    listener.onActive(l.number);
    return true;
  }

  /** The destination's side: page requests, keepalives, and its end of stream once it has every page. */
  private void readReturnPath(int a, PostcopyLink l) {
    try {
      while (true) {
        Frame f = l.read();
        switch (f.getKindCase()) {
          case PAGE_REQUEST -> {
            for (long page : f.getPageRequest().getIndicesList()) {
              if (page < 0 || page >= memory.pageCount()) {
                throw new DataPlaneException("request for page " + Long.toUnsignedString(page) + " outside guest of " + memory.pageCount() + " pages");
              }
              requestsReceived.incrementAndGet();
              l.enqueue(page);
            }
          }
          case KEEPALIVE -> { }
          case EOS -> {
            completed(l);
            return;
          }
          default -> throw new DataPlaneException("unexpected " + f.getKindCase() + " frame on the postcopy return path");
        }
      }
    } catch (DataPlaneException e) {
      failed(a, l, e.getMessage());
    } catch (RuntimeException e) {
      log.error("postcopy return path of migration {} failed unexpectedly", migrationId, e);
      failed(a, l, e.toString());
    }
  }

  private void completed(PostcopyLink l) {
    synchronized (this) {
      if (l == link && state == State.ACTIVE) {
        state = State.COMPLETE;
        log.info("postcopy of migration {} complete: {} page(s) sent, {} resent, {} on request",
            migrationId, pagesSent.get(), pagesResent.get(), urgentPagesSent.get());
        listener.onComplete();
      }
    }
    l.end(); // the destination closes too; not a failure
  }

  /** Ends the link (if any) and pauses, reporting once per connection; stale attempts change nothing. */
  private void failed(int a, PostcopyLink l, String reason) {
    if (l != null && !l.end()) return; // already ended: reported (or ended quietly) by whoever ended it
    synchronized (this) {
      if (a == attempt && (state == State.RECOVER || state == State.ACTIVE)) {
        state = State.PAUSED;
        log.warn("postcopy of migration {} paused{}: {}", migrationId, l == null ? "" : " (connection " + l.number + ")", reason);
        listener.onPaused(reason);
        return;
      }
    }
    log.debug("postcopy connection of migration {} ended: {}", migrationId, reason);
  }

  /** Counts what the push wrote: resent = sent before over this migration. */
  private void sent(long[] pages, int count, int urgent) {
    for (int i = 0; i < count; i++) if (!sentOnce.markIfClear(pages[i])) pagesResent.incrementAndGet();
    pagesSent.addAndGet(count);
    urgentPagesSent.addAndGet(urgent);
  }

  private static void sleepBeforeRetry() {
    try {
      TimeUnit.NANOSECONDS.sleep(RETRY_NANOS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DataPlaneException("interrupted while waiting to retry", e);
    }
  }
}
