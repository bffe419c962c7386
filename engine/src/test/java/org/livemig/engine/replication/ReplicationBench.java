package org.livemig.engine.replication;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.SyntheticGuest;

/**
 * What a checkpoint costs the guest: pause (harvest + copy) and size per checkpoint for a 64 MiB
 * guest at a few dirty rates and intervals, over loopback. Not in the default suite (the name
 * does not end in Test); timing belongs here, not in assertions.
 *
 * <p>Run: {@code mvn -B -ntp -o -q test -pl engine -am -Dfuzz.skip=true -Dtest=ReplicationBench
 * -Dsurefire.failIfNoSpecifiedTests=false -Dbench.seconds=2}
 */
class ReplicationBench {
  private static final int PAGES = 16384; // 64 MiB

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
