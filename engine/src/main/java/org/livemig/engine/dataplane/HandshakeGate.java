package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a new data connection waits until its peer has sent its whole first message (the
 * channel header on plain TCP, the first TLS record with TLS): one thread and one small buffer
 * for all of them, so idle or slow connections cost no thread and no frame buffers. At most
 * maxPending connections wait at once; one more is closed at once. One whose first message does
 * not arrive within the handshake timeout is closed. Complete ones go to ready with the bytes
 * read so far; bad ones to refused with the reason (the peer gets no answer: it said nothing we
 * could trust).
 */
final class HandshakeGate implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HandshakeGate.class);
  /** First bytes are read into this much at first; the buffer grows only to what the transport asks for. */
  private static final int START_BYTES = 512;

  private final Transport transport;
  private final int maxPending;
  private final long timeoutNanos;
  private final BiConsumer<SocketChannel, ByteBuffer> ready;
  private final Consumer<String> refused;
  private final Selector selector;
  private final Queue<SocketChannel> arrivals = new ArrayDeque<>(); // guarded by itself
  private final AtomicInteger pending = new AtomicInteger();
  private volatile boolean closed;

  private static final class Waiting {
    final long deadline;
    ByteBuffer bytes = ByteBuffer.allocate(START_BYTES);

    Waiting(long deadline) {
      this.deadline = deadline;
    }
  }

  HandshakeGate(Transport transport, int maxPending, Duration timeout, BiConsumer<SocketChannel, ByteBuffer> ready,
      Consumer<String> refused) throws IOException {
    this.transport = transport;
    this.maxPending = maxPending;
    this.timeoutNanos = timeout.toNanos();
    this.ready = ready;
    this.refused = refused;
    this.selector = Selector.open();
  }

  void start(String name) {
    Thread t = new Thread(this::loop, name);
    t.setDaemon(true);
    t.start();
  }

  int pending() {
    return pending.get();
  }

  /** From the accepting thread: the connection waits here, or is closed at once when the gate is full. */
  void admit(SocketChannel socket) {
    if (pending.incrementAndGet() > maxPending) {
      pending.decrementAndGet();
      refused.accept("too many connections in handshake (" + maxPending + ")"); // counted before the peer sees the close
      closeQuietly(socket);
      return;
    }
    synchronized (arrivals) {
      arrivals.add(socket);
    }
    selector.wakeup();
  }

  private void loop() {
    try {
      waitForFirstMessages();
    } finally {
      for (SelectionKey k : selector.keys()) closeQuietly(k.channel());
      closeQuietly(selector);
    }
  }

  private void waitForFirstMessages() {
    while (!closed) {
      try {
        register();
        selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(timeoutNanos) / 4));
        for (SelectionKey k : selector.selectedKeys()) readable(k);
        selector.selectedKeys().clear();
        expire();
      } catch (IOException | RuntimeException e) {
        // One connection's trouble must not end the gate: every other handshake waits on it.
        if (!closed) log.warn("data-plane handshake gate: {}", e.toString());
      }
    }
  }

  private void register() {
    while (true) {
      SocketChannel s;
      synchronized (arrivals) {
        s = arrivals.poll();
      }
      if (s == null) return;
      try {
        s.configureBlocking(false);
        s.register(selector, SelectionKey.OP_READ, new Waiting(System.nanoTime() + timeoutNanos));
      } catch (IOException e) {
        drop(s, null, "cannot wait for its header: " + e);
      }
    }
  }

  private void readable(SelectionKey k) {
    SocketChannel s = (SocketChannel) k.channel();
    Waiting w = (Waiting) k.attachment();
    try {
      if (s.read(w.bytes) < 0) {
        drop(s, k, "closed by the peer before its first message");
        return;
      }
      int needed = transport.firstMessageBytes(w.bytes.duplicate().flip());
      if (needed < 0) {
        drop(s, k, "malformed first message");
      } else if (needed > DataPlane.HANDSHAKE_LIMIT + 16) {
        drop(s, k, "first message of " + needed + " bytes exceeds limit " + DataPlane.HANDSHAKE_LIMIT);
      } else if (needed > 0 && w.bytes.position() >= needed) {
        k.cancel();
        pending.decrementAndGet();
        s.configureBlocking(true); // a cancelled key is deregistered at the next select; blocking mode waits for it
        ready.accept(s, w.bytes.flip());
      } else if (needed > w.bytes.capacity()) {
        w.bytes = ByteBuffer.allocate(needed).put(w.bytes.flip());
      }
    } catch (IOException | RuntimeException e) {
      drop(s, k, "failed during handshake: " + e);
    }
  }

  private void expire() {
    long now = System.nanoTime();
    for (SelectionKey k : selector.keys()) {
      if (k.isValid() && k.attachment() instanceof Waiting w && now - w.deadline > 0) {
        drop((SocketChannel) k.channel(), k, "no header within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
      }
    }
  }

  private void drop(SocketChannel s, SelectionKey k, String reason) {
    if (k != null) k.cancel();
    pending.decrementAndGet();
    refused.accept(reason); // counted before the peer sees the close
    closeQuietly(s);
  }

  /** Closes every waiting connection (the gate's thread does, as it ends). */
  @Override
  public void close() {
    closed = true;
    selector.wakeup();
    synchronized (arrivals) {
      arrivals.forEach(HandshakeGate::closeQuietly);
      arrivals.clear();
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      log.debug("closing {}: {}", c, e.toString());
    }
  }
}
