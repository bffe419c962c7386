package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.ResumeOwner;

/**
 * copy_storage failures with every node in its own JVM ({@link ProcessCluster}: coordinators c1
 * and c2, hosts host-a and host-b, each host with a "local" datastore of its own), killed with
 * kill -9 while a guest's disk is in its bulk copy (a 16 MiB disk with some 2,000 written blocks,
 * the migration capped at 1 MB/s, so the copy lasts several seconds). Everything is checked from
 * outside, as an operator sees it: the operator API (status, guests, verify against the oracle),
 * the datastores' files, and the processes' threads and open files in /proc.
 *
 * <p>One cluster for the class, in this order: host-b dies mid-copy (a guest that arrived on it
 * earlier stays its own), then host-b starts again and deletes the file it had half made, keeping
 * the one of the guest it owns. The JVM running the migration's coordinator killed mid-copy adds
 * some 40 s, so it runs only with -Dstorage.process.cases=all (StorageMigrationTest crashes that
 * node in one JVM in the default run):
 * {@code mvn -B -ntp -pl integration-tests -am test -Dtest=StorageProcessFailureTest
 * -Dstorage.process.cases=all -Dsurefire.failIfNoSpecifiedTests=false}
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StorageProcessFailureTest {
  @TempDir static Path dir;
  static ProcessCluster cluster;
  /** host-b's file of the migration host-b died in (the restart must delete it). */
  static Path halfMade;
  /** The file of a guest that arrived on host-b by a completed migration: it must outlive host-b's restart. */
  static Path ownedByB;

  @BeforeAll
  static void up() throws Exception {
    cluster = new ProcessCluster(dir);
  }

  @AfterAll
  static void down() throws Exception {
    if (cluster != null) cluster.close();
  }

  @Test
  @Order(1)
  void theDestinationsJvmKilledMidCopyFailsTheMigrationAndTheGuestKeepsItsSourceDisk() throws Exception {
    // A guest host-b owns before it dies: it arrived by a completed migration, on a file of host-b's.
    createOnHostA("ow");
    MigrationInfo arrived = cluster.awaitEnd(start("arrival", "ow", ""), Duration.ofSeconds(60));
    assertEquals(MigrationStatus.COMPLETED, arrived.getStatus(), arrived.getError());
    ownedByB = cluster.diskFile("host-b", "ow", "root");
    assertTrue(Files.exists(ownedByB));

    String guest = "dk";
    createOnHostA(guest);
    Path source = cluster.diskFile("host-a", guest, "root");
    byte[] superblock = superblock(source);
    String id = startSlowCopy("kill-destination", guest);
    Path target = cluster.diskFile("host-b", guest, "root");
    assertTrue(Files.exists(target), "host-b created its file in Prepare");
    cluster.kill("host-b");

    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(90));
    assertEquals(MigrationStatus.FAILED, done.getStatus(), done.getError() + "\n" + cluster.logs(30));
    assertEquals(ResumeOwner.SOURCE, done.getResumeOwner());
    // e.g. "PERFORM: host-a failed PERFORM: ... disk root: bulk_copy: ... disk stream of migration
    // kill-destination: write failed: ... Connection reset by peer; host host-b did not answer DISCARD ..."
    assertTrue(done.getError().startsWith("PERFORM: ") && done.getError().contains("disk root: bulk_copy"),
        "the reason names the phase and the disk's bulk copy: " + done.getError());
    assertRunsOnlyOn("host-a", guest);
    long writes = diskWrites(guest);
    awaitDiskWrites(guest, writes + 50); // still writing: no disk left stunned
    assertMatchesItsOracle("host-a", guest);
    assertNoMoveLeft("host-a", guest);
    // The source's file is the guest's disk still: the same file (its superblock, with its identity),
    // open in host-a's process, and the only file of the guest there.
    assertArrayEquals(superblock, superblock(source), "the source's superblock is untouched");
    assertEquals(List.of(source), openFilesOf(cluster.process("host-a").pid(), guest));
    try (Stream<Path> files = Files.list(source.getParent())) {
      assertEquals(List.of(source), files.toList());
    }
    assertTrue(Files.exists(target), "host-b died with its file half made (the restart's case)");
    halfMade = target;
  }

  @Test
  @Order(2)
  void theRestartedDestinationDeletesTheFileItHalfMadeAndKeepsTheOneOfItsGuest() throws Exception {
    assertNotNull(halfMade, "needs the destination killed mid-copy before it");
    assertTrue(Files.exists(halfMade), "the half-made file is there before the restart: " + halfMade);
    assertTrue(Files.exists(ownedByB));
    cluster.restart("host-b");

    awaitGone(halfMade, "the file host-b half made for the migration it died in");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cluster.process("host-b").log().stream().noneMatch(l -> l.contains("deleted disk file " + halfMade))) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("host-b logs what it deleted:\n" + String.join("\n", cluster.process("host-b").log()));
      }
      Thread.sleep(50); // its output reaches this JVM through a pipe
    }
    assertTrue(Files.exists(ownedByB), "the file of the guest host-b owns (it arrived by a completed migration) stays");

    // The path is free again: the guest that stayed on host-a can move to host-b after all.
    MigrationInfo done = cluster.awaitEnd(start("again", "dk", ""), Duration.ofSeconds(60));
    if (done.getStatus() == MigrationStatus.FAILED && done.getError().contains("left the cluster while PREPARE")) {
      // The receptionist can list the dead incarnation's agent for a few seconds after its removal;
      // a coordinator that finds and watches it rightly fails at once (nothing was prepared): once more.
      done = cluster.awaitEnd(start("again-2", "dk", ""), Duration.ofSeconds(60));
    }
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError() + "\n" + cluster.logs(30));
    assertRunsOnlyOn("host-b", "dk");
    assertMatchesItsOracle("host-b", "dk");
    assertTrue(Files.exists(ownedByB));
  }

  @Test
  @Order(3)
  @EnabledIfSystemProperty(named = "storage.process.cases", matches = "all")
  void theCoordinatorsJvmKilledMidCopyAndTheMigrationCompletesWithTheDisk() throws Exception {
    String guest = "kc";
    createOnHostA(guest);
    String id = startSlowCopy("kill-coordinator", guest);
    cluster.kill(cluster.coordinatorOf(id));
    LocalTime killedAt = LocalTime.now();

    MigrationInfo done = cluster.awaitEnd(id, Duration.ofSeconds(120));
    // Crashed in Perform before the switchover: the new incarnation continues (README's phase table).
    assertEquals(MigrationStatus.COMPLETED, done.getStatus(), done.getError() + "\n" + cluster.logs(30));
    assertTrue(done.getEpoch() >= 2, "a new incarnation finished it: epoch " + done.getEpoch());
    // The kill came during the bulk copy: host-a's disk move reached READY (the copy's end) after it.
    LocalTime ready = loggedAt("host-a", "disk root of guest " + guest + ": READY");
    assertTrue(ready.isAfter(killedAt), "killed at " + killedAt + ", the copy READY at " + ready);
    assertRunsOnlyOn("host-b", guest);
    assertMatchesItsOracle("host-b", guest);
    awaitGone(cluster.diskFile("host-a", guest, "root"), "the source's file (the losing side's), deleted after Confirm");
    assertTrue(Files.exists(cluster.diskFile("host-b", guest, "root")), "the destination runs on its own file");
    assertNoMoveLeft("host-a", guest);
    assertNoMoveLeft("host-b", guest);
  }

  /** When a node first logged a line containing text (its log's HH:mm:ss.SSS, this machine's clock). */
  private static LocalTime loggedAt(String node, String text) {
    String line = cluster.process(node).log().stream().filter(l -> l.contains(text)).findFirst()
        .orElseThrow(() -> new AssertionError(node + " never logged '" + text + "'"));
    return LocalTime.parse(line.substring(0, 12));
  }

  /** A guest of 4 MiB dirtying 50 pages a second, with a 16 MiB disk writing 1000 blocks a second at queue depth 16. */
  private static void createOnHostA(String guest) throws Exception {
    HttpResponse<String> r = cluster.post("host-a", "/guests", "{\"guest_id\":\"" + guest + "\",\"page_size\":4096,"
        + "\"page_count\":1024,\"seed\":" + guest.hashCode() + ",\"dirty_pages_per_second\":50,\"hot_pages\":256,"
        + "\"hot_per_mille\":800,\"initial_fill\":\"FILL_PATTERN\",\"disks\":[{\"disk_id\":\"root\","
        + "\"datastore\":\"local\",\"block_count\":4096,\"queue_depth\":16,\"writes_per_second\":1000,"
        + "\"reads_per_mille\":250}]}");
    assertEquals(201, r.statusCode(), r.body());
  }

  /**
   * Once the guest has written 3,000 blocks (some 2,000 distinct ones, 8 MB to copy), starts its
   * migration to host-b with copy_storage at 1 MB/s and returns once the status shows the bulk copy.
   */
  private static String startSlowCopy(String id, String guest) throws Exception {
    awaitDiskWrites(guest, 3000);
    start(id, guest, ",\"max_bandwidth_bytes_per_second\":1000000");
    cluster.awaitStatus(id, i -> i.getDisksList().stream().anyMatch(d -> d.getPhase().equals("BULK_COPY")),
        Duration.ofSeconds(30));
    return id;
  }

  private static String start(String id, String guest, String moreParameters) throws Exception {
    HttpResponse<String> r = cluster.post("host-a", "/migrations", "{\"migration_id\":\"" + id + "\",\"guest_id\":\""
        + guest + "\",\"source_host\":\"host-a\",\"destination_host\":\"host-b\",\"parameters\":{\"copy_storage\":true"
        + moreParameters + "}}");
    assertTrue(r.statusCode() / 100 == 2, r.statusCode() + " " + r.body());
    return id;
  }

  /** The guest's first disk's acknowledged writes, as the guests' list shows them. */
  private static long diskWrites(String guest) throws Exception {
    String body = cluster.get("host-a", "/guests").body();
    Matcher m = Pattern.compile("\"guest_id\":\"" + Pattern.quote(guest) + "\".*?\"writes\"\\s*:\\s*\"?(\\d+)",
        Pattern.DOTALL).matcher(body);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  private static void awaitDiskWrites(String guest, long writes) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (diskWrites(guest) < writes) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(guest + " never wrote " + writes + " blocks: " + cluster.get("host-a", "/guests").body());
      }
      Thread.sleep(100); // polling another process
    }
  }

  /** The guest runs on host and no other host lists it (a source destroys its copy in Confirm's cleanup). */
  private static void assertRunsOnlyOn(String host, String guest) throws Exception {
    String other = host.equals("host-a") ? "host-b" : "host-a";
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      String here = cluster.stateOn(host, guest);
      String there = cluster.alive(other) ? cluster.stateOn(other, guest) : "dead";
      if (here.equals("RUNNING") && (there.equals("none") || there.equals("dead"))) return;
      if (System.nanoTime() > deadline) {
        throw new AssertionError(guest + " on " + host + ": " + here + ", on " + other + ": " + there);
      }
      Thread.sleep(100); // the other copy goes in its host's cleanup
    }
  }

  /**
   * GET /guests/{id}/verify on the guest's host: memory and disk against their oracles. An arrival
   * is checked once its host heard that the migration is settled (409 until then).
   */
  private static void assertMatchesItsOracle(String host, String guest) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    HttpResponse<String> r;
    while ((r = cluster.get(host, "/guests/" + guest + "/verify")).statusCode() == 409 && System.nanoTime() < deadline) {
      Thread.sleep(100); // the settled notice is on its way
    }
    assertEquals(200, r.statusCode(), r.body());
    GuestVerification.Builder v = GuestVerification.newBuilder();
    JsonFormat.parser().ignoringUnknownFields().merge(r.body(), v);
    assertEquals(host, v.getHost());
    assertTrue(v.getVerified(), "memory and disk match the oracle: " + r.body());
    assertEquals(1, v.getDisksCount(), r.body());
    DiskVerification disk = v.getDisks(0);
    assertEquals(0, disk.getMismatches(), "no acknowledged write lost: " + disk);
    assertEquals(0, disk.getOwnershipViolations(), disk.toString());
    assertTrue(disk.getWrites() > 0, disk.toString());
  }

  /** No thread of the guest's disk moves ("move-GUEST-DISK") and no disk stream thread is left in host's process. */
  private static void assertNoMoveLeft(String host, String guest) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    List<String> left;
    while (!(left = threads(cluster.process(host).pid(), "move-" + guest + "-", "dataplane-block")).isEmpty()) {
      if (System.nanoTime() > deadline) throw new AssertionError(host + " still runs " + left);
      Thread.sleep(100); // threads end as cleanup runs
    }
  }

  /** Threads of a process whose names (as Linux keeps them, 15 characters) start with one of the prefixes. */
  private static List<String> threads(long pid, String... prefixes) throws IOException {
    List<String> out = new ArrayList<>();
    try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        try {
          String comm = Files.readString(t.resolve("comm")).trim();
          for (String p : prefixes) if (comm.startsWith(p.substring(0, Math.min(15, p.length())))) out.add(comm);
        } catch (IOException endedMeanwhile) {
          // the thread ended while we listed it
        }
      }
    }
    return out;
  }

  /** The files of the guest's directory a process holds open. */
  private static List<Path> openFilesOf(long pid, String guest) throws IOException {
    List<Path> out = new ArrayList<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      for (Path fd : (Iterable<Path>) fds::iterator) {
        try {
          Path f = Files.readSymbolicLink(fd);
          if (f.startsWith(dir) && f.getParent().getFileName().toString().equals(guest) && !out.contains(f)) out.add(f);
        } catch (IOException closedMeanwhile) {
          // closed while we listed it
        }
      }
    }
    return out;
  }

  /** A disk file's first block: its superblock (guest, disk, identity, shape). */
  private static byte[] superblock(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file)) {
      ByteBuffer b = ByteBuffer.allocate(4096);
      while (b.hasRemaining() && ch.read(b) >= 0) { }
      return b.array();
    }
  }

  /** Files go after the migration's answer (unlinking a large file can take seconds). */
  private static void awaitGone(Path f, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (Files.exists(f)) {
      if (System.nanoTime() > deadline) throw new AssertionError(what + " is still there: " + f + "\n" + cluster.logs(30));
      Thread.sleep(50);
    }
    assertFalse(Files.exists(f));
  }
}
