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
      // A node that is downed (or leaves) must not live on as a process: its host agent pauses its
      // guests as the actor system stops, and then the JVM exits (tests and the demo run several
      // nodes in one JVM, so the shared node config keeps exit-jvm off).
      node = LivemigNode.start(com.typesafe.config.ConfigFactory.parseString(
          "akka.coordinated-shutdown.exit-jvm = on").withFallback(config));
    } catch (IllegalArgumentException | ConfigException e) {
      System.err.println("livemig: bad node config " + args[0] + ": " + e.getMessage());
      System.exit(2);
      return;
    } catch (RuntimeException e) {
      System.err.println("livemig: node did not start: " + e.getMessage());
      System.exit(1);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    node.system().getWhenTerminated().thenRun(stopped::countDown);
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "livemig-shutdown"));
    System.out.println("livemig node " + node.address() + " host=" + (node.hostId() == null ? "-" : node.hostId())
        + " data-port=" + (node.dataPlane() == null ? "-" : node.dataPlane().port()) + " up");
    System.out.flush();
    stopped.await();
  }
}
