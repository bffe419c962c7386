package org.livemig.engine.dataplane;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Benchmark, not a test: what the kernel's first access to a fresh guest-sized buffer costs on
 * this machine, the fact the data plane's staging buffers are built around (README
 * "Performance"). Each case allocates a new direct buffer of the guest's size (the JDK zeroes it
 * from user space, as a destination's guest memory is), optionally has the kernel write all of
 * it first (a read from /dev/zero), then receives the guest's size over one loopback connection
 * from a warm 1 MiB buffer, either straight into the buffer (the kernel's copy meets its pages)
 * or through a reused 1 MiB staging buffer (the kernel copies into memory it has written before,
 * user space copies on). Prints setup and receive time per case; one process, one core's worth
 * of sender and receiver each.
 *
 * <p>Run: {@code java -XX:MaxDirectMemorySize=3g -cp <engine test classes> org.livemig.engine.dataplane.FirstAccessBench [MiB] [repeats]}
 */
public final class FirstAccessBench {
  private static final int STAGE = 1 << 20;

  private enum Case {
    /** Straight into user-touched fresh memory: the kernel's first access happens in the transfer. */
    STRAIGHT,
    /** Through a reused staging buffer: what the data plane does over plain TCP. */
    STAGED,
    /** The kernel wrote the fresh memory during setup, then straight into it. */
    KERNEL_TOUCHED_STRAIGHT
  }

  private FirstAccessBench() {}

  public static void main(String[] args) throws Exception {
    long mib = args.length > 0 ? Long.parseLong(args[0]) : 1024;
    int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    if (mib > 2047) throw new IllegalArgumentException("at most 2047 MiB, one direct buffer");
    int bytes = (int) (mib << 20);
    ByteBuffer source = ByteBuffer.allocateDirect(STAGE);
    for (int i = 0; i < STAGE; i += 8) source.putLong(i, i * 0x9E3779B97F4A7C15L);
    ExecutorService sender = Executors.newSingleThreadExecutor();
    System.out.printf(Locale.ROOT, "%d MiB fresh buffer per case, %d core(s), %s%n", mib, Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.version"));
    try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
      int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
      for (int r = 0; r < repeats; r++) {
        for (Case c : List.of(Case.STRAIGHT, Case.STAGED, Case.KERNEL_TOUCHED_STRAIGHT)) {
          long t0 = System.nanoTime();
          ByteBuffer memory = ByteBuffer.allocateDirect(bytes); // zeroed from user space
          if (c == Case.KERNEL_TOUCHED_STRAIGHT) kernelWrites(memory);
          long setup = System.nanoTime() - t0;
          Future<?> sent = sender.submit(() -> {
            send(port, source.duplicate(), bytes);
            return null;
          });
          try (SocketChannel in = server.accept()) {
            long t1 = System.nanoTime();
            if (c == Case.STAGED) receiveStaged(in, memory);
            else receiveStraight(in, memory);
            long receive = System.nanoTime() - t1;
            sent.get();
            System.out.printf(Locale.ROOT, "%-24s setup %6d ms  receive %6d ms  %5.2f GB/s%n", c.name().toLowerCase(Locale.ROOT),
                setup / 1_000_000, receive / 1_000_000, bytes / 1e9 / (receive / 1e9));
          }
        }
      }
    } finally {
      sender.shutdownNow();
    }
  }

  /** The kernel writes every page (clear_user from /dev/zero), as a socket read into it would. */
  private static void kernelWrites(ByteBuffer memory) throws IOException {
    try (FileChannel zero = FileChannel.open(Path.of("/dev/zero"))) {
      ByteBuffer d = memory.duplicate().clear();
      while (d.hasRemaining()) {
        if (zero.read(d) < 0) throw new IOException("/dev/zero ended");
      }
    }
  }

  private static void receiveStraight(SocketChannel in, ByteBuffer memory) throws IOException {
    ByteBuffer d = memory.duplicate().clear();
    while (d.hasRemaining()) {
      if (in.read(d) < 0) throw new IOException("sender closed early at " + d.position());
    }
  }

  private static void receiveStaged(SocketChannel in, ByteBuffer memory) throws IOException {
    ByteBuffer stage = ByteBuffer.allocateDirect(STAGE);
    ByteBuffer d = memory.duplicate().clear();
    while (d.hasRemaining()) {
      stage.clear().limit(Math.min(STAGE, d.remaining()));
      while (stage.hasRemaining()) {
        if (in.read(stage) < 0) throw new IOException("sender closed early at " + d.position());
      }
      d.put(stage.flip());
    }
  }

  private static void send(int port, ByteBuffer source, int bytes) throws IOException {
    try (SocketChannel out = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
      for (int left = bytes; left > 0; ) {
        source.clear().limit(Math.min(STAGE, left));
        while (source.hasRemaining()) left -= out.write(source);
      }
    }
  }
}
