package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.livemig.engine.security.SslEngines;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.engine.security.TlsEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Data channels over TLS 1.3 with mutual authentication: both ends present a certificate from
 * the cluster's CA ({@link TlsCredentials}, reread when its files change) and a connection's
 * {@link Connection#peerIdentity()} is the host id the peer's certificate names. A dialler
 * that sets {@link LinkOptions#expectedPeer()} gets an error, and sends nothing, when it reached
 * another host.
 *
 * <p>Handshake timing: the dialler runs the handshake inside {@link #dial}. An accepted
 * connection is handed out at once and does its handshake on its first read or write, i.e. on
 * the thread that serves it, so a slow or silent peer never holds the accept loop. On both sides
 * the shared watchdog closes the socket when the handshake is not done within the timeout.
 *
 * <p>The engine (JDK or BoringSSL, {@link TlsEngine}) is the credentials': {@link TlsCredentials#engine()}.
 */
public final class TlsTransport implements Transport {
  private static final Logger log = LoggerFactory.getLogger(TlsTransport.class);

  private final TlsCredentials credentials;
  private final Duration handshakeTimeout;

  public TlsTransport(TlsCredentials credentials, Duration handshakeTimeout) {
    if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) throw new IllegalArgumentException("handshake timeout must be positive");
    this.credentials = credentials;
    this.handshakeTimeout = handshakeTimeout;
  }

  /** Connects within connectTimeout, then completes the handshake within the handshake timeout. */
  @Override
  public Connection dial(String host, int port, LinkOptions options, Duration connectTimeout) throws IOException {
    String where = host + ":" + port;
    SocketChannel socket = Sockets.connect(host, port, options, connectTimeout);
    try {
      TlsConnection c = connection(socket, true, where);
      c.handshake();
      String peer = c.peerIdentity().orElseThrow();
      if (options.expectedPeer() != null && !options.expectedPeer().equals(peer)) {
        throw new SSLPeerUnverifiedException("TLS peer at " + where + " is " + peer + ", not the expected " + options.expectedPeer());
      }
      log.debug("TLS connection to {} at {} ({})", peer, where, c.session().getCipherSuite());
      return c;
    } catch (IOException | RuntimeException e) {
      Sockets.closeAfterFailure(socket, e);
      throw e;
    }
  }

  /** Accepted connections are handed out at once; the rest of the handshake runs on the connection's first read or write, on its own thread. */
  @Override
  public Acceptor listen(String host, int port, LinkOptions options) throws IOException {
    return Sockets.listen(host, port, options, (socket, prefix) -> {
      TlsConnection c = connection(socket, false, String.valueOf(socket.getRemoteAddress()));
      c.prefix(prefix);
      return c;
    });
  }

  /** AEAD: a changed byte fails the record, so frames need no checksums of their own. */
  @Override
  public boolean protectsIntegrity() {
    return true;
  }

  /**
   * The client's first TLS record (its ClientHello): content type 22, then a 2-byte version and a
   * 2-byte length. Nothing else may start a connection.
   */
  @Override
  public int firstMessageBytes(ByteBuffer start) {
    int p = start.position();
    if (start.remaining() >= 1 && start.get(p) != 22) return -1;
    if (start.remaining() >= 2 && start.get(p + 1) != 3) return -1;
    if (start.remaining() < 5) return 0;
    return 5 + (((start.get(p + 3) & 0xff) << 8) | (start.get(p + 4) & 0xff));
  }

  /** The SSLEngine implementation this transport's connections run on. */
  public TlsEngine engine() {
    return credentials.engine();
  }

  /** A new engine from the current credentials: a changed certificate is used from the next connection on. */
  private TlsConnection connection(SocketChannel socket, boolean client, String where) {
    // No session is ever resumed (SslEngines), so every connection verifies a certificate, and a
    // reloaded one takes effect at once.
    SslEngines engines = credentials.current().engines();
    SSLEngine engine = engines.newEngine(client);
    long start = System.nanoTime();
    Watchdog.Watch deadline = Watchdog.shared().watch(() -> start, handshakeTimeout.toNanos(), late -> closeLate(socket, where));
    return new TlsConnection(socket, engine, engines.kind() == TlsEngine.OPENSSL ? new RecordStage() : null, where, deadline, handshakeTimeout.toMillis());
  }

  private static void closeLate(SocketChannel socket, String where) {
    try {
      socket.close(); // the handshaking thread fails with "not finished within"
    } catch (IOException e) {
      log.debug("closing late TLS handshake with {}: {}", where, e.toString());
    }
  }
}
