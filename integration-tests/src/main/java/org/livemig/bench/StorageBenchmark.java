package org.livemig.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.LatencySummary;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * Storage migration (copy_storage, README "Disks to another host") against a raw copy of the same
 * disk data through a loopback socket, back to back: a live guest (bench.storage.size-mib of
 * memory, 32: small, so that the total is mostly the disk's) with a disk of bench.storage.disk-mib (1024) on each host's own "local" datastore,
 * writing bench.storage.write-mbps (20) at queue depth 16, is migrated back and forth
 * (bench.storage.reps per mode, 3; modes write-blocking and background; after bench.storage.warmup
 * uncounted migrations of both guests, 2, back and forth) after writing for
 * bench.storage.fill-seconds (10). The raw copy reads the disk file the guest now runs on and
 * sends its written blocks (the engine skips never-written ones too) over a loopback socket to a
 * file the receiver makes durable at the end. Printed per migration: total time, downtime, the
 * disk's bytes sent, the copy's time and rate; the raw copy's time; the ratios of the migration's
 * total and of the disk copy alone to the raw copy; the guest's write latency (p50 / p99) before
 * the move, while its mirror only tracked and while it was installed; and the downtime of the
 * same guest without disks (nodisk-0: same memory and dirty rate) migrated between the same hosts
 * right after it; per mode, the median downtime of each and the difference (the goal: at most 5 ms).
 */
public final class StorageBenchmark {
  private static final int BLOCK = 4096;

  private StorageBenchmark() {}

  public static void main(String[] args) throws Exception {
    long sizeMib = Long.parseLong(Benchmark.prop("bench.storage.size-mib", "32"));
    long diskMib = Long.parseLong(Benchmark.prop("bench.storage.disk-mib", "1024"));
    long writeMbps = Long.parseLong(Benchmark.prop("bench.storage.write-mbps", "20"));
    int reps = Integer.parseInt(Benchmark.prop("bench.storage.reps", "3"));
    int warmup = Integer.parseInt(Benchmark.prop("bench.storage.warmup", "2"));
    long fillSeconds = Long.parseLong(Benchmark.prop("bench.storage.fill-seconds", "10"));
    Path dir = Files.createTempDirectory("livemig-storage-bench");
    String journal = Benchmark.journalUrl("h2", dir);
    List<String> hostJvm = List.of("-Xms256m", "-Xmx256m", "-XX:MaxDirectMemorySize=" + (2 * sizeMib + 256) + "m");
    String local = "livemig.host.datastores.local = \"" + dir.resolve("local-") + "\"${livemig.host.id}\n";
    String guest = "bench.guest { id = \"vm\", size-mib = " + sizeMib + ", dirty-pages-per-second = 1000, running = true,"
        + " disk { datastore = local, blocks = " + diskMib * 256 + ", queue-depth = 16, writes-per-second = "
        + writeMbps * 1_000_000 / BLOCK + " } }\n"
        // The same guest without disks (another seed): its downtime is the baseline of vm's.
        + "bench.guests { prefix = nodisk, count = 1, size-mib = " + sizeMib + ", dirty-pages-per-second = 1000 }\n" + local;
    System.out.printf("storage benchmark: guest %d MiB, disk %d MiB writing %d MB/s, %d repetition(s) per mode, %s%n",
        sizeMib, diskMib, writeMbps, reps, dir);
    try (LivemigNode coordinator = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal,
        Map.of()))) {
      coordinator.join(coordinator.address());
      MigrationClient client = new MigrationClient(coordinator.system());
      try (HostPair hosts = HostPair.start(coordinator.system(), dir, coordinator.address().toString(), journal, guest,
          local, hostJvm)) {
        String from = "host-a";
        // Uncounted, back and forth: fresh host JVMs run their first migrations with cold code.
        for (int w = 0; w < warmup; w++) {
          String to = from.equals("host-a") ? "host-b" : "host-a";
          Thread.sleep(TimeUnit.SECONDS.toMillis(fillSeconds));
          MigrationInfo i = migrate(client, from, to, w % 2 == 0 ? "write-blocking" : "background");
          MigrationInfo plain = migratePlain(client, from, to);
          System.out.printf("warm-up %s -> %s: downtime %d ms, without disks %d ms%n", from, to, i.getDowntimeMs(),
              plain.getDowntimeMs());
          from = to;
        }
        for (String mode : List.of("write-blocking", "background")) {
          List<Long> withDisk = new java.util.ArrayList<>();
          List<Long> without = new java.util.ArrayList<>();
          for (int r = 0; r < reps; r++) {
            Thread.sleep(TimeUnit.SECONDS.toMillis(fillSeconds)); // the guest writes: the disk fills
            String to = from.equals("host-a") ? "host-b" : "host-a";
            MigrationInfo i = migrate(client, from, to, mode);
            Path file = dir.resolve("local-" + to).resolve("vm").resolve("root.img");
            long rawNanos = rawCopy(file, dir.resolve("raw-copy.img"));
            DiskMoveStatus d = i.getDisks(0);
            double engineS = i.getTotalTimeMs() / 1e3;
            double copyS = d.getRateBytesPerSecond() == 0 ? 0 : (double) d.getCopiedBytes() / d.getRateBytesPerSecond();
            double rawS = rawNanos / 1e9;
            System.out.printf("%-14s %s -> %s: total %.2f s, downtime %d ms (disk pivot before the stun, I/O held: %.1f ms); disk copy "
                    + "%.2f s (%d passes, %.1f MB written), %d mirrored writes; raw copy of the disk's written blocks "
                    + "%.2f s; total / raw %.2f, disk copy / raw %.2f%n", mode, from, to, engineS, i.getDowntimeMs(),
                i.getBlackout().getDiskPivotUs() / 1e3, copyS, d.getPasses(), sentBytes(file) / 1e6,
                d.getMirroredWrites(), rawS, engineS / rawS, copyS / rawS);
            System.out.printf("%-14s   guest writes p50 / p99: no mirror %s, mirror tracking %s, mirror installed %s%n",
                "", latency(d.getWritesBefore()), latency(d.getWritesTracked()), latency(d.getWritesMirrored()));
            MigrationInfo plain = migratePlain(client, from, to);
            withDisk.add(i.getDowntimeMs());
            without.add(plain.getDowntimeMs());
            System.out.printf("%-14s   downtime with the disk %d ms, the same guest without disks %d ms (%s): %.2fx%n", "",
                i.getDowntimeMs(), plain.getDowntimeMs(), plain.getStatus(),
                (double) i.getDowntimeMs() / Math.max(1, plain.getDowntimeMs()));
            from = to;
          }
          long a = median(withDisk);
          long b = median(without);
          System.out.printf("%-14s downtime median with the disk %d ms, without disks %d ms: %+d ms (goal: at most +5)%n",
              mode, a, b, a - b);
        }
      }
    }
    System.exit(0); // the coordinator's H2 and Akka threads would otherwise hold the JVM
  }

  private static MigrationInfo migrate(MigrationClient client, String from, String to, String mode) throws Exception {
    MigrationInfo info = Benchmark.awaitEnd(client, client.start("vm", from, to, MigrationParameters.newBuilder()
        .setCopyStorage(true).setStorageMode(mode).build()).toCompletableFuture().get(60, TimeUnit.SECONDS));
    if (info.getStatus() != MigrationStatus.COMPLETED) {
      throw new IllegalStateException("migration " + from + " -> " + to + " ended " + info.getStatus() + ": "
          + info.getError());
    }
    return info;
  }

  /** The same guest without disks (nodisk-0) between the same hosts: the downtime's baseline. */
  private static MigrationInfo migratePlain(MigrationClient client, String from, String to) throws Exception {
    return Benchmark.awaitEnd(client, client.start("nodisk-0", from, to, MigrationParameters.getDefaultInstance())
        .toCompletableFuture().get(60, TimeUnit.SECONDS));
  }

  private static long median(List<Long> xs) {
    List<Long> sorted = xs.stream().sorted().toList();
    return sorted.get(sorted.size() / 2);
  }

  private static String latency(LatencySummary l) {
    return l.getCount() == 0 ? "(no writes)" : String.format("%.2f / %.2f ms (%d writes)", l.getP50Us() / 1e3,
        l.getP99Us() / 1e3, l.getCount());
  }

  /** The written (non-zero) blocks' bytes of a disk file. */
  private static long sentBytes(Path file) throws IOException {
    long n = 0;
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
      for (long pos = BLOCK; pos < in.size(); pos += BLOCK) { // after the superblock
        b.clear();
        in.read(b, pos);
        if (!zero(b)) n += BLOCK;
      }
    }
    return n;
  }

  /**
   * The baseline: the file's written blocks read and sent over a loopback socket (offset + block),
   * written at the receiver into a new file made durable at the end. Returns the nanoseconds.
   */
  static long rawCopy(Path source, Path target) throws Exception {
    Files.deleteIfExists(target);
    try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
      CompletableFuture<Void> receiver = CompletableFuture.runAsync(() -> receive(server, target));
      long t0 = System.nanoTime();
      try (SocketChannel out = SocketChannel.open(server.getLocalAddress());
          FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
        ByteBuffer head = ByteBuffer.allocateDirect(8);
        ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
        for (long pos = BLOCK; pos < in.size(); pos += BLOCK) {
          b.clear();
          in.read(b, pos);
          if (zero(b)) continue;
          head.clear().putLong(pos).flip();
          b.flip();
          while (head.hasRemaining() || b.hasRemaining()) out.write(new ByteBuffer[] {head, b});
        }
      }
      receiver.get(10, TimeUnit.MINUTES);
      long nanos = System.nanoTime() - t0;
      Files.deleteIfExists(target);
      return nanos;
    }
  }

  private static void receive(ServerSocketChannel server, Path target) {
    try (SocketChannel in = server.accept(); FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE)) {
      ByteBuffer head = ByteBuffer.allocateDirect(8);
      ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
      while (true) {
        head.clear();
        b.clear();
        while (head.hasRemaining() || b.hasRemaining()) {
          if (in.read(new ByteBuffer[] {head, b}) < 0) {
            out.force(false);
            return;
          }
        }
        long pos = head.flip().getLong();
        b.flip();
        while (b.hasRemaining()) out.write(b, pos + b.position());
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static boolean zero(ByteBuffer b) {
    for (int i = 0; i < BLOCK; i += 8) if (b.getLong(i) != 0) return false;
    return true;
  }
}
