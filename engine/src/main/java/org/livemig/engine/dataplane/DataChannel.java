package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Optional;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One data channel: a transport connection, the codec that frames it, and the handshake of
 * both ends. The dialling side sends the ChannelHeader and waits for ChannelAccept within the
 * handshake timeout; the listening side reads the header within it and accepts or refuses with
 * a reason. Every stream kind starts this way; what follows belongs to the stream's handler.
 */
public final class DataChannel implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DataChannel.class);

  private final Connection connection;
  private final FrameCodec codec;
  private final boolean checksums;

  private DataChannel(Connection connection, DataPlaneSettings settings) {
    this.connection = connection;
    this.codec = new FrameCodec(connection, settings);
    this.checksums = !settings.transport().protectsIntegrity();
  }

  /**
   * Dials through the settings' transport, sends header and waits for the answer. A refusal
   * throws ChannelRefusedException (name + " refused by host:port", with the peer's reason); a
   * late or broken answer a DataPlaneException; IOException is the connect itself. Nothing stays
   * open on failure.
   */
  public static DataChannel dial(String host, int port, LinkOptions options, ChannelHeader header, DataPlaneSettings settings,
      String name) throws IOException {
    String where = host + ":" + port;
    Connection c = settings.transport().dial(host, port, options, settings.connectTimeout());
    DataChannel channel = new DataChannel(c, settings);
    try {
      channel.codec.writeMessage(header);
      ChannelAccept accept = channel.readAccept(settings.handshakeTimeout(), where);
      if (!accept.getAccepted()) throw new ChannelRefusedException(name + " refused by " + where, accept.getReason());
      if (channel.checksums) channel.codec.startChecksums();
      return channel;
    } catch (RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** The listening side of a connection the transport accepted; its handshake comes next. */
  static DataChannel accepted(Connection connection, DataPlaneSettings settings) {
    return new DataChannel(connection, settings);
  }

  private ChannelAccept readAccept(Duration timeout, String where) {
    long start = System.nanoTime();
    Watchdog.Watch deadline = Watchdog.shared().watch(() -> start, timeout.toNanos(), idle -> close());
    try {
      ChannelAccept a = codec.readMessage(ChannelAccept.parser(), "channel accept", DataPlane.HANDSHAKE_LIMIT);
      if (!deadline.cancel()) throw new DataPlaneException("handshake deadline passed");
      return a;
    } catch (DataPlaneException e) {
      if (!deadline.cancel()) {
        throw new DataPlaneException("no channel accept from " + where + " within " + timeout.toMillis() + " ms", e);
      }
      throw new DataPlaneException("handshake with " + where + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Reads the header within timeout (the connection is closed when it passes). A bad or late
   * header throws a DataPlaneException whose message is the reason to refuse it with.
   */
  ChannelHeader readHeader(Watchdog watchdog, Duration timeout) {
    long start = System.nanoTime();
    Watchdog.Watch deadline = watchdog.watch(() -> start, timeout.toNanos(), idle -> close());
    try {
      ChannelHeader h = codec.readMessage(ChannelHeader.parser(), "header", DataPlane.HANDSHAKE_LIMIT);
      if (!deadline.cancel()) throw new DataPlaneException("deadline passed");
      return h;
    } catch (DataPlaneException e) {
      boolean late = !deadline.cancel();
      throw new DataPlaneException(late ? "no header within " + timeout.toMillis() + " ms" : "malformed header: " + e.getMessage(), e);
    }
  }

  /** Answers the header with acceptance; the stream's handler takes over. */
  void accept() {
    codec.writeMessage(ChannelAccept.newBuilder().setAccepted(true).build());
    if (checksums) codec.startChecksums();
  }

  /** Answers the header with a refusal and half-closes; the caller closes. Quiet if the peer is gone. */
  void refuse(String reason) {
    if (!connection.isOpen()) return; // the handshake deadline already closed it: nobody to answer
    try {
      codec.writeMessage(ChannelAccept.newBuilder().setAccepted(false).setReason(reason).build());
      connection.shutdownOutput();
    } catch (IOException | DataPlaneException e) {
      log.debug("could not send refusal to {}: {}", remoteAddress(), e.toString());
    }
  }

  public boolean isOpen() {
    return connection.isOpen();
  }

  public FrameCodec codec() {
    return codec;
  }

  /** The host id the peer proved to the transport; empty on plain TCP. */
  public Optional<String> peerIdentity() {
    return connection.peerIdentity();
  }

  public SocketAddress remoteAddress() {
    return connection.remoteAddress();
  }

  /** Half-closes: the peer reads end of stream after what we wrote, and we can still read what it sends. */
  public void shutdownOutput() {
    try {
      connection.shutdownOutput();
    } catch (IOException e) {
      throw new DataPlaneException("shutdown failed: " + e, e);
    }
  }

  /** Closes the connection; from any thread, so a blocked read or write fails promptly. Idempotent. */
  @Override
  public void close() {
    try {
      connection.close();
    } catch (IOException e) {
      log.debug("closing data channel to {}: {}", remoteAddress(), e.toString());
    }
  }
}
