package org.livemig.engine.dataplane;

/**
 * Socket options of one use of the transport; 0 leaves a buffer at the system's default.
 *
 * @param sendBufferBytes SO_SNDBUF, set before connecting
 * @param receiveBufferBytes SO_RCVBUF, set before connecting or, listening, before binding so that
 *     accepted connections negotiate a window this large
 * @param tcpNoDelay TCP_NODELAY once connected (accepted): small frames must not wait for Nagle
 */
public record LinkOptions(int sendBufferBytes, int receiveBufferBytes, boolean tcpNoDelay) {
  public LinkOptions {
    if (sendBufferBytes < 0 || receiveBufferBytes < 0) {
      throw new IllegalArgumentException("negative socket buffer: " + sendBufferBytes + "/" + receiveBufferBytes);
    }
  }
}
