package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/** Plain TCP: blocking NIO socket channels, so payloads move between guest memory and the kernel with no copy of ours. */
public final class TcpTransport implements Transport {
  public static final TcpTransport INSTANCE = new TcpTransport();

  private TcpTransport() {}

  @Override
  public Connection dial(String host, int port, LinkOptions options, Duration connectTimeout) throws IOException {
    return new TcpConnection(Sockets.connect(host, port, options, connectTimeout));
  }

  @Override
  public Acceptor listen(String host, int port, LinkOptions options) throws IOException {
    return Sockets.listen(host, port, options, TcpConnection::new);
  }

  /** The channel header: a varint length and that many bytes. */
  @Override
  public int firstMessageBytes(ByteBuffer start) {
    int length = 0;
    for (int i = 0; i < 5; i++) {
      if (i == start.remaining()) return 0;
      byte b = start.get(start.position() + i);
      length |= (b & 0x7f) << (7 * i);
      if (b >= 0) return length < 0 ? -1 : i + 1 + length;
    }
    return -1;
  }

  private static final class TcpConnection implements Connection {
    private static final ByteBuffer NONE = ByteBuffer.allocate(0);
    private final SocketChannel socket;
    private ByteBuffer prefix; // bytes read before this connection existed (the handshake gate's); reader thread

    TcpConnection(SocketChannel socket) {
      this(socket, NONE);
    }

    TcpConnection(SocketChannel socket, ByteBuffer prefix) {
      this.socket = socket;
      this.prefix = prefix;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      if (!prefix.hasRemaining()) return socket.read(dst);
      int n = Sockets.move(prefix, dst);
      if (!prefix.hasRemaining()) prefix = NONE;
      return n;
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      if (!prefix.hasRemaining()) return socket.read(dsts, offset, length);
      long n = 0;
      for (int i = offset; i < offset + length && prefix.hasRemaining(); i++) n += read(dsts[i]);
      return n;
    }

    @Override
    public long read(ByteBuffer[] dsts) throws IOException {
      return read(dsts, 0, dsts.length);
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
      return Sockets.remoteAddress(socket);
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
