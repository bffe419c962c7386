package org.livemig.engine.replication;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.SyntheticGuest;

/**
 * What a checkpoint costs the guest: pause (harvest + copy) and size per checkpoint for a 64 MiB
 * guest at a few dirty rates and intervals, over loopback; and at 50 MB/s the guest's progress
 * and its output latency against the same guest unprotected. Not in the default suite (the name
 * does not end in Test); timing belongs here, not in assertions.
 *
 * <p>Run: {@code mvn -B -ntp -o -q test -pl engine -am -Dfuzz.skip=true -Dtest=ReplicationBench
 * -Dsurefire.failIfNoSpecifiedTests=false -Dbench.seconds=2}
 */
class ReplicationBench {
  private static final int PAGES = 16384; // 64 MiB

  /**
   * Issue 17's benchmark: a 64 MiB guest dirtying 50 MB/s (12,800 pages/s), protected at 25, 50
   * and 100 ms against the same guest unprotected, back to back: its progress (steps/s), pause
   * p50/p99, bytes per checkpoint and the latency the output commit adds (emit to release).
   */
  @Test
  void progressAndOutputLatencyAgainstTheUnprotectedGuest() throws Exception {
    long seconds = Long.getLong("bench.seconds", 3);
    long rate = 12_800;
    System.out.println("interval | steps/s protected / unprotected | checkpoints | KiB/checkpoint (mean) "
        + "| pause p50 / p99 | output latency p50 / p99");
    for (int interval : new int[] {25, 50, 100}) {
      try (ReplicationRig rig = new ReplicationRig(PAGES, rate, 256L << 20, Duration.ofSeconds(5))) {
        double unprotected = stepsPerSecond(rig.newPrimary(), seconds);
        SyntheticGuest primary = rig.newPrimary();
        java.util.concurrent.ConcurrentHashMap<Long, Long> emittedAt = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.List<Long> latencies = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        OutputGate gate = new OutputGate(o -> latencies.add(System.nanoTime() - emittedAt.remove(o.number())));
        org.livemig.engine.guest.GuestOutput output = new org.livemig.engine.guest.GuestOutput(100, o -> {
          emittedAt.put(o.number(), System.nanoTime());
          gate.emit(o);
        });
        primary.setStepListener(output);
        primary.run("primary-owner");
        CheckpointStream stream = CheckpointStream.connect("127.0.0.1", rig.server.port(), ReplicationRig.ID,
            ReplicationRig.TOKEN, rig.settings, null);
        CheckpointSettings settings = CheckpointSettings.defaults().withInterval(Duration.ofMillis(interval));
        try (Checkpointer c = new Checkpointer(ReplicationRig.ID, primary, "primary-owner", output, gate, stream, settings,
            256)) {
          c.start();
          ReplicationRig.await(() -> c.status().checkpoints() >= 1, "the first checkpoint");
          ReplicationStatus s0 = c.status();
          long steps0 = primary.steps();
          long t0 = System.nanoTime();
          latencies.clear();
          long bytes = 0;
          long last = s0.lastCheckpoint();
          long end = t0 + seconds * 1_000_000_000L;
          while (System.nanoTime() < end) {
            Thread.sleep(5); // sampling each checkpoint's size while the window runs
            ReplicationStatus s = c.status();
            if (s.lastCheckpoint() != last) {
              bytes += s.lastCheckpointBytes();
              last = s.lastCheckpoint();
            }
          }
          double steps = (primary.steps() - steps0) / ((System.nanoTime() - t0) / 1e9);
          ReplicationStatus s = c.status();
          long n = s.checkpoints() - s0.checkpoints();
          long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
          System.out.printf("%5d ms | %9.0f / %9.0f (%.2fx) | %11d | %21.0f | %6.2f / %6.2f ms | %6.1f / %6.1f ms%n",
              interval, steps, unprotected, steps / unprotected, n, n == 0 ? 0 : bytes / 1024.0 / n,
              s.p50PauseMicros() / 1000.0, s.p99PauseMicros() / 1000.0, percentile(l, 50) / 1e6, percentile(l, 99) / 1e6);
        } finally {
          primary.destroy();
        }
      }
    }
  }

  private static double stepsPerSecond(SyntheticGuest guest, long seconds) throws InterruptedException {
    try {
      guest.run("primary-owner");
      Thread.sleep(200); // warm-up of the workload thread
      long s0 = guest.steps();
      long t0 = System.nanoTime();
      Thread.sleep(seconds * 1000); // a benchmark's measuring window
      return (guest.steps() - s0) / ((System.nanoTime() - t0) / 1e9);
    } finally {
      guest.destroy();
    }
  }

  private static long percentile(long[] sorted, int p) {
    return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  @Test
  void pausePerCheckpoint() throws Exception {
    long seconds = Long.getLong("bench.seconds", 2);
    System.out.println("dirty pages/s | interval | checkpoints | bytes/checkpoint (last) | pause p50 | pause p99");
    for (long rate : new long[] {5_000, 20_000, 50_000}) {
      for (int interval : new int[] {25, 100}) {
        try (ReplicationRig rig = new ReplicationRig(PAGES, rate, 256L << 20, Duration.ofSeconds(5))) {
          SyntheticGuest primary = rig.newPrimary();
          primary.run("primary-owner");
          CheckpointStream stream = CheckpointStream.connect("127.0.0.1", rig.server.port(), ReplicationRig.ID, ReplicationRig.TOKEN,
              rig.settings, null);
          CheckpointSettings settings = CheckpointSettings.defaults().withInterval(Duration.ofMillis(interval));
          try (Checkpointer c = new Checkpointer(ReplicationRig.ID, primary, "primary-owner", null, null, stream, settings, 256)) {
            c.start();
            ReplicationRig.await(() -> c.status().checkpoints() >= 1, "the first checkpoint");
            long first = c.status().checkpoints();
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (System.nanoTime() < end) Thread.sleep(50); // a benchmark's measuring window
            ReplicationStatus s = c.status();
            System.out.printf("%13d | %5d ms | %11d | %23d | %6d us | %6d us%n", rate, interval, s.checkpoints() - first,
                s.lastCheckpointBytes(), s.p50PauseMicros(), s.p99PauseMicros());
          } finally {
            primary.destroy();
          }
        }
      }
    }
  }
}
