package org.livemig.engine.dataplane;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/** The TCP sockets under every transport: dialled, bound and accepted with a link's options. */
final class Sockets {
  private static final int BACKLOG = 128;

  private Sockets() {}

  /** A connected socket with options applied; closed again if anything fails. */
  static SocketChannel connect(String host, int port, LinkOptions options, Duration connectTimeout) throws IOException {
    SocketChannel socket = SocketChannel.open();
    try {
      if (options.sendBufferBytes() > 0) socket.socket().setSendBufferSize(options.sendBufferBytes());
      if (options.receiveBufferBytes() > 0) socket.socket().setReceiveBufferSize(options.receiveBufferBytes());
      socket.socket().connect(new InetSocketAddress(host, port), (int) connectTimeout.toMillis());
      if (options.tcpNoDelay()) socket.socket().setTcpNoDelay(true);
      return socket;
    } catch (IOException | RuntimeException e) {
      closeAfterFailure(socket, e);
      throw e;
    }
  }

  /** A bound port whose accepted sockets get options and become connections through opener. */
  static Transport.Acceptor listen(String host, int port, LinkOptions options, Opener opener) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    try {
      // Before bind: accepted connections negotiate their window from it.
      if (options.receiveBufferBytes() > 0) server.socket().setReceiveBufferSize(options.receiveBufferBytes());
      server.bind(new InetSocketAddress(host, port), BACKLOG);
    } catch (IOException | RuntimeException e) {
      closeAfterFailure(server, e);
      throw e;
    }
    return new SocketAcceptor(server, options, opener);
  }

  /** How a transport makes a connection of an accepted socket and the bytes read from it so far. */
  interface Opener {
    Connection open(SocketChannel socket, ByteBuffer prefix) throws IOException;
  }

  /** The peer's address, or null if it is not known (e.g. already closed). */
  static SocketAddress remoteAddress(SocketChannel socket) {
    try {
      return socket.getRemoteAddress();
    } catch (IOException e) {
      return null;
    }
  }

  /** Bytes left in buffers[offset .. offset + length): what a gather write still has to move. */
  static long remaining(ByteBuffer[] buffers, int offset, int length) {
    long n = 0;
    for (int i = offset; i < offset + length; i++) n += buffers[i].remaining();
    return n;
  }

  /** Copies as much of from as to has room for; both positions move on by the bytes copied. */
  static int move(ByteBuffer from, ByteBuffer to) {
    int n = Math.min(from.remaining(), to.remaining());
    to.put(to.position(), from, from.position(), n).position(to.position() + n);
    from.position(from.position() + n);
    return n;
  }

  /** Moves what from holds into dsts[offset .. offset + length), in order, as far as they have room. */
  static long scatter(ByteBuffer from, ByteBuffer[] dsts, int offset, int length) {
    long moved = 0;
    for (int i = offset; i < offset + length && from.hasRemaining(); i++) moved += move(from, dsts[i]);
    return moved;
  }

  static void closeAfterFailure(Closeable c, Exception failure) {
    try {
      c.close();
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private record SocketAcceptor(ServerSocketChannel server, LinkOptions options, Opener opener) implements Transport.Acceptor {
    @Override
    public SocketChannel accept() throws IOException {
      SocketChannel socket = server.accept();
      try {
        if (options.sendBufferBytes() > 0) socket.socket().setSendBufferSize(options.sendBufferBytes());
        if (options.tcpNoDelay()) socket.socket().setTcpNoDelay(true);
        return socket;
      } catch (IOException | RuntimeException e) {
        closeAfterFailure(socket, e);
        throw e;
      }
    }

    @Override
    public Connection open(SocketChannel socket, ByteBuffer prefix) throws IOException {
      return opener.open(socket, prefix);
    }

    @Override
    public int port() {
      return server.socket().getLocalPort();
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}
