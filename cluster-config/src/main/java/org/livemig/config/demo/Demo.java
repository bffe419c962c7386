package org.livemig.config.demo;

import akka.actor.typed.javadsl.AskPattern;
import akka.pattern.StatusReply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.livemig.config.ClusterWait;
import org.livemig.config.LivemigNode;
import org.livemig.engine.client.MigrationClient;
import org.livemig.engine.guest.GuestOracle;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;

/**
 * The demo on the embedded default: a three-node cluster on loopback (a coordinator node and
 * two hosts) with an H2 journal file, a running guest that keeps dirtying memory, migrated
 * from host-a to host-b with a live progress line, then checked against the oracle.
 *
 * Options: --size-mib N (default 256), --dirty-pages-per-second N (default 5000),
 * --downtime-ms N (default 300), --postcopy-after-rounds N (default 0: precopy to the end),
 * --journal DIR (default ./data/demo).
 */
public final class Demo {
  public static void main(String[] args) throws Exception {
    Map<String, String> opts = Options.parse(args, List.of("size-mib", "dirty-pages-per-second", "downtime-ms",
        "postcopy-after-rounds", "journal"));
    long sizeMib = Long.parseLong(opts.getOrDefault("size-mib", "256"));
    long dirtyRate = Long.parseLong(opts.getOrDefault("dirty-pages-per-second", "5000"));
    long downtimeMs = Long.parseLong(opts.getOrDefault("downtime-ms", "300"));
    int postcopyAfter = Integer.parseInt(opts.getOrDefault("postcopy-after-rounds", "0"));
    Path journalDir = Path.of(opts.getOrDefault("journal", "data/demo")).toAbsolutePath();
    Files.createDirectories(journalDir);
    String journal = "jdbc:h2:file:" + journalDir.resolve("journal") + ";DB_CLOSE_DELAY=-1";

    System.out.printf("livemig demo: 3 nodes on 127.0.0.1, journal %s%n", journalDir);
    List<LivemigNode> nodes = new java.util.ArrayList<>(); // stopped together at the end, however it ends
    try {
      LivemigNode manager = LivemigNode.start(LivemigNode.localConfig(null, List.of("coordinator"), journal, Map.of()));
      nodes.add(manager);
      LivemigNode hostA = LivemigNode.start(LivemigNode.localConfig("host-a", List.of("host"), journal, Map.of()));
      nodes.add(hostA);
      LivemigNode hostB = LivemigNode.start(LivemigNode.localConfig("host-b", List.of("host"), journal, Map.of()));
      nodes.add(hostB);
      manager.join(manager.address());
      hostA.join(manager.address());
      hostB.join(manager.address());
      ClusterWait.upMembers(manager.system(), 3, Duration.ofSeconds(30));

      GuestDescription guest = GuestDescription.newBuilder()
          .setGuestId("demo-guest").setPageSize(4096).setPageCount(sizeMib * 256).setSeed(42)
          .setDirtyPagesPerSecond(dirtyRate).setHotPages(Math.min(4096, sizeMib * 64)).setHotPerMille(800)
          .setInitialFill(InitialFill.FILL_PATTERN).build();
      HostAgent.GuestView created = AskPattern.<HostAgent.Command, StatusReply<HostAgent.GuestView>>ask(
              hostA.hostAgent(), r -> new HostAgent.CreateGuest(guest, true, r), Duration.ofSeconds(60),
              hostA.system().scheduler())
          .toCompletableFuture().get(60, TimeUnit.SECONDS).getValue();
      System.out.printf("guest %s: %d MiB running on host-a, dirtying %d pages/s (%.1f MB/s)%n", created.guestId(),
          sizeMib, dirtyRate, dirtyRate * 4096 / 1e6);

      MigrationClient client = new MigrationClient(manager.system());
      MigrationParameters params = MigrationParameters.newBuilder().setDowntimeLimitMs(downtimeMs)
          .setPostcopyAfterRounds(postcopyAfter).build();
      MigrationInfo started = client.start(guest.getGuestId(), "host-a", "host-b", params)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      MigrationInfo done = ProgressLine.follow(client, started.getMigrationId(), System.out);

      Optional<MigratableGuest> moved = AskPattern.<HostAgent.Command, Optional<MigratableGuest>>ask(
              hostB.hostAgent(), r -> new HostAgent.GetGuest(guest.getGuestId(), r), Duration.ofSeconds(10),
              hostB.system().scheduler())
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      boolean verified = false;
      if (done.getStatus() == MigrationStatus.COMPLETED && moved.isPresent()) {
        MigratableGuest g = moved.get();
        g.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
        GuestOracle.Verification v = new GuestOracle(guest).verify(g.memory(), g.steps());
        verified = v.matches();
        System.out.printf("oracle: %d pages checked after %d guest steps, %d mismatches%n", v.pagesChecked(),
            g.steps(), v.mismatches());
      }
      Summary.print(done, verified, System.out);
      if (!verified) System.exit(1);
    } finally {
      LivemigNode.closeAll(Duration.ofSeconds(30), nodes.toArray(new LivemigNode[0]));
    }
  }

  private Demo() {}

  static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }
}
