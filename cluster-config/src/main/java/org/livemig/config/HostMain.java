package org.livemig.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Starts one livemig node in this JVM from a config file and runs until the node stops or the
 * process is told to (SIGTERM leaves the cluster cleanly):
 * {@code java -cp ... org.livemig.config.HostMain cluster-config/src/main/resources/hosts/host-a.conf}.
 * Prints one line "livemig node <address> host=<id> data-port=<port> up" once it is started, so
 * that scripts and tests can wait for it.
 */
public final class HostMain {
  private HostMain() {}

  /** How long a stopping node may take to terminate before the process exits regardless. */
  static final java.time.Duration TERMINATION_GRACE = java.time.Duration.ofSeconds(30);

  public static void main(String[] args) throws Exception {
    LivemigNode.journalServerOnLoopback();
    if (args.length != 1) {
      System.err.println("usage: HostMain <node.conf>");
      System.exit(2);
    }
    LivemigNode node;
    try {
      Config config = LivemigNode.loadConfig(Path.of(args[0]));
      var problems = NodeConfigCheck.problems(com.typesafe.config.ConfigFactory.parseFile(Path.of(args[0]).toFile()), config);
      if (!problems.isEmpty()) {
        System.err.println("livemig: bad node config " + args[0] + ":");
        problems.forEach(p -> System.err.println("  " + p));
        System.exit(2);
        return;
      }
      node = LivemigNode.start(config);
    } catch (IllegalArgumentException | ConfigException e) {
      System.err.println("livemig: bad node config " + args[0] + ": " + e.getMessage());
      System.exit(2);
      return;
    } catch (RuntimeException e) {
      System.err.println("livemig: node did not start: " + e.getMessage());
      System.exit(1);
      return;
    }
    CountDownLatch stopping = new CountDownLatch(1);
    node.system().getWhenTerminated().thenRun(stopping::countDown);
    // Artery's stream shutdown over TLS has no deadline in Akka 2.6 (akka/akka-core#29162): a
    // downed node whose termination stalls there must still exit, so the wait starts when the
    // shutdown reaches its last phase and is bounded.
    akka.actor.CoordinatedShutdown.get(node.system()).addTask(
        akka.actor.CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "livemig-exit-watch", () -> {
          stopping.countDown();
          return java.util.concurrent.CompletableFuture.completedFuture(akka.Done.getInstance());
        });
    // SIGTERM: leave and stop. Once main has given up on a stalled termination, the hook that its
    // System.exit runs does not wait for it again.
    java.util.concurrent.atomic.AtomicBoolean gaveUp = new java.util.concurrent.atomic.AtomicBoolean();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (!gaveUp.get()) node.close();
    }, "livemig-shutdown"));
    System.out.println("livemig node " + node.address() + " host=" + (node.hostId() == null ? "-" : node.hostId())
        + " data-port=" + (node.dataPlane() == null ? "-" : node.dataPlane().port()) + " up");
    System.out.flush();
    stopping.await();
    try {
      node.system().getWhenTerminated().toCompletableFuture().get(TERMINATION_GRACE.toSeconds(),
          java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      gaveUp.set(true);
      System.err.println("livemig node " + node.address() + " did not terminate within " + TERMINATION_GRACE.toSeconds()
          + " s (remoting shutdown stalled); exiting anyway");
    }
    // A node that is downed (or leaves) must not live on as a process: its host agent paused its
    // guests as the actor system stopped. The exit is here, not Akka's exit-jvm: that calls
    // System.exit inside the termination callback, and the shutdown hooks then wait 30 s for
    // callbacks queued behind it.
    var reason = akka.actor.CoordinatedShutdown.get(node.system()).getShutdownReason();
    boolean asked = reason.isEmpty() || reason.get() == akka.actor.CoordinatedShutdown.jvmExitReason()
        || reason.get() == akka.actor.CoordinatedShutdown.clusterLeavingReason();
    System.out.println("livemig node " + node.address() + " stopped" + reason.map(r -> " (" + r + ")").orElse(""));
    System.out.flush();
    System.exit(asked ? 0 : 1); // downed: non-zero, so a supervisor restarts it as a new incarnation
  }
}
