package org.livemig.bench;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The baselines: plain Java sockets moving the guest's size between two JVMs on loopback, as
 * the engine's two hosts do. Two kinds, back to back with each engine run:
 * <ul>
 *   <li>socket: one connection, the sender writes one 1 MiB buffer over and over and the sink
 *       reads into one: the link alone, no guest-sized memory on either side;
 *   <li>memory: as many connections as the engine's channels, each moving its share of a
 *       touched guest-sized buffer at the sender into a touched guest-sized buffer at the sink
 *       (both touched before the clock starts, as the engine's destination touches its memory in
 *       Prepare): what a copy of guest memory costs on this machine without the engine.
 * </ul>
 * Both ends are their own JVMs ({@code RawTransfer sink|source GUEST_BYTES}); the driver tells
 * the source what to send on its stdin and reads the nanoseconds from its stdout. The sink
 * answers one byte per connection once it has read all of it, so the clock covers the transfer.
 */
public final class RawTransfer implements Closeable {
  private static final int BUFFER = 1 << 20;
  private static final byte SOCKET = 0;
  private static final byte MEMORY = 1;

  private final Process sink;
  private final Process source;
  private final PrintWriter toSource;
  private final BufferedReader fromSource;
  private final int sinkPort;

  private RawTransfer(Process sink, Process source, int sinkPort) {
    this.sink = sink;
    this.source = source;
    this.sinkPort = sinkPort;
    this.toSource = new PrintWriter(source.getOutputStream(), true, StandardCharsets.UTF_8);
    this.fromSource = reader(source);
  }

  /** Starts the sink and the source JVMs, each with guestBytes of touched memory. */
  static RawTransfer start(long guestBytes) throws IOException {
    Process sink = jvm("sink", guestBytes);
    Process source = null;
    try {
      int port = Integer.parseInt(expect(reader(sink), "raw sink "));
      source = jvm("source", guestBytes);
      RawTransfer raw = new RawTransfer(sink, source, port);
      expect(raw.fromSource, "raw source ready");
      return raw;
    } catch (IOException | RuntimeException e) {
      sink.destroy();
      if (source != null) source.destroy();
      throw e;
    }
  }

  /** One connection from a 1 MiB buffer into a 1 MiB buffer: nanoseconds until the sink acknowledged. */
  long socket(long bytes) throws IOException {
    return ask("socket " + sinkPort + " " + bytes + " 1");
  }

  /** Guest memory into guest memory over channels connections: nanoseconds until the last acknowledgement. */
  long memory(long bytes, int channels) throws IOException {
    return ask("memory " + sinkPort + " " + bytes + " " + channels);
  }

  private long ask(String command) throws IOException {
    toSource.println(command);
    return Long.parseLong(expect(fromSource, "nanos "));
  }

  @Override
  public void close() {
    source.destroy();
    sink.destroy();
  }

  private static Process jvm(String role, long guestBytes) throws IOException {
    long directMib = (guestBytes >> 20) + 64;
    return new ProcessBuilder(HostPair.javaBin(), "-Xmx128m", "-XX:MaxDirectMemorySize=" + directMib + "m", "-cp",
        System.getProperty("java.class.path"), RawTransfer.class.getName(), role, Long.toString(guestBytes))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
  }

  private static BufferedReader reader(Process p) {
    return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
  }

  /** The rest of the next line, which must start with prefix. */
  private static String expect(BufferedReader in, String prefix) throws IOException {
    String line = in.readLine();
    if (line == null || !line.startsWith(prefix)) {
      throw new IOException("raw transfer: expected '" + prefix + "...', got " + (line == null ? "end of output" : "'" + line + "'"));
    }
    return line.substring(prefix.length()).trim();
  }

  /** A guest-sized direct buffer, every page written (resident before any clock starts). */
  private static ByteBuffer touched(long guestBytes, boolean random) {
    if (guestBytes > Integer.MAX_VALUE) throw new IllegalArgumentException("raw transfer: at most 2 GiB, got " + guestBytes);
    ByteBuffer memory = ByteBuffer.allocateDirect((int) guestBytes);
    byte[] chunk = new byte[BUFFER];
    if (random) ThreadLocalRandom.current().nextBytes(chunk);
    while (memory.hasRemaining()) memory.put(chunk, 0, Math.min(chunk.length, memory.remaining()));
    return memory.clear();
  }

  /** sink GUEST_BYTES | source GUEST_BYTES */
  public static void main(String[] args) throws Exception {
    long guestBytes = Long.parseLong(args[1]);
    if (args[0].equals("sink")) sink(guestBytes);
    else if (args[0].equals("source")) source(guestBytes);
    else throw new IllegalArgumentException("usage: RawTransfer sink|source GUEST_BYTES");
  }

  /** Prints "raw sink PORT", then serves connections (one thread each) until killed. */
  private static void sink(long guestBytes) throws IOException {
    ByteBuffer memory = touched(guestBytes, false);
    ExecutorService threads = Executors.newCachedThreadPool();
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress("127.0.0.1", 0));
      System.out.println("raw sink " + ((InetSocketAddress) server.getLocalAddress()).getPort());
      System.out.flush();
      while (true) {
        SocketChannel c = server.accept();
        threads.execute(() -> receive(c, memory));
      }
    }
  }

  /** Header: kind (1 byte), offset, length (8 bytes each); then length bytes; answers one byte. */
  private static void receive(SocketChannel c, ByteBuffer memory) {
    try (c) {
      ByteBuffer header = ByteBuffer.allocate(17);
      readFully(c, header);
      header.flip();
      byte kind = header.get();
      long offset = header.getLong();
      long length = header.getLong();
      if (kind == MEMORY) {
        ByteBuffer slice = memory.duplicate().limit((int) (offset + length)).position((int) offset);
        readFully(c, slice);
      } else {
        ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
        for (long remaining = length; remaining > 0; ) {
          buf.clear().limit((int) Math.min(BUFFER, remaining));
          int r = c.read(buf);
          if (r < 0) throw new IOException("sender closed with " + remaining + " bytes to go");
          remaining -= r;
        }
      }
      c.write(ByteBuffer.wrap(new byte[] {1}));
    } catch (IOException e) {
      System.err.println("raw sink: " + e);
    }
  }

  /** Prints "raw source ready", then runs "KIND PORT BYTES CHANNELS" lines from stdin, answering "nanos N". */
  private static void source(long guestBytes) throws Exception {
    ByteBuffer memory = touched(guestBytes, true);
    ByteBuffer scratch = touched(BUFFER, true);
    ExecutorService threads = Executors.newCachedThreadPool();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    System.out.println("raw source ready");
    System.out.flush();
    for (String line; (line = in.readLine()) != null; ) {
      String[] f = line.trim().split("\\s+");
      boolean fromMemory = f[0].equals("memory");
      int port = Integer.parseInt(f[1]);
      long bytes = Math.min(Long.parseLong(f[2]), fromMemory ? guestBytes : Long.MAX_VALUE);
      int channels = Integer.parseInt(f[3]);
      long t0 = System.nanoTime();
      List<Future<?>> sent = new ArrayList<>();
      long share = bytes / channels;
      for (int k = 0; k < channels; k++) {
        long offset = k * share;
        long length = k == channels - 1 ? bytes - offset : share;
        sent.add(threads.submit(() -> {
          send(port, fromMemory ? memory.duplicate() : scratch.duplicate(), fromMemory, offset, length);
          return null;
        }));
      }
      for (Future<?> f2 : sent) f2.get();
      System.out.println("nanos " + (System.nanoTime() - t0));
      System.out.flush();
    }
    threads.shutdownNow();
  }

  private static void send(int port, ByteBuffer data, boolean fromMemory, long offset, long length) throws IOException {
    try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
      ByteBuffer header = ByteBuffer.allocate(17).put(fromMemory ? MEMORY : SOCKET).putLong(offset).putLong(length);
      c.write(header.flip());
      if (fromMemory) {
        data.limit((int) (offset + length)).position((int) offset);
        while (data.hasRemaining()) c.write(data);
      } else {
        for (long remaining = length; remaining > 0; ) {
          data.clear().limit((int) Math.min(BUFFER, remaining));
          while (data.hasRemaining()) remaining -= c.write(data);
        }
      }
      readFully(c, ByteBuffer.allocate(1));
    }
  }

  private static void readFully(SocketChannel c, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (c.read(b) < 0) throw new IOException("peer closed early");
    }
  }
}
