package org.livemig.it;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.cli.Migratectl;
import org.livemig.config.http.Json;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;

/** migratectl's main run in-process (stdout, stderr and exit code captured) against a live cluster. */
class MigratectlTest {
  @TempDir static Path dir;
  static TestCluster cluster;
  static String url;

  record Run(int exit, String out, String err) {}

  @BeforeAll
  static void up() throws Exception {
    cluster = new TestCluster(dir, Map.of("host-a", Map.of("livemig.http.port", OperatorHttpTest.freePort(),
        "livemig.host.datastores.local", dir.resolve("local").toString(),
        "livemig.host.datastores.other", dir.resolve("other").toString()), "host-b", Map.of()));
    url = cluster.hosts.get("host-a").httpUri();
  }

  @AfterAll
  static void down() {
    if (cluster != null) cluster.close();
  }

  /** The operator's token from a file, as --token-file. */
  static String[] withToken(String... args) {
    String[] all = new String[args.length + 2];
    all[0] = "--token-file";
    all[1] = dir.resolve("operator-credentials").toString();
    System.arraycopy(args, 0, all, 2, args.length);
    return all;
  }

  static Run ctl(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    String[] all = new String[args.length + 2];
    all[0] = "--url";
    all[1] = url;
    System.arraycopy(args, 0, all, 2, args.length);
    int exit = Migratectl.run(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        Map.of(), dir.resolve("none"), withToken(all));
    Run r = new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    System.out.println("$ migratectl " + String.join(" ", args) + "  -> exit " + exit + "\n" + r.out() + r.err());
    return r;
  }

  @Test
  void startWatchListStatusAndReport() throws Exception {
    GuestDescription d = TestCluster.guest("cli-guest", 32, 3000);
    cluster.createGuest("host-a", d);
    Run started = ctl("start", "cli-guest", "--from", "host-a", "--to", "host-b", "--id", "m-cli",
        "--max-bandwidth", "40000000", "--watch", "--interval-ms", "200");
    assertEquals(Migratectl.EXIT_OK, started.exit(), started.err());
    assertTrue(started.out().startsWith("started m-cli: cli-guest host-a -> host-b"), started.out());
    assertTrue(started.out().contains("| round "), started.out());
    assertTrue(started.out().contains("COMPLETED"), started.out());

    cluster.awaitListed("m-cli", i -> i.getStatus() == org.livemig.messages.MigrationStatus.COMPLETED,
        java.time.Duration.ofSeconds(10)); // the list follows the journal by one table write
    Run list = ctl("list");
    assertEquals(0, list.exit());
    assertTrue(list.out().lines().anyMatch(l -> l.startsWith("m-cli") && l.contains("COMPLETED")), list.out());
    Run page = ctl("list", "--limit", "1");
    assertEquals(0, page.exit(), page.err());
    List<String> lines = page.out().lines().toList();
    assertTrue(lines.size() == 2 || lines.size() == 3 && lines.get(2).startsWith("more: migratectl list --limit 1 "
        + "--after "), "the header, one migration, and the next page's command if there is more: " + page.out());
    Run bad = ctl("list", "--limit", "0");
    assertTrue(bad.exit() != 0 && bad.err().contains("limit"), bad.err());
    Run status = ctl("status", "m-cli");
    assertEquals(0, status.exit());
    assertTrue(status.out().contains("downtime") && status.out().contains("host-a -> host-b"), status.out());

    Path reports = dir.resolve("reports");
    Run report = ctl("report", "m-cli", "--out", reports.toString());
    assertEquals(0, report.exit(), report.err());
    MigrationInfo recorded = Json.parse(Files.readString(reports.resolve("m-cli.json")), MigrationInfo.newBuilder()).build();
    MigrationInfo actual = cluster.client.status("m-cli").toCompletableFuture().get();
    assertEquals(actual.getMigrationId(), recorded.getMigrationId());
    assertEquals(MigrationStatus.COMPLETED, recorded.getStatus());
    assertEquals(actual.getRoundHistoryList(), recorded.getRoundHistoryList());
    assertEquals(actual.getDowntimeMs(), recorded.getDowntimeMs());
    byte[] png = Files.readAllBytes(reports.resolve("m-cli.png"));
    assertTrue(png.length > 1000, "chart has content: " + png.length + " bytes");
    assertEquals((byte) 0x89, png[0]);
    assertEquals('P', png[1]);
  }

  @Test
  void exitCodesNameTheProblem() throws Exception {
    assertEquals(Migratectl.EXIT_NOT_FOUND, ctl("status", "no-such-migration").exit());
    assertEquals(Migratectl.EXIT_NOT_FOUND, ctl("cancel", "no-such-migration").exit());
    Run invalid = ctl("start", "g", "--from", "host-a", "--to", "host-a");
    assertEquals(Migratectl.EXIT_INVALID, invalid.exit());
    assertTrue(invalid.err().contains("destination_host"), invalid.err());
    assertEquals(Migratectl.EXIT_USAGE, ctl("start", "g").exit(), "--from and --to are required");

    GuestDescription d = TestCluster.guest("cli-busy", 32, 3000);
    cluster.createGuest("host-a", d);
    assertEquals(0, ctl("start", "cli-busy", "--from", "host-a", "--to", "host-b", "--id", "m-busy",
        "--max-bandwidth", "4000000").exit());
    Run conflict = ctl("start", "cli-busy", "--from", "host-a", "--to", "host-b", "--id", "m-busy-2");
    assertEquals(Migratectl.EXIT_CONFLICT, conflict.exit());
    assertTrue(conflict.err().contains("already migrating"), conflict.err());
    Run setParams = ctl("set-params", "m-busy", "--downtime-ms", "100");
    assertEquals(0, setParams.exit(), setParams.err());
    Run recover = ctl("recover", "m-busy");
    assertEquals(Migratectl.EXIT_CONFLICT, recover.exit(), "only a paused postcopy recovers");
    assertTrue(recover.err().contains("only a paused postcopy"), recover.err());
    assertEquals(Migratectl.EXIT_NOT_FOUND, ctl("postcopy", "no-such-migration").exit());
    Run cancel = ctl("cancel", "m-busy", "--reason", "cli test");
    assertEquals(0, cancel.exit(), cancel.err());
    assertEquals(MigrationStatus.CANCELLED, cluster.awaitEnd("m-busy", Duration.ofSeconds(30)).getStatus());
    assertEquals(Migratectl.EXIT_MIGRATION_FAILED, ctl("status", "m-busy", "--watch").exit());
    Run late = ctl("postcopy", "m-busy");
    assertEquals(Migratectl.EXIT_CONFLICT, late.exit(), late.err());

    Run guests = ctl("guests");
    assertEquals(0, guests.exit());
    assertTrue(guests.out().contains("cli-busy") && guests.out().contains("RUNNING"), guests.out());
    Run hosts = ctl("hosts");
    assertEquals(0, hosts.exit());
    assertTrue(hosts.out().contains("coordinator") && hosts.out().contains("Up"), hosts.out());
    assertTrue(hosts.out().contains("host host-a") && hosts.out().contains("host host-b"), hosts.out());

    var err = new ByteArrayOutputStream();
    int unreachable = Migratectl.run(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err),
        "--url", "http://127.0.0.1:1", "list");
    assertEquals(Migratectl.EXIT_UNREACHABLE, unreachable, err.toString());
  }

  @Test
  void aGuestIsProtectedFailedOverByAnOperatorProtectedBackAndUnprotected() throws Exception {
    assertEquals(Migratectl.EXIT_OK, ctl("create-guest", "cli-prot", "--size-mib", "8", "--dirty-pages-per-second",
        "500", "--seed", "9").exit());
    Run invalid = ctl("protect", "cli-prot", "--primary", "host-a", "--secondary", "host-a");
    assertEquals(Migratectl.EXIT_INVALID, invalid.exit(), invalid.err());
    assertTrue(invalid.err().contains("secondary_host"), invalid.err());
    assertEquals(Migratectl.EXIT_NOT_FOUND, ctl("protection", "cli-prot").exit(), "never protected");
    Run early = ctl("failover", "cli-prot");
    assertEquals(Migratectl.EXIT_NOT_FOUND, early.exit(), early.err());

    Run p = ctl("protect", "cli-prot", "--primary", "host-a", "--secondary", "host-b", "--interval-ms", "50");
    assertEquals(Migratectl.EXIT_OK, p.exit(), p.err());
    assertTrue(p.out().startsWith("cli-prot SYNCING host-a -> host-b (generation 1)"), p.out());
    awaitProtection("cli-prot", "REPLICATING", " checkpoints");
    Run conflict = ctl("protect", "cli-prot", "--primary", "host-a", "--secondary", "host-c");
    assertEquals(Migratectl.EXIT_CONFLICT, conflict.exit(), conflict.err());

    // An operator's failover with the primary alive: it is stopped first, then the copy runs on host-b.
    Run failover = ctl("failover", "cli-prot", "--reason", "drill");
    assertEquals(Migratectl.EXIT_OK, failover.exit(), failover.err());
    String over = awaitProtection("cli-prot", "FAILED_OVER", "runs on host-b from checkpoint");
    assertTrue(over.contains("drill"), over);
    assertTrue(cluster.guestOn("host-a", "cli-prot").isEmpty(), "the primary's copy is gone");
    Run verified = ctl("verify", "cli-prot");
    assertEquals(Migratectl.EXIT_OK, verified.exit(), verified.err());
    assertTrue(verified.out().startsWith("guest cli-prot on host-b:"), verified.out());

    // Protected back to host-a, then unprotected: the copy on host-a is destroyed, the guest runs on host-b.
    assertEquals(Migratectl.EXIT_OK, ctl("protect", "cli-prot", "--primary", "host-b", "--secondary", "host-a").exit());
    awaitProtection("cli-prot", "REPLICATING", "(generation 2)");
    Run json = ctl("protection", "cli-prot", "--json");
    assertTrue(json.out().contains("\"state\": \"REPLICATING\""), json.out());
    Run ended = ctl("unprotect", "cli-prot");
    assertEquals(Migratectl.EXIT_OK, ended.exit(), ended.err());
    assertTrue(ended.out().startsWith("cli-prot UNPROTECTED host-b -> host-a (generation 2)"), ended.out());
    assertTrue(cluster.guestOn("host-a", "cli-prot").isEmpty());
    assertEquals(Migratectl.EXIT_OK, ctl("verify", "cli-prot").exit());
  }

  /** migratectl protection GUEST until its line shows state and contains text; returns that line. */
  private static String awaitProtection(String guest, String state, String text) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    Run r;
    do {
      r = ctl("protection", guest);
      if (r.out().contains(" " + state + " ") && r.out().contains(text)) return r.out();
      Thread.sleep(200); // the protection advances in the cluster
    } while (System.nanoTime() < deadline);
    throw new AssertionError(guest + " never " + state + " with '" + text + "': " + r.out() + r.err());
  }

  @Test
  void createGuestRunsAGuestOnTheNodesHostThatVerifies() throws Exception {
    Run created = ctl("create-guest", "cli-made", "--size-mib", "8", "--dirty-pages-per-second", "200", "--seed", "7");
    assertEquals(Migratectl.EXIT_OK, created.exit(), created.err());
    assertEquals("created guest cli-made: 8 MiB, RUNNING\n", created.out());
    GuestDescription made = cluster.guestOn("host-a", "cli-made").orElseThrow().description();
    assertEquals(List.of(4096, 2048L, 7L, 200L), List.of(made.getPageSize(), made.getPageCount(), made.getSeed(),
        made.getDirtyPagesPerSecond()));
    Run guests = ctl("guests");
    assertTrue(guests.out().lines().anyMatch(l -> l.matches("cli-made +host-a +RUNNING +8 .*")), guests.out());
    Run verified = ctl("verify", "cli-made");
    assertEquals(Migratectl.EXIT_OK, verified.exit(), verified.err());
    assertTrue(verified.out().startsWith("guest cli-made on host-a: 2048 pages checked"), verified.out());
    Run invalid = ctl("create-guest", "not/an/id");
    assertEquals(Migratectl.EXIT_INVALID, invalid.exit(), invalid.err());
    assertTrue(invalid.err().contains("guest_id"), invalid.err());
  }

  @Test
  void aGuestWithADiskIsCreatedListedAndVerified() throws Exception {
    Run created = ctl("create-guest", "cli-disk", "--size-mib", "8", "--disk", "root:local:4:4:200");
    assertEquals(Migratectl.EXIT_OK, created.exit(), created.err());
    var disk = cluster.guestOn("host-a", "cli-disk").orElseThrow().description().getDisks(0);
    assertEquals(List.of("root", "local", 1024L, 4, 200L), List.of(disk.getDiskId(), disk.getDatastore(),
        disk.getBlockCount(), disk.getQueueDepth(), disk.getWritesPerSecond()));
    Run guests = ctl("guests");
    assertTrue(guests.out().lines().anyMatch(l -> l.matches("  disk root on local: 4 MiB, \\d+ writes, .*")), guests.out());
    Run verified = ctl("verify", "cli-disk");
    assertEquals(Migratectl.EXIT_OK, verified.exit(), verified.err() + verified.out());
    assertTrue(verified.out().contains("disk root: 1024 blocks checked after"), verified.out());
    Run noDatastore = ctl("create-guest", "cli-disk-2", "--disk", "root:nowhere:4");
    assertEquals(Migratectl.EXIT_INVALID, noDatastore.exit(), noDatastore.err());
    assertTrue(noDatastore.err().contains("no datastore 'nowhere'"), noDatastore.err());
    Run malformed = ctl("create-guest", "cli-disk-3", "--disk", "root:local");
    assertEquals(Migratectl.EXIT_USAGE, malformed.exit(), malformed.err());
    assertTrue(malformed.err().contains("expected ID:DATASTORE:MIB"), malformed.err());
  }

  @Test
  void aRunningGuestsDiskMovesBetweenDatastoresAndAPowerOffEndsAMove() throws Exception {
    assertEquals(Migratectl.EXIT_OK, ctl("create-guest", "cli-move", "--size-mib", "4", "--disk", "root:local:8:16:500")
        .exit());
    Run moved = ctl("move-disk", "cli-move", "root", "other", "--watch", "--interval-ms", "50");
    assertEquals(Migratectl.EXIT_OK, moved.exit(), moved.err() + moved.out());
    assertTrue(moved.out().contains("COMPLETED: on datastore other"), moved.out());
    assertTrue(moved.out().contains("path: CREATE_TARGET > BULK_COPY > INSTALL_MIRROR > SYNC > READY > STUN > PIVOT"
        + " > UNSTUN > CLOSE_SOURCE > DONE"), moved.out());
    assertTrue(ctl("guests").out().lines().anyMatch(l -> l.matches("  disk root on other: 8 MiB, \\d+ writes, .*")));
    assertFalse(java.nio.file.Files.exists(dir.resolve("local/cli-move/root.img")), "the source file is deleted");
    Run verified = ctl("verify", "cli-move");
    assertEquals(Migratectl.EXIT_OK, verified.exit(), verified.err() + verified.out());

    // Bad requests change nothing.
    Run nowhere = ctl("move-disk", "cli-move", "root", "nowhere");
    assertEquals(Migratectl.EXIT_INVALID, nowhere.exit(), nowhere.err());
    assertTrue(nowhere.err().contains("no datastore 'nowhere'"), nowhere.err());
    assertEquals(Migratectl.EXIT_INVALID, ctl("move-disk", "cli-move", "root", "other").exit(), "already there");
    assertEquals(Migratectl.EXIT_INVALID, ctl("move-disk", "cli-move", "swap", "local").exit(), "no such disk");
    Run badMode = ctl("move-disk", "cli-move", "root", "local", "--mode", "sideways");
    assertEquals(Migratectl.EXIT_INVALID, badMode.exit(), badMode.err());
    assertTrue(badMode.err().contains("write-blocking or background"), badMode.err());
    assertEquals(Migratectl.EXIT_CONFLICT, ctl("cancel-move", "cli-move", "root").exit(), "no move to cancel");

    // Held in READY, then cancelled: the disk stays where it was.
    assertEquals(Migratectl.EXIT_OK, ctl("move-disk", "cli-move", "root", "local", "--manual-pivot").exit());
    await(() -> ctl("moves", "cli-move").out().contains("| READY"), "READY");
    Run migrate = ctl("start", "cli-move", "--from", "host-a", "--to", "host-b");
    assertNotEquals(Migratectl.EXIT_OK, migrate.exit(), "a guest moving a disk does not migrate: " + migrate.out());
    assertTrue(migrate.err().contains("is moving a disk"), migrate.err());
    assertEquals(Migratectl.EXIT_OK, ctl("cancel-move", "cli-move", "root").exit());
    Run cancelled = ctl("moves", "cli-move", "--watch", "root", "--interval-ms", "50");
    assertEquals(Migratectl.EXIT_MIGRATION_FAILED, cancelled.exit(), cancelled.out());
    assertTrue(cancelled.out().contains("CANCELLED: cancelled by an operator; the disk stays on other"), cancelled.out());

    // Powered off during a slow copy: the move ends, nothing resumes, the disk stays on its source.
    assertEquals(Migratectl.EXIT_OK, ctl("move-disk", "cli-move", "root", "local", "--max-bandwidth", "1000000").exit());
    Run off = ctl("power-off", "cli-move");
    assertEquals(Migratectl.EXIT_OK, off.exit(), off.err());
    Run ended = ctl("moves", "cli-move", "--watch", "root", "--interval-ms", "50");
    assertEquals(Migratectl.EXIT_MIGRATION_FAILED, ended.exit(), ended.out());
    assertTrue(ended.out().contains("guest powered off"), ended.out());
    assertTrue(ended.out().contains("POWER_OFF > REMOVE_MIRROR > CLOSE_TARGET > DONE"), ended.out());
    assertEquals(org.livemig.engine.guest.RunState.DESTROYED, cluster.guestOn("host-a", "cli-move").orElseThrow().state());
    assertTrue(java.nio.file.Files.exists(dir.resolve("other/cli-move/root.img")), "the powered-off guest's disk stays");
    assertFalse(java.nio.file.Files.exists(dir.resolve("local/cli-move/root.img")), "the new file is deleted");
    Run again = ctl("move-disk", "cli-move", "root", "local");
    assertEquals(Migratectl.EXIT_CONFLICT, again.exit(), again.err());
    assertTrue(again.err().contains("powered off"), again.err());
  }

  private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(50);
    }
  }

  /** The real thing: migratectl in its own JVM, as an operator runs it. */
  @Test
  void runsAsItsOwnProcess() throws Exception {
    ProcessBuilder builder = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "org.livemig.config.cli.Migratectl", "--url", url, "status",
        "no-such-migration").redirectErrorStream(true);
    builder.environment().put("LIVEMIG_TOKEN", OperatorCredentials.readOnly(dir));
    Process p = builder.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "migratectl exits");
    assertEquals(Migratectl.EXIT_NOT_FOUND, p.exitValue(), out);
    assertTrue(out.contains("no-such-migration"), out);

    Process hosts = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "org.livemig.config.cli.Migratectl", "--url", url,
        "--token-file", dir.resolve("operator-credentials").toString(), "hosts").redirectErrorStream(true).start();
    String listed = new String(hosts.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(hosts.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "migratectl exits");
    assertEquals(0, hosts.exitValue(), listed);
    assertTrue(listed.contains("Up") && listed.contains("coordinator") && listed.contains("host"), listed);
  }
}
