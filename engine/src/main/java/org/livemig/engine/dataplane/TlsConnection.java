package org.livemig.engine.dataplane;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.livemig.engine.security.PeerIdentity;

/**
 * One TLS connection: an {@link SSLEngine} (the JDK's or BoringSSL's) over a blocking
 * {@link SocketChannel}, encrypting and decrypting on the calling thread (so each channel of a
 * migration uses its own core).
 *
 * <p>Threads: one reader and one writer at a time, as with TCP; {@link #close} from any thread
 * closes the socket, which makes a blocked read, write or handshake fail promptly.
 *
 * <p>Ending: {@link #shutdownOutput} half-closes the socket without a close_notify, and a stream
 * that ends between two records is read as end of stream. The protocol's frames mark their own
 * end (EOS), so close_notify would add nothing, and it would break half-close with BoringSSL's
 * engine: netty's engine takes a received close_notify for a full close and ends its own sending
 * side too (TLS 1.3 lets that side go on). A received close_notify still reads as end of stream.
 *
 * <p>Buffers are direct, sized from the session and allocated once at the handshake: gather
 * writes are packed into full records and several records go per socket write; reads decrypt
 * straight into the caller's buffers when they can hold a record. JSSE packs a buffer array into
 * a record itself; netty's engine makes a record of each source buffer, so small buffers are
 * first copied into one record's worth ({@link RecordStage}).
 */
final class TlsConnection implements Connection {
  /** Records per socket write and read buffer: fewer system calls per MiB. */
  private static final int RECORDS_PER_IO = 8;
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  private final SocketChannel socket;
  private final SSLEngine engine;
  private final String where;
  private final Watchdog.Watch handshakeDeadline;
  private final long handshakeTimeoutMs;
  private final Object handshakeLock = new Object();
  private final ReentrantLock readLock = new ReentrantLock();
  // Also taken by a reader answering a KeyUpdate; the writer never takes readLock: no lock cycle.
  private final ReentrantLock writeLock = new ReentrantLock();

  private volatile boolean handshaken;
  private IOException handshakeFailure; // guarded by handshakeLock
  private volatile String peerIdentity;

  // Read side (readLock; the handshake before it): records received, and plaintext not yet
  // delivered; both in read mode (position..limit = unread).
  private ByteBuffer netIn;
  private ByteBuffer appIn;
  private int appBufferSize;
  private boolean inboundDone;
  // Write side (writeLock; the handshake before it): records to send, in write mode.
  private ByteBuffer netOut;
  private int packetSize;
  private boolean outputShut;
  private final RecordStage stage; // only for an engine that makes a record of each source buffer
  private ByteBuffer prefix; // records read before this connection existed (the data port's handshake gate)

  /**
   * handshakeDeadline closes the socket when the handshake takes longer than handshakeTimeoutMs;
   * stage: for an engine that makes a record of each source buffer (netty's), else null.
   */
  TlsConnection(SocketChannel socket, SSLEngine engine, RecordStage stage, String where, Watchdog.Watch handshakeDeadline,
      long handshakeTimeoutMs) {
    this.socket = socket;
    this.engine = engine;
    this.stage = stage;
    this.where = where;
    this.handshakeDeadline = handshakeDeadline;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
  }

  /** Bytes the peer sent that were read before this connection existed; call before the handshake. */
  void prefix(ByteBuffer bytes) {
    prefix = bytes;
  }

  /** Runs the handshake unless done; blocking, on the calling thread. A failure is final. */
  void handshake() throws IOException {
    if (handshaken) return;
    synchronized (handshakeLock) {
      if (handshaken) return;
      if (handshakeFailure != null) throw new SSLException("TLS handshake with " + where + " failed", handshakeFailure);
      try {
        runHandshake();
      } catch (IOException e) {
        // Closed by the deadline: say so rather than "socket closed".
        handshakeFailure = handshakeDeadline.cancel() ? e : late(e);
        throw handshakeFailure;
      }
      if (!handshakeDeadline.cancel()) {
        handshakeFailure = late(null);
        throw handshakeFailure;
      }
      handshaken = true;
    }
  }

  private SSLHandshakeException late(IOException cause) {
    SSLHandshakeException e = new SSLHandshakeException("TLS handshake with " + where + " not finished within " + handshakeTimeoutMs + " ms");
    if (cause != null) e.initCause(cause);
    return e;
  }

  private void runHandshake() throws IOException {
    SSLSession session = engine.getSession();
    packetSize = session.getPacketBufferSize();
    appBufferSize = session.getApplicationBufferSize();
    netIn = ByteBuffer.allocateDirect(Math.max(packetSize * RECORDS_PER_IO, prefix == null ? 0 : prefix.remaining()));
    if (prefix != null) netIn.put(prefix);
    prefix = null;
    netIn.flip();
    netOut = ByteBuffer.allocateDirect(packetSize * RECORDS_PER_IO);
    appIn = ByteBuffer.allocateDirect(appBufferSize).flip();
    engine.beginHandshake();
    HandshakeStatus hs = engine.getHandshakeStatus();
    try {
      while (hs != HandshakeStatus.FINISHED && hs != HandshakeStatus.NOT_HANDSHAKING) {
        switch (hs) {
          case NEED_WRAP -> {
            SSLEngineResult r = engine.wrap(EMPTY, netOut);
            flushNetOut();
            if (r.getStatus() == SSLEngineResult.Status.CLOSED) throw new SSLHandshakeException("TLS engine closed during handshake");
            hs = r.getHandshakeStatus();
          }
          case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
            SSLEngineResult r = unwrapToAppIn();
            hs = r.getHandshakeStatus();
            switch (r.getStatus()) {
              case BUFFER_UNDERFLOW -> {
                // Read only if the engine still waits for the peer: netty's server engine reports
                // FINISHED on an unwrap that found nothing, and the client may send nothing yet.
                if (hs == HandshakeStatus.NEED_UNWRAP && !fillNetIn()) throw new EOFException("peer closed the connection during the TLS handshake");
              }
              case CLOSED -> throw new SSLHandshakeException("peer closed TLS during the handshake");
              default -> { }
            }
          }
          case NEED_TASK -> hs = runTasks();
          default -> throw new SSLHandshakeException("unexpected handshake status " + hs);
        }
      }
    } catch (SSLException e) {
      sendAlertAfter(e);
      throw e;
    }
    peerIdentity = PeerIdentity.of(peerCertificate()) // throws if the peer sent no certificate
        .orElseThrow(() -> new SSLHandshakeException("certificate of " + where + " names no host"));
  }

  /** The engine produced an alert for the failure: tell the peer why before the caller closes. */
  private void sendAlertAfter(SSLException failure) {
    try {
      engine.closeOutbound();
      netOut.clear();
      engine.wrap(EMPTY, netOut);
      flushNetOut();
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private HandshakeStatus runTasks() {
    for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask()) task.run();
    return engine.getHandshakeStatus();
  }

  // ---- reading ----

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return (int) read(new ByteBuffer[] {dst}, 0, 1);
  }

  @Override
  public long read(ByteBuffer[] dsts) throws IOException {
    return read(dsts, 0, dsts.length);
  }

  @Override
  public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
    handshake();
    readLock.lock();
    try {
      if (appIn.hasRemaining()) return Sockets.scatter(appIn, dsts, offset, length);
      if (Sockets.remaining(dsts, offset, length) == 0) return 0;
      while (true) {
        if (inboundDone) return -1;
        long n = unwrapAvailable(dsts, offset, length);
        if (n != 0) return n;
        if (!fillNetIn()) {
          // The protocol's frames mark their own end (EOS), so a stream cut between records is
          // never taken for a complete one; cut inside a record it is an error.
          if (netIn.hasRemaining()) throw new EOFException("connection to " + where + " closed inside a TLS record");
          inboundDone = true;
        }
      }
    } finally {
      readLock.unlock();
    }
  }

  /** Decrypts the complete records in netIn: bytes delivered, -1 at close_notify, 0 if more are needed. */
  private long unwrapAvailable(ByteBuffer[] dsts, int offset, int length) throws IOException {
    long delivered = 0;
    boolean overflowed = false;
    while (netIn.hasRemaining()) {
      SSLEngineResult r;
      boolean direct = !overflowed && Sockets.remaining(dsts, offset, length) >= appBufferSize;
      if (direct) {
        r = engine.unwrap(netIn, dsts, offset, length);
        delivered += r.bytesProduced();
      } else {
        r = unwrapToAppIn();
        if (appIn.hasRemaining()) delivered += Sockets.scatter(appIn, dsts, offset, length);
      }
      switch (r.getStatus()) {
        case OK -> afterUnwrap(r.getHandshakeStatus());
        case BUFFER_UNDERFLOW -> {
          return delivered;
        }
        case BUFFER_OVERFLOW -> {
          overflowed = true; // the record does not fit the caller's buffers: through appIn
          growAppIn();
        }
        case CLOSED -> {
          inboundDone = true;
          return delivered > 0 ? delivered : -1;
        }
      }
      if (appIn.hasRemaining() || (delivered > 0 && Sockets.remaining(dsts, offset, length) == 0)) return delivered;
    }
    return delivered;
  }

  private SSLEngineResult unwrapToAppIn() throws SSLException {
    appIn.compact();
    try {
      return engine.unwrap(netIn, appIn);
    } finally {
      appIn.flip();
    }
  }

  private void growAppIn() {
    appBufferSize = Math.max(appBufferSize, engine.getSession().getApplicationBufferSize());
    if (appIn.capacity() >= appBufferSize) return;
    ByteBuffer bigger = ByteBuffer.allocateDirect(appBufferSize);
    bigger.put(appIn).flip();
    appIn = bigger;
  }

  /** Post-handshake messages: a KeyUpdate must be answered by a wrap, from the reading thread. */
  private void afterUnwrap(HandshakeStatus hs) throws IOException {
    if (hs == HandshakeStatus.NEED_TASK) hs = runTasks();
    if (hs != HandshakeStatus.NEED_WRAP) return;
    writeLock.lock();
    try {
      if (outputShut) return;
      netOut.clear();
      engine.wrap(EMPTY, netOut);
      flushNetOut();
    } finally {
      writeLock.unlock();
    }
  }

  /** Reads more records into netIn (growing it if one does not fit); false at end of stream. */
  private boolean fillNetIn() throws IOException {
    netIn.compact();
    try {
      if (!netIn.hasRemaining()) {
        ByteBuffer bigger = ByteBuffer.allocateDirect(netIn.capacity() + engine.getSession().getPacketBufferSize());
        netIn.flip();
        bigger.put(netIn);
        netIn = bigger;
      }
      return socket.read(netIn) >= 0;
    } finally {
      netIn.flip();
    }
  }

  // ---- writing ----

  @Override
  public int write(ByteBuffer src) throws IOException {
    return (int) write(new ByteBuffer[] {src}, 0, 1);
  }

  @Override
  public long write(ByteBuffer[] srcs) throws IOException {
    return write(srcs, 0, srcs.length);
  }

  /** Encrypts and sends all of srcs (blocking); many small buffers share one record. */
  @Override
  public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    handshake();
    writeLock.lock();
    try {
      if (outputShut) throw new IOException("output of TLS connection to " + where + " is shut down");
      long total = Sockets.remaining(srcs, offset, length); // counted once, not per record
      long consumed = 0;
      netOut.clear();
      while (consumed < total) {
        SSLEngineResult r = stage != null ? stage.wrap(engine, srcs, offset, length, netOut) : engine.wrap(srcs, offset, length, netOut);
        consumed += r.bytesConsumed();
        switch (r.getStatus()) {
          case OK -> {
            if (netOut.remaining() < packetSize) flushNetOut();
          }
          case BUFFER_OVERFLOW -> {
            if (netOut.position() > 0) flushNetOut();
            else netOut = ByteBuffer.allocateDirect(netOut.capacity() + engine.getSession().getPacketBufferSize());
            packetSize = engine.getSession().getPacketBufferSize();
          }
          case CLOSED -> throw new IOException("TLS connection to " + where + " is closed");
          case BUFFER_UNDERFLOW -> throw new IllegalStateException("wrap reported underflow");
        }
        if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK) runTasks();
      }
      flushNetOut();
      return consumed;
    } finally {
      writeLock.unlock();
    }
  }

  /** Writes netOut's records completely and clears it. */
  private void flushNetOut() throws IOException {
    netOut.flip();
    while (netOut.hasRemaining()) socket.write(netOut);
    netOut.clear();
  }

  /**
   * Half-closes the socket after the last record (no close_notify, see the class comment): the
   * peer reads end of stream, we go on reading.
   */
  @Override
  public void shutdownOutput() throws IOException {
    handshake();
    writeLock.lock();
    try {
      if (outputShut) return;
      outputShut = true;
      socket.shutdownOutput();
    } finally {
      writeLock.unlock();
    }
  }

  // ---- the rest ----

  /** The negotiated session (protocol, suite); meaningful once the handshake is done. */
  SSLSession session() {
    return engine.getSession();
  }

  X509Certificate peerCertificate() throws SSLPeerUnverifiedException {
    return (X509Certificate) engine.getSession().getPeerCertificates()[0];
  }

  @Override public boolean copiesThroughOwnBuffers() { return true; }

  @Override
  public Optional<String> peerIdentity() {
    return Optional.ofNullable(peerIdentity);
  }

  @Override
  public SocketAddress remoteAddress() {
    return Sockets.remoteAddress(socket);
  }

  @Override
  public boolean isOpen() {
    return socket.isOpen();
  }

  /** Closes the socket; from any thread, without taking the read or write lock (their holders may be blocked). */
  @Override
  public void close() throws IOException {
    socket.close();
  }
}
