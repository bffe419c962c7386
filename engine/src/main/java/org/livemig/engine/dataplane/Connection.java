package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ScatteringByteChannel;
import java.util.Optional;

/**
 * One blocking byte stream to a peer, as a {@link Transport} opened it (plain TCP or TLS). The
 * {@link FrameCodec} reads and writes it; closing it from another thread makes a blocked read or
 * write fail promptly, which the watchdogs rely on.
 */
public interface Connection extends ByteChannel, ScatteringByteChannel, GatheringByteChannel {
  /** Half-closes: the peer reads end of stream after what was written; reading goes on. */
  void shutdownOutput() throws IOException;

  /** The peer's address, or null if it is not known (e.g. already closed). */
  SocketAddress remoteAddress();

  /**
   * The host id the peer proved (TLS: the name in its verified certificate), once the transport's
   * handshake is done; empty if the transport authenticates nobody (plain TCP) or before that.
   */
  default Optional<String> peerIdentity() {
    return Optional.empty();
  }

  /**
   * True when every byte passes through buffers of the transport's own (TLS encrypts and
   * decrypts), so the caller's buffers never meet the kernel and staging them would be one copy
   * more; false when the kernel reads and writes the caller's buffers (plain TCP).
   */
  default boolean copiesThroughOwnBuffers() {
    return false;
  }
}
