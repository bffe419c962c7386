package org.livemig.engine.dataplane.postcopy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import org.livemig.engine.dataplane.DataChannel;
import org.livemig.engine.dataplane.DataPlaneException;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.FrameCodec;
import org.livemig.engine.dataplane.LinkOptions;
import org.livemig.engine.dataplane.PageBatch;
import org.livemig.engine.dataplane.Watchdog;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.livemig.messages.Keepalive;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One postcopy connection as either end holds it: its data channel, a queue through which other
 * threads hand work to the link's single writer thread (nobody else writes: a blackholed socket
 * can block a write), and a watch that ends the link when nothing has been read for the
 * keepalive. Reads are what count: a blackholed link sends no FIN, and our own writes may still
 * fill socket buffers for a while. The link ends exactly once.
 */
final class PostcopyLink {
  private static final Logger log = LoggerFactory.getLogger(PostcopyLink.class);
  /** Queue markers; page indices are never negative. */
  static final long WAKE = -1;
  static final long END_OF_STREAM = -2;
  static final Frame KEEPALIVE = Frame.newBuilder().setKeepalive(Keepalive.getDefaultInstance()).build();

  final int number;
  private final DataChannel channel;
  private final FrameCodec codec;
  private final BlockingQueue<Long> queue = new LinkedBlockingQueue<>();
  private final AtomicBoolean ended = new AtomicBoolean();
  private volatile Watchdog.Watch silence;
  private volatile long lastWriteNanos = System.nanoTime();

  PostcopyLink(int number, DataChannel channel) {
    this.number = number;
    this.channel = channel;
    this.codec = channel.codec();
  }

  /** Calls onSilence(reason) once nothing has been read for keepalive; it is expected to end the link. */
  void watchSilence(Watchdog watchdog, Duration keepalive, Consumer<String> onSilence) {
    silence = watchdog.watch(codec::lastReadNanos, keepalive.toNanos(),
        idle -> onSilence.accept("nothing received for " + TimeUnit.NANOSECONDS.toMillis(idle) + " ms"));
  }

  /** Closes the link; true only for the first call, so that its failure is reported once. */
  boolean end() {
    if (!ended.compareAndSet(false, true)) return false;
    Watchdog.Watch w = silence;
    if (w != null) w.cancel();
    queue.offer(WAKE); // a writer waiting for work notices at once
    channel.close();
    return true;
  }

  boolean isEnded() {
    return ended.get();
  }

  /** Hands the writer a page (or a marker); never blocks. */
  void enqueue(long item) {
    queue.offer(item);
  }

  Long pollNow() {
    return queue.poll();
  }

  /** Waits up to nanos for queued work; null if none came. */
  Long poll(long nanos) {
    if (nanos <= 0) return queue.poll();
    try {
      return queue.poll(nanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DataPlaneException("postcopy writer interrupted", e);
    }
  }

  Frame read() {
    return codec.readFrame();
  }

  void write(Frame frame) {
    codec.writeMessage(frame);
    lastWriteNanos = System.nanoTime();
  }

  /** One Pages frame with its payload gather-written straight from guest memory. */
  void writePages(PageBatch batch, GuestMemory memory) {
    ByteBuffer head = codec.encode(Frame.newBuilder().setPages(batch.header(memory)).build());
    codec.writeFully(batch.buffers(head, codec), 0, batch.bufferCount());
    lastWriteNanos = System.nanoTime();
  }

  void readPayload(ByteBuffer dst, int len) {
    codec.readPayload(dst, len);
  }

  /** After readPayload: whether the payload arrived as sent. */
  boolean payloadIntact() {
    return codec.payloadIntact();
  }

  long nanosSinceWrite() {
    return System.nanoTime() - lastWriteNanos;
  }

  /** Half-closes: the peer reads EOF after what we wrote, and we can still read what it sends. */
  void shutdownOutput() {
    channel.shutdownOutput();
  }

  /**
   * Connects with options (a small send buffer), sends the header and waits for the answer;
   * numbering names the accepted connection. A refusal throws ChannelRefusedException with the
   * destination's reason.
   */
  static PostcopyLink dial(String host, int port, ChannelHeader header, DataPlaneSettings settings, LinkOptions options,
      IntSupplier numbering) {
    String where = host + ":" + port;
    try {
      DataChannel channel = DataChannel.dial(host, port, options, header, settings,
          "postcopy channel of migration " + header.getMigrationId());
      int n = numbering.getAsInt();
      log.info("postcopy connection {} of migration {} accepted by {}", n, header.getMigrationId(), where);
      return new PostcopyLink(n, channel);
    } catch (IOException e) {
      throw new DataPlaneException("cannot connect postcopy channel to " + where + ": " + e, e);
    }
  }

  static void start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }
}
