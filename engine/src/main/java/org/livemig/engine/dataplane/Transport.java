package org.livemig.engine.dataplane;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/**
 * How data channels reach a peer: the one place where connections are dialled, accepted and
 * closed ({@link TcpTransport} today; TLS plugs in as another implementation). The channel
 * handshake on top of it is {@link DataChannel}'s.
 */
public interface Transport {
  /** Connects to host:port within connectTimeout, with options applied. */
  Connection dial(String host, int port, LinkOptions options, Duration connectTimeout) throws IOException;

  /** Binds a listening port (0 = any free one); options apply to every accepted connection. */
  Acceptor listen(String host, int port, LinkOptions options) throws IOException;

  /**
   * How many bytes make the whole first message of a new connection, judged from its first
   * bytes (start, in read mode): 0 = cannot tell yet, -1 = not a valid start. The server spends
   * a thread on the connection only once that many have arrived.
   */
  int firstMessageBytes(ByteBuffer start);

  /**
   * True when the transport itself detects any change of the bytes in flight (TLS's AEAD);
   * otherwise every frame and payload carries a CRC32C (see {@link FrameCodec}).
   */
  default boolean protectsIntegrity() {
    return false;
  }

  /** A bound port. */
  interface Acceptor extends Closeable {
    /**
     * Blocks for the next socket, before any byte of it was read; {@link #open} makes it a
     * connection. Throws ClosedChannelException once closed (also when closed while waiting);
     * any other IOException is a failed accept the caller may retry.
     */
    SocketChannel accept() throws IOException;

    /** The connection over an accepted socket (blocking again) whose first bytes were read already. */
    Connection open(SocketChannel socket, ByteBuffer prefix) throws IOException;

    /** Blocks for the next connection, for callers that wait for no header first. */
    default Connection acceptConnection() throws IOException {
      return open(accept(), ByteBuffer.allocate(0));
    }

    int port();
  }
}
