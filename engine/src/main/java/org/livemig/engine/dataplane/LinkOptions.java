package org.livemig.engine.dataplane;

/**
 * Options of one use of the transport: socket options (0 leaves a buffer at the system's
 * default) and, for a dialler, whom it must reach.
 *
 * @param sendBufferBytes SO_SNDBUF, set before connecting
 * @param receiveBufferBytes SO_RCVBUF, set before connecting or, listening, before binding so that
 *     accepted connections negotiate a window this large
 * @param tcpNoDelay TCP_NODELAY once connected (accepted): small frames must not wait for Nagle
 * @param expectedPeer the host id the dialled peer must prove (TLS: its certificate's name); a
 *     dial that reaches anyone else fails before a byte is written. Null = any peer the
 *     transport authenticates. Plain TCP authenticates nobody and ignores it.
 */
public record LinkOptions(int sendBufferBytes, int receiveBufferBytes, boolean tcpNoDelay, String expectedPeer) {
  public LinkOptions {
    if (sendBufferBytes < 0 || receiveBufferBytes < 0) {
      throw new IllegalArgumentException("negative socket buffer: " + sendBufferBytes + "/" + receiveBufferBytes);
    }
    if (expectedPeer != null && expectedPeer.isBlank()) throw new IllegalArgumentException("blank expected peer");
  }

  public LinkOptions(int sendBufferBytes, int receiveBufferBytes, boolean tcpNoDelay) {
    this(sendBufferBytes, receiveBufferBytes, tcpNoDelay, null);
  }

  /** The same socket options, to reach host only. */
  public LinkOptions expecting(String host) {
    return new LinkOptions(sendBufferBytes, receiveBufferBytes, tcpNoDelay, host);
  }
}
