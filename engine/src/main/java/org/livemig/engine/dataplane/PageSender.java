package org.livemig.engine.dataplane;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.DeviceState;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.IterationEnd;
import org.livemig.messages.Pages;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Source end of one data channel. Used from one sending thread; setMaxBandwidth, bytesSent,
 * lastProgressNanos, abort and close may be called from any thread.
 */
public final class PageSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PageSender.class);
  /** With a bandwidth cap, payloads are written in slices this big so pacing stays smooth. */
  private static final int PACE_SLICE = 64 * 1024;
  /** Unused bandwidth credit kept at most this long, so an idle channel cannot burst later. */
  private static final long PACE_BURST_NANOS = 10_000_000L;
  /** Zero-page indices per frame: about 10 bytes each worst case, far below the frame limit. */
  private static final int MAX_ZERO_INDICES = 16 * 1024;

  private final SocketChannel socket;
  private final FrameCodec codec;
  private final DataPlaneSettings settings;
  private final String migrationId;
  private final int channel;
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile long maxBandwidth;
  private volatile String abortReason;
  private long paceNext;
  private ByteBuffer batch; // one reusable direct batch buffer: guest memory -> batch -> socket
  private long[] batchPages;
  private long[] zeroPages;

  private PageSender(SocketChannel socket, FrameCodec codec, DataPlaneSettings settings, String migrationId, int channel) {
    this.socket = socket;
    this.codec = codec;
    this.settings = settings;
    this.migrationId = migrationId;
    this.channel = channel;
  }

  /** Connects, sends the channel header and waits for the destination's answer. */
  public static PageSender connect(String host, int port, String migrationId, String token, int channel, DataPlaneSettings settings) {
    String where = host + ":" + port;
    SocketChannel socket = null;
    try {
      socket = SocketChannel.open();
      socket.socket().connect(new InetSocketAddress(host, port), (int) settings.connectTimeout().toMillis());
      socket.socket().setTcpNoDelay(true); // IterationEnd/EOS are tiny and must not wait for Nagle
      FrameCodec codec = new FrameCodec(socket, settings);
      codec.writeMessage(ChannelHeader.newBuilder()
          .setProtocolVersion(DataPlane.PROTOCOL_VERSION)
          .setMigrationId(migrationId)
          .setToken(token)
          .setChannel(channel)
          .build());
      ChannelAccept accept = readAccept(socket, codec, settings, where);
      if (!accept.getAccepted()) {
        throw new DataPlaneException("channel " + channel + " of migration " + migrationId + " refused by " + where + ": " + accept.getReason());
      }
      log.info("data channel {} of migration {} connected to {}", channel, migrationId, where);
      return new PageSender(socket, codec, settings, migrationId, channel);
    } catch (IOException e) {
      closeQuietly(socket);
      throw new DataPlaneException("cannot connect data channel " + channel + " to " + where + ": " + e, e);
    } catch (RuntimeException e) {
      closeQuietly(socket);
      throw e;
    }
  }

  private static ChannelAccept readAccept(SocketChannel socket, FrameCodec codec, DataPlaneSettings settings, String where) {
    long start = System.nanoTime();
    Watchdog.Watch deadline = Watchdog.shared().watch(() -> start, settings.handshakeTimeout().toNanos(), idle -> closeQuietly(socket));
    try {
      ChannelAccept a = codec.readMessage(ChannelAccept.parser(), "channel accept", DataPlane.HANDSHAKE_LIMIT);
      if (!deadline.cancel()) throw new DataPlaneException("handshake deadline passed");
      return a;
    } catch (DataPlaneException e) {
      if (!deadline.cancel()) {
        throw new DataPlaneException("no channel accept from " + where + " within " + settings.handshakeTimeout().toMillis() + " ms", e);
      }
      throw new DataPlaneException("handshake with " + where + " failed: " + e.getMessage(), e);
    }
  }

  public int channel() {
    return channel;
  }

  /** Sends every page set in the harvested dirty words. */
  public SendStats sendPages(GuestMemory memory, long[] pages) {
    return sendPages(memory, pages, 1, 0);
  }

  /** Sends the set pages with page % stride == offset, so that stride channels split one round. */
  public SendStats sendPages(GuestMemory memory, long[] pages, int stride, int offset) {
    if (stride < 1 || offset < 0 || offset >= stride) throw new IllegalArgumentException("bad split " + offset + "/" + stride);
    long t0 = System.nanoTime();
    long bytes0 = codec.bytesWritten();
    int pageSize = memory.pageSize();
    int perBatch = Math.max(1, Math.min(settings.batchPages(), settings.maxPayloadBytes() / pageSize));
    if (batch == null || batch.capacity() < perBatch * pageSize) {
      batch = ByteBuffer.allocateDirect(perBatch * pageSize);
      batchPages = new long[perBatch];
      zeroPages = new long[MAX_ZERO_INDICES];
    }
    batch.clear();
    int n = 0;
    int z = 0;
    long sent = 0;
    long zeros = 0;
    for (int w = 0; w < pages.length; w++) {
      long bits = pages[w];
      while (bits != 0) {
        long page = ((long) w << 6) + Long.numberOfTrailingZeros(bits);
        bits &= bits - 1;
        if (stride > 1 && page % stride != offset) continue;
        if (memory.isZeroPage(page)) {
          zeroPages[z++] = page;
          zeros++;
        } else {
          memory.readPage(page, batch);
          batchPages[n++] = page;
        }
        sent++;
        if (n == perBatch || z == zeroPages.length) {
          flushBatch(n, z, pageSize);
          n = 0;
          z = 0;
        }
      }
    }
    if (n > 0 || z > 0) flushBatch(n, z, pageSize);
    return new SendStats(sent, zeros, codec.bytesWritten() - bytes0, System.nanoTime() - t0);
  }

  private void flushBatch(int n, int z, int pageSize) {
    Pages.Builder p = Pages.newBuilder().setPayloadBytes(n * pageSize);
    for (int i = 0; i < n; i++) p.addIndices(batchPages[i]);
    for (int i = 0; i < z; i++) p.addZeroIndices(zeroPages[i]);
    batch.flip();
    send(Frame.newBuilder().setPages(p).build(), batch);
    batch.clear();
  }

  public void sendDeviceState(byte[] state) {
    send(Frame.newBuilder().setDeviceState(DeviceState.newBuilder().setState(ByteString.copyFrom(state))).build(), null);
  }

  public void sendIterationEnd(int round, long pages) {
    send(Frame.newBuilder().setIterationEnd(IterationEnd.newBuilder().setRound(round).setPages(pages)).build(), null);
  }

  public void sendEndOfStream(long totalPages) {
    send(Frame.newBuilder().setEos(EndOfStream.newBuilder().setTotalPages(totalPages)).build(), null);
  }

  private void send(Frame frame, ByteBuffer payload) {
    checkUsable();
    try {
      ByteBuffer head = codec.encode(frame);
      if (maxBandwidth <= 0) {
        if (payload == null) codec.writeFully(head);
        else codec.writeFully(head, payload); // one gather write of frame + payload
        return;
      }
      pace(head.remaining());
      codec.writeFully(head);
      while (payload != null && payload.hasRemaining()) {
        int len = Math.min(PACE_SLICE, payload.remaining());
        pace(len);
        codec.writeFully(payload.slice(payload.position(), len));
        payload.position(payload.position() + len);
      }
    } catch (DataPlaneException e) {
      String reason = abortReason;
      if (reason != null) throw new DataPlaneException("channel " + channel + " aborted: " + reason, e);
      throw new DataPlaneException("channel " + channel + " of migration " + migrationId + ": " + e.getMessage(), e);
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

  /** Closes the socket from any thread so a blocked send fails promptly with reason in its message. */
  public void abort(String reason) {
    if (abortReason == null) abortReason = reason;
    log.warn("aborting data channel {} of migration {}: {}", channel, migrationId, reason);
    close();
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) closeQuietly(socket);
  }

  private static void closeQuietly(SocketChannel socket) {
    if (socket == null) return;
    try {
      socket.close();
    } catch (IOException e) {
      log.debug("closing data channel socket: {}", e.toString());
    }
  }
}
