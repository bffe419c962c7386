package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;

/**
 * Failover time of a protected guest: from kill -9 of the primary's JVM to the failover decided
 * (journalled) and to the guest running on the secondary, as the coordinator records them, with
 * livemig-fast-takeover.conf on every node (the failure detection a quiet cluster can afford).
 * Kills the primary bench.reps times (3), alternating hosts. Not in the default suite (the name
 * does not end in Test); it prints numbers and asserts only that each failover happened.
 *
 * <p>Run: {@code mvn -B -ntp -o -q test -pl integration-tests -Dfuzz.skip=true
 * -Dtest=ProtectionFailoverBench -Dsurefire.failIfNoSpecifiedTests=false}
 */
class ProtectionFailoverBench {
  @Test
  void killTheProtectedPrimary(@TempDir Path dir) throws Exception {
    int reps = Integer.getInteger("bench.reps", 3);
    List<String> fast = List.of("include \"livemig-fast-takeover.conf\"");
    Map<String, List<String>> all = Map.of("c1", fast, "c2", fast, "host-a", fast, "host-b", fast);
    List<String> rows = new ArrayList<>();
    try (ProcessCluster cluster = new ProcessCluster(dir, all)) {
      ProtectedGuest g = new ProtectedGuest(cluster, "fo");
      g.create();
      String primary = "host-a";
      String secondary = "host-b";
      for (int rep = 1; rep <= reps; rep++) {
        assertEquals(202, g.protectOnceEnded(primary, secondary, 50).statusCode());
        String from = primary;
        long generation = g.await(i -> i.getPrimaryHost().equals(from) && i.getState() == ProtectionState.REPLICATING
            && i.getCheckpoints() >= 20, Duration.ofSeconds(90)).getGeneration();
        long killedAt = System.currentTimeMillis();
        cluster.kill(primary);
        ProtectionInfo over = g.await(i -> i.getGeneration() == generation && i.getState() == ProtectionState.FAILED_OVER,
            Duration.ofSeconds(60));
        rows.add(String.format("%d | %s -> %s | %d ms | %d ms | checkpoint %d", rep, primary, secondary,
            over.getFailoverDecidedAtEpochMs() - killedAt, over.getFailedOverAtEpochMs() - killedAt,
            over.getFailoverCheckpoint()));
        System.out.println(rows.get(rows.size() - 1));
        cluster.restart(primary);
        String was = primary;
        primary = secondary;
        secondary = was;
      }
    }
    System.out.println("rep | primary -> secondary | kill -9 to failover decided | to the guest running | resumed from");
    rows.forEach(System.out::println);
  }
}
