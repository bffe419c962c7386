package org.livemig.engine.dataplane;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.DeviceState;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.IterationEnd;
import org.livemig.messages.Pages;
import org.livemig.messages.PagesRejected;
import org.livemig.messages.StreamKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Source end of one data channel. Used from one sending thread; setMaxBandwidth, bytesSent,
 * lastProgressNanos, abort and close may be called from any thread.
 */
public final class PageSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PageSender.class);
  /** With a bandwidth cap, payloads are written in slices of about this long at the cap. */
  private static final long PACE_SLICE_NANOS = 2_000_000L;
  private static final int MIN_PACE_SLICE = 16 * 1024;
  private static final int MAX_PACE_SLICE = 1 << 20;
  /** Channels split a round in blocks of this many bitmap words (64 pages each). */
  static final int SPLIT_WORDS = 4;
  /** Socket send buffer: a few ms of loopback traffic, so the writer rarely waits on the kernel. */
  static final int SOCKET_BUFFER = 4 << 20;
  /** IterationEnd/EOS are tiny and must not wait for Nagle. */
  private static final LinkOptions LINK = new LinkOptions(SOCKET_BUFFER, 0, true);
  /** Unused bandwidth credit kept at most this long, so an idle channel cannot burst later. */
  private static final long PACE_BURST_NANOS = 10_000_000L;
  /** Zero-page indices per frame: about 10 bytes each worst case, far below the frame limit. */
  private static final int MAX_ZERO_INDICES = 16 * 1024;

  private final DataChannel link;
  private final FrameCodec codec;
  private final DataPlaneSettings settings;
  private final String migrationId;
  private final int channel;
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile long maxBandwidth;
  private volatile String abortReason;
  private long paceNext;
  private PageBatch batch; // reused: guest memory views -> its staging buffer -> socket

  private PageSender(DataChannel link, DataPlaneSettings settings, String migrationId, int channel) {
    this.link = link;
    this.codec = link.codec();
    this.settings = settings;
    this.migrationId = migrationId;
    this.channel = channel;
  }

  /** Connects, sends the channel header and waits for the destination's answer. */
  public static PageSender connect(String host, int port, String migrationId, String token, int channel, DataPlaneSettings settings) {
    return connect(host, port, migrationId, token, channel, settings, null);
  }

  /**
   * As above, to destinationHost only: on an authenticating transport a peer that cannot prove it
   * is that host gets nothing, not even the header with the token (null or empty = any peer).
   */
  public static PageSender connect(String host, int port, String migrationId, String token, int channel, DataPlaneSettings settings,
      String destinationHost) {
    String where = host + ":" + port;
    ChannelHeader header = ChannelHeader.newBuilder()
        .setProtocolVersion(DataPlane.PROTOCOL_VERSION)
        .setMigrationId(migrationId)
        .setToken(token)
        .setChannel(channel)
        .setKind(StreamKind.PRECOPY_PAGES)
        .build();
    try {
      LinkOptions options = destinationHost == null || destinationHost.isEmpty() ? LINK : LINK.expecting(destinationHost);
      DataChannel link = DataChannel.dial(host, port, options, header, settings, "channel " + channel + " of migration " + migrationId);
      log.info("data channel {} of migration {} connected to {}", channel, migrationId, where);
      return new PageSender(link, settings, migrationId, channel);
    } catch (IOException e) {
      throw new DataPlaneException("cannot connect data channel " + channel + " to " + where + ": " + e, e);
    }
  }

  public int channel() {
    return channel;
  }

  /** Sends every page set in the harvested dirty words. */
  public SendStats sendPages(GuestMemory memory, long[] pages) {
    return sendPages(memory, pages, 1, 0);
  }

  /**
   * Sends this channel's share of the set pages: blocks of SPLIT_WORDS bitmap words (256 pages)
   * go round-robin over stride channels, offset being this one, so each channel sends long
   * contiguous runs that leave guest memory as a few large views.
   */
  public SendStats sendPages(GuestMemory memory, long[] pages, int stride, int offset) {
    if (stride < 1 || offset < 0 || offset >= stride) throw new IllegalArgumentException("bad split " + offset + "/" + stride);
    long t0 = System.nanoTime();
    long bytes0 = codec.bytesWritten();
    int perBatch = Math.max(1, Math.min(settings.batchPages(), settings.maxPayloadBytes() / memory.pageSize()));
    if (batch == null || batch.capacity() != perBatch) batch = new PageBatch(perBatch, MAX_ZERO_INDICES);
    batch.clear();
    long sent = 0;
    long zeros = 0;
    for (long block = offset; block * SPLIT_WORDS < pages.length; block += stride) {
      int from = (int) (block * SPLIT_WORDS);
      for (int w = from, to = Math.min(pages.length, from + SPLIT_WORDS); w < to; w++) {
        long bits = pages[w];
        while (bits != 0) {
          long page = ((long) w << 6) + Long.numberOfTrailingZeros(bits);
          bits &= bits - 1;
          if (memory.isZeroPage(page)) {
            batch.zero(page);
            zeros++;
          } else {
            batch.page(memory, page);
          }
          sent++;
          if (batch.isFull()) flushBatch(memory);
        }
      }
    }
    if (!batch.isEmpty()) flushBatch(memory);
    return new SendStats(sent, zeros, codec.bytesWritten() - bytes0, System.nanoTime() - t0);
  }

  private void flushBatch(GuestMemory memory) {
    send(Frame.newBuilder().setPages(batch.header(memory)).build(), batch);
    batch.clear();
  }

  public void sendDeviceState(byte[] state) {
    send(Frame.newBuilder().setDeviceState(DeviceState.newBuilder().setState(ByteString.copyFrom(state))).build(), null);
  }

  public void sendIterationEnd(int round, long pages) {
    send(Frame.newBuilder().setIterationEnd(IterationEnd.newBuilder().setRound(round).setPages(pages)).build(), null);
  }

  /**
   * Ends a round: sends IterationEnd and waits for the destination's echo, so the round counts as
   * sent only once its pages are in the destination's memory. Without this the tail of a round
   * (megabytes in socket buffers) would be drained during the next stun, i.e. in the downtime.
   * Returns the dirty words of pages the destination rejected (their payload failed its
   * checksum), which must be sent again, or null.
   */
  public long[] endRound(int round, long pages, long pageCount) {
    sendIterationEnd(round, pages);
    try {
      long[] resend = null;
      Frame echo = codec.readFrame();
      if (echo.hasPagesRejected()) {
        PagesRejected r = echo.getPagesRejected();
        resend = rejected(r, pageCount);
        // Also a page the guest wrote while it was being sent: it was dirty and goes again anyway.
        log.info("channel {} of migration {}: the destination rejected {} page batch(es) of round {} ({} pages) whose "
            + "payload failed its checksum; they are sent again", channel, migrationId, r.getBatches(), round,
            DirtyBitmap.count(resend));
        echo = codec.readFrame();
      }
      if (!echo.hasIterationEnd() || echo.getIterationEnd().getRound() != round) {
        throw new DataPlaneException("expected the echo of round " + round + ", got " + echo.getKindCase());
      }
      return resend;
    } catch (DataPlaneException e) {
      String reason = abortReason;
      if (reason != null) throw new DataPlaneException("channel " + channel + " aborted: " + reason, e);
      throw new DataPlaneException("channel " + channel + " of migration " + migrationId + ": " + e.getMessage(), e);
    }
  }

  private static long[] rejected(PagesRejected r, long pageCount) {
    try {
      return DirtyBitmap.fromBytes(r.getBitmap().toByteArray(), pageCount);
    } catch (IllegalArgumentException e) {
      throw new DataPlaneException("malformed pages-rejected bitmap: " + e.getMessage(), e);
    }
  }

  public void sendEndOfStream(long totalPages) {
    sendEndOfStream(totalPages, null);
  }

  /** End of stream; postcopyDiscard (null = none) names the pages the destination must treat as missing. */
  public void sendEndOfStream(long totalPages, long[] postcopyDiscard) {
    EndOfStream.Builder eos = EndOfStream.newBuilder().setTotalPages(totalPages);
    if (postcopyDiscard != null) eos.setPostcopyDiscard(ByteString.copyFrom(DirtyBitmap.toBytes(postcopyDiscard)));
    send(Frame.newBuilder().setEos(eos).build(), null);
  }

  private void send(Frame frame, PageBatch payload) {
    checkUsable();
    try {
      ByteBuffer head = codec.encode(frame);
      if (payload == null) {
        pace(head.remaining());
        codec.writeFully(head);
        return;
      }
      ByteBuffer[] buffers = payload.buffers(head, codec);
      int count = payload.bufferCount();
      if (maxBandwidth <= 0) {
        codec.writeFully(buffers, 0, count); // one gather write: frame head + staged payload + trailer
        return;
      }
      for (int i = 0; i < count; i++) writePaced(buffers[i]);
    } catch (DataPlaneException e) {
      String reason = abortReason;
      if (reason != null) throw new DataPlaneException("channel " + channel + " aborted: " + reason, e);
      throw new DataPlaneException("channel " + channel + " of migration " + migrationId + ": " + e.getMessage(), e);
    }
  }

  /** Writes b in slices of about PACE_SLICE_NANOS at the cap, so pacing stays smooth at any rate. */
  private void writePaced(ByteBuffer b) {
    int end = b.limit();
    while (b.position() < end) {
      long rate = maxBandwidth;
      int slice = (int) Math.max(MIN_PACE_SLICE, Math.min(MAX_PACE_SLICE, rate * PACE_SLICE_NANOS / 1_000_000_000L));
      int len = Math.min(slice, end - b.position());
      pace(len);
      b.limit(b.position() + len);
      codec.writeFully(b);
      b.limit(end);
    }
  }

  /** Token-bucket pacing: waits until bytes fit the cap; the cap is re-read so changes apply at once. */
  private void pace(int bytes) {
    long rate = maxBandwidth;
    if (rate <= 0) return;
    long now = System.nanoTime();
    paceNext = Math.max(paceNext, now - PACE_BURST_NANOS);
    while (paceNext > now) {
      checkUsable();
      LockSupport.parkNanos(paceNext - now);
      now = System.nanoTime();
    }
    paceNext += bytes * 1_000_000_000L / rate;
  }

  private void checkUsable() {
    String reason = abortReason;
    if (reason != null) throw new DataPlaneException("channel " + channel + " aborted: " + reason);
    if (closed.get()) throw new DataPlaneException("channel " + channel + " is closed");
  }

  /** Caps this channel's send rate in bytes per second; 0 means unlimited. */
  public void setMaxBandwidth(long bytesPerSecond) {
    if (bytesPerSecond < 0) throw new IllegalArgumentException("negative bandwidth: " + bytesPerSecond);
    maxBandwidth = bytesPerSecond;
  }

  public long maxBandwidth() {
    return maxBandwidth;
  }

  public long bytesSent() {
    return codec.bytesWritten();
  }

  /** Last time a write made progress (System.nanoTime); the caller's stall watchdog compares it with now. */
  public long lastProgressNanos() {
    return codec.lastActivityNanos();
  }

  /** Closes the channel from any thread so a blocked send fails promptly with reason in its message. */
  public void abort(String reason) {
    if (abortReason == null) abortReason = reason;
    log.warn("aborting data channel {} of migration {}: {}", channel, migrationId, reason);
    close();
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) link.close();
  }
}
