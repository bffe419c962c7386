package org.livemig.it.chaos;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.it.chaos.ChaosCell.Fault;
import org.livemig.it.chaos.ChaosCell.Moment;

/**
 * The chaos harness: each cell starts four JVMs ({@link ChaosCluster}), injects one fault at one
 * moment of a migration and checks the invariants ({@link ChaosCell}). {@code mvn test} runs a
 * representative set; {@code -Pchaos} (chaos.matrix=full) every fault at every moment with
 * chaos.seeds seeds each, and prints the table of cells. -Dchaos.cells=FAULT@MOMENT#seed,...
 * repeats chosen cells (a failing cell prints its own).
 */
class ChaosTest {
  /**
   * The default run: a cell for each kind of fault that no other test of the default run injects (a
   * process frozen, the journal blocked), short fault durations; a
   * cell ending in ":N" lets its fault last up to N seconds as in the full matrix, one ending in
   * ":downed" keeps its node frozen until the others have downed it and ended the migration without
   * it (the destination frozen in Finish past its lease: the lease's case; at most 30 s). Killed
   * processes and a broken data link have tests of their own in the default run, so their cells run
   * in the full matrix only, as does a partition: the migration's source partitioned by iptables
   * until downed is PartitionFencingTest (the cell PARTITION_SOURCE@EARLY_PERFORM#4, a partition that
   * heals after seconds, ran here until the default run had to fit in 20 minutes on 2 cores; it runs
   * with -Dchaos.cells); the JVM running the migration's coordinator killed with kill -9 in
   * Perform (CoordinatorProcessKillTest; CoordinatorCrashTest and SharedPostgresJournalTest crash
   * its node in one JVM), hosts lost (HostLossTest, PostcopyFailoverTest) or silent in Confirm
   * (ConfirmRetryTest), the link cut in postcopy and recovered over the same route (PostcopyTest,
   * also in PostcopyFailoverTest), cut or hung in precopy (DataLinkFailureTest). The default run's
   * earlier cells KILL_COORDINATOR@NEAR_SWITCHOVER#1 and CUT_DATA_LINK@POSTCOPY_ACTIVE#7 run with
   * -Dchaos.cells (README "The chaos harness").
   */
  static final List<String> REPRESENTATIVE = List.of(
      "FREEZE_DESTINATION@FINISH#1:downed",
      "JOURNAL_BLOCKED@FINISH#5");

  @TempDir static Path dir;
  static final List<ChaosCell.Outcome> outcomes = new ArrayList<>();

  @BeforeAll
  static void requireTheParts() {
    boolean ci = "true".equals(System.getenv("CI"));
    String pg = ChaosCluster.postgresProblem();
    String missing = pg != null ? pg : !org.livemig.it.Iptables.works() ? "iptables is not available" : null;
    if (missing != null) {
      assertFalse(ci, missing + ": the chaos harness needs it under CI=true (.ci/run installs iptables)");
      Assumptions.abort(missing);
    }
  }

  static List<ChaosCell> cells() {
    String chosen = System.getProperty("chaos.cells", "");
    if (!chosen.isBlank()) return Arrays.stream(chosen.split(",")).map(ChaosCell::parse).toList();
    if (!"full".equals(System.getProperty("chaos.matrix", ""))) {
      return REPRESENTATIVE.stream().map(c -> ChaosCell.parse(c.split(":")[0])).toList();
    }
    int seeds = Integer.getInteger("chaos.seeds", 10);
    List<ChaosCell> all = new ArrayList<>();
    for (Fault f : Fault.values()) {
      for (Moment m : Moment.values()) for (long s = 1; s <= seeds; s++) all.add(new ChaosCell(f, m, s));
    }
    return all;
  }

  @TestFactory
  Stream<DynamicTest> everyCellKeepsExactlyOneCopy() {
    // The full matrix lets faults last as the field sees them (frozen for up to 30 s); the default run stays short.
    boolean full = "full".equals(System.getProperty("chaos.matrix", ""));
    int defaultMax = full ? 30 : 4;
    Stream<DynamicTest> tests = cells().stream().map(cell -> DynamicTest.dynamicTest(cell.toString(), () -> {
      String length = full ? "" : REPRESENTATIVE.stream().filter(c -> c.startsWith(cell + ":")).findFirst()
          .map(c -> c.substring(c.indexOf(':') + 1)).orElse("");
      boolean untilDowned = length.equals("downed");
      int maxFaultSeconds = untilDowned ? 30 : length.isEmpty() ? defaultMax : Math.max(defaultMax, Integer.parseInt(length));
      long t0 = System.nanoTime();
      ChaosCell.Outcome o = cell.run(dir.resolve(cell.toString().replace('#', '-').replace('@', '-')), maxFaultSeconds,
          untilDowned);
      synchronized (outcomes) {
        outcomes.add(o);
      }
      System.out.println(cell + ": " + (o.passed() ? "ok" : "FAILED") + " (" + o.finalStatus() + ", "
          + java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) + " s)"
          + (o.passed() ? "" : ": " + o.violations()));
      assertTrue(o.passed(), cell + " broke: " + o.violations() + "\nrepeat with -Dchaos.cells=" + cell + "\n"
          + o.details());
    }));
    return Stream.concat(tests, Stream.of(DynamicTest.dynamicTest("table", ChaosTest::printTable)));
  }

  /** Rows: faults; columns: moments; a cell: passed/run. */
  static void printTable() {
    Map<Fault, Map<Moment, int[]>> table = new EnumMap<>(Fault.class);
    synchronized (outcomes) {
      for (ChaosCell.Outcome o : outcomes) {
        int[] n = table.computeIfAbsent(o.cell().fault(), f -> new EnumMap<>(Moment.class))
            .computeIfAbsent(o.cell().moment(), m -> new int[2]);
        n[1]++;
        if (o.passed()) n[0]++;
      }
    }
    StringBuilder out = new StringBuilder(String.format("%-22s", "chaos: passed/run"));
    for (Moment m : Moment.values()) out.append(String.format(" %16s", m));
    out.append('\n');
    for (var row : table.entrySet()) {
      out.append(String.format("%-22s", row.getKey()));
      for (Moment m : Moment.values()) {
        int[] n = row.getValue().get(m);
        out.append(String.format(" %16s", n == null ? "-" : n[0] + "/" + n[1]));
      }
      out.append('\n');
    }
    System.out.print(out);
  }
}
