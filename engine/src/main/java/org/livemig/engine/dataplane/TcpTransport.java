package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/** Plain TCP: blocking NIO socket channels, so payloads move between guest memory and the kernel with no copy of ours. */
public final class TcpTransport implements Transport {
  public static final TcpTransport INSTANCE = new TcpTransport();
  private static final int BACKLOG = 128;

  private TcpTransport() {}

  @Override
  public Connection dial(String host, int port, LinkOptions options, Duration connectTimeout) throws IOException {
    SocketChannel socket = SocketChannel.open();
    try {
      if (options.sendBufferBytes() > 0) socket.socket().setSendBufferSize(options.sendBufferBytes());
      if (options.receiveBufferBytes() > 0) socket.socket().setReceiveBufferSize(options.receiveBufferBytes());
      socket.socket().connect(new InetSocketAddress(host, port), (int) connectTimeout.toMillis());
      if (options.tcpNoDelay()) socket.socket().setTcpNoDelay(true);
      return new TcpConnection(socket);
    } catch (IOException | RuntimeException e) {
      closeAfterFailure(socket, e);
      throw e;
    }
  }

  @Override
  public Acceptor listen(String host, int port, LinkOptions options) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    try {
      // Before bind: accepted connections negotiate their window from it.
      if (options.receiveBufferBytes() > 0) server.socket().setReceiveBufferSize(options.receiveBufferBytes());
      server.bind(new InetSocketAddress(host, port), BACKLOG);
    } catch (IOException | RuntimeException e) {
      closeAfterFailure(server, e);
      throw e;
    }
    return new TcpAcceptor(server, options);
  }

  private static void closeAfterFailure(java.io.Closeable c, Exception failure) {
    try {
      c.close();
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private static final class TcpAcceptor implements Acceptor {
    private final ServerSocketChannel server;
    private final LinkOptions options;

    TcpAcceptor(ServerSocketChannel server, LinkOptions options) {
      this.server = server;
      this.options = options;
    }

    @Override
    public Connection accept() throws IOException {
      SocketChannel socket = server.accept();
      try {
        if (options.sendBufferBytes() > 0) socket.socket().setSendBufferSize(options.sendBufferBytes());
        if (options.tcpNoDelay()) socket.socket().setTcpNoDelay(true);
      } catch (IOException | RuntimeException e) {
        closeAfterFailure(socket, e);
        throw e;
      }
      return new TcpConnection(socket);
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

  private static final class TcpConnection implements Connection {
    private final SocketChannel socket;

    TcpConnection(SocketChannel socket) {
      this.socket = socket;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return socket.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return socket.read(dsts, offset, length);
    }

    @Override
    public long read(ByteBuffer[] dsts) throws IOException {
      return socket.read(dsts);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      return socket.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      return socket.write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
      return socket.write(srcs);
    }

    @Override
    public void shutdownOutput() throws IOException {
      socket.shutdownOutput();
    }

    @Override
    public SocketAddress remoteAddress() {
      try {
        return socket.getRemoteAddress();
      } catch (IOException e) {
        return null;
      }
    }

    @Override
    public boolean isOpen() {
      return socket.isOpen();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
