package org.livemig.bench;

import akka.actor.typed.javadsl.AskPattern;
import akka.pattern.StatusReply;
import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.livemig.config.LivemigNode;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;

/**
 * One benchmark host in its own JVM, like HostMain, that also creates the benchmark's guest
 * when its config has a {@code bench.guest} section (CreateGuest is local-only, so the driver
 * cannot ask for it over the cluster), and with a {@code bench.guests} section ({@code prefix,
 * count, size-mib, dirty-pages-per-second}) that many running guests {@code <prefix>-0} ... for
 * the scale benchmark. Prints "bench host <id> up" when ready.
 */
public final class BenchHost {
  private BenchHost() {}

  public static void main(String[] args) throws Exception {
    Config config = LivemigNode.loadConfig(Path.of(args[0]));
    LivemigNode node = LivemigNode.start(config);
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "bench-host-shutdown"));
    if (config.hasPath("bench.guest")) {
      Config g = config.getConfig("bench.guest");
      GuestDescription.Builder b = GuestDescription.newBuilder()
          .setGuestId(g.getString("id")).setPageSize(4096).setPageCount(g.getLong("size-mib") * 256).setSeed(42)
          .setDirtyPagesPerSecond(g.getLong("dirty-pages-per-second"))
          .setInitialFill(InitialFill.FILL_PATTERN);
      if (g.hasPath("disk")) { // on the shared datastore both hosts of the case see, unless it names another
        Config k = g.getConfig("disk");
        b.addDisks(DiskDescription.newBuilder().setDiskId("root")
            .setDatastore(k.hasPath("datastore") ? k.getString("datastore") : "shared")
            .setBlockCount(k.getLong("blocks")).setQueueDepth(k.getInt("queue-depth"))
            .setWritesPerSecond(k.getLong("writes-per-second")).setReadsPerMille(250));
      }
      GuestDescription d = b.build();
      AskPattern.<HostAgent.Command, StatusReply<HostAgent.GuestView>>ask(node.hostAgent(),
              r -> new HostAgent.CreateGuest(d, true, r), Duration.ofSeconds(120), node.system().scheduler())
          .toCompletableFuture().get(120, TimeUnit.SECONDS).getValue();
      if (!g.getBoolean("running")) { // a never-run guest may not migrate: run it, then pause it
        MigratableGuest guest = AskPattern.<HostAgent.Command, Optional<MigratableGuest>>ask(node.hostAgent(),
                r -> new HostAgent.GetGuest(d.getGuestId(), r), Duration.ofSeconds(10), node.system().scheduler())
            .toCompletableFuture().get(10, TimeUnit.SECONDS).orElseThrow();
        guest.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
    }
    if (config.hasPath("bench.guests")) createGuests(node, config.getConfig("bench.guests"));
    System.out.println("bench host " + node.hostId() + " up");
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    node.system().getWhenTerminated().thenRun(stopped::countDown);
    stopped.await();
  }

  /** Running guests prefix-0 ... prefix-(count-1), each with its own seed (no two on a host alike). */
  private static void createGuests(LivemigNode node, Config g) throws Exception {
    for (int i = 0; i < g.getInt("count"); i++) {
      GuestDescription d = GuestDescription.newBuilder().setGuestId(g.getString("prefix") + "-" + i).setPageSize(4096)
          .setPageCount(g.getLong("size-mib") * 256).setSeed(1000L + i)
          .setDirtyPagesPerSecond(g.getLong("dirty-pages-per-second")).setInitialFill(InitialFill.FILL_PATTERN).build();
      AskPattern.<HostAgent.Command, StatusReply<HostAgent.GuestView>>ask(node.hostAgent(),
              r -> new HostAgent.CreateGuest(d, true, r), Duration.ofSeconds(120), node.system().scheduler())
          .toCompletableFuture().get(120, TimeUnit.SECONDS).getValue();
    }
  }
}
