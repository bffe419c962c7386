package org.livemig.config;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.livemig.config.http.OperatorHttp;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.host.HostAgent;
import org.livemig.engine.node.EngineNode;
import org.livemig.persistence.JournalSchema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One livemig node: an ActorSystem in the cluster with the roles its config names, running the
 * engine's parts for them (EngineNode: a "host" node runs a HostAgent and a data-plane
 * listener, a "coordinator" node hosts migration coordinators) and the operator HTTP. The
 * journal schema is prepared before the system starts.
 */
public final class LivemigNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LivemigNode.class);
  public static final String SYSTEM_NAME = "livemig";

  private final ActorSystem<Void> system;
  private final EngineNode engine;
  private String httpUri;

  private LivemigNode(ActorSystem<Void> system, EngineNode engine) {
    this.system = system;
    this.engine = engine;
  }

  /**
   * H2's AUTO_SERVER (the shared journal file of several JVMs on one machine, hosts/*.conf)
   * starts a TCP server in whichever JVM opens the file first, on every interface unless told
   * otherwise: it is bound to loopback, where the other JVMs of that machine reach it. Must run
   * before H2 is loaded (it reads the property once); an explicit -Dh2.bindAddress wins.
   */
  public static void journalServerOnLoopback() {
    if (System.getProperty("h2.bindAddress") == null) System.setProperty("h2.bindAddress", "127.0.0.1");
  }

  /** Loads a node's file over livemig-node.conf and the modules' reference.conf. */
  public static Config loadConfig(Path file) {
    if (!Files.isReadable(file)) throw new IllegalArgumentException("cannot read node config " + file);
    return ConfigFactory.load(ConfigFactory.parseFile(file.toFile())
        .withFallback(ConfigFactory.parseResources("livemig-node.conf")));
  }

  /** A node on loopback with an ephemeral Artery port, for tests and the demo. */
  public static Config localConfig(String hostId, List<String> roles, String journalUrl, Map<String, Object> overrides) {
    Config base = ConfigFactory.parseMap(Map.of(
        "livemig.host.id", hostId == null ? "" : hostId,
        "akka.cluster.roles", roles,
        "akka.remote.artery.canonical.port", 0,
        "livemig.journal.url", journalUrl));
    if (journalUrl.startsWith("jdbc:postgresql:")) {
      base = base.withFallback(ConfigFactory.parseResources("livemig-journal-postgres.conf"));
    }
    return ConfigFactory.load(ConfigFactory.parseMap(overrides).withFallback(base)
        .withFallback(ConfigFactory.parseResources("livemig-node.conf")));
  }

  public static LivemigNode start(Config loaded) {
    Config config = NodeSecurity.apply(loaded);
    // Coordinators keep their journal there, hosts their ledger.
    journalServerOnLoopback();
    JournalSchema.ensure(config);
    CompletableFuture<EngineNode> engine = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(EngineNode.guardian(engine), SYSTEM_NAME, config);
    try {
      LivemigNode node = new LivemigNode(system, engine.get(30, TimeUnit.SECONDS));
      node.httpUri = OperatorHttp.start(system, NodeSecurity.https(config));
      return node;
    } catch (ExecutionException e) {
      system.terminate();
      // What the engine refused (a bad setting, a data port in use) reaches the caller as it was.
      if (e.getCause() instanceof RuntimeException r) throw r;
      throw new IllegalStateException("node did not start: " + e.getCause(), e.getCause());
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("node did not start: " + e, e);
    }
  }

  public void join(Address seed) {
    Cluster.get(system).manager().tell(Join.create(seed));
  }

  public Address address() {
    return Cluster.get(system).selfMember().address();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public ActorRef<HostAgent.Command> hostAgent() {
    return engine.hostAgent();
  }

  public String hostId() {
    return engine.hostId();
  }

  /** The operator HTTP address (http://host:port), or null when livemig.http.port is 0. */
  public String httpUri() {
    return httpUri;
  }

  public DataPlaneServer dataPlane() {
    return engine.dataPlane();
  }

  /** Leaves the cluster and stops; the data-plane listener closes in the coordinated shutdown. */
  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }

  /** As close, waiting at most grace for the actor system to terminate (see closeAll). */
  public void close(Duration grace) {
    closeAll(grace, this);
  }

  /**
   * Stops the nodes together and waits for them up to timeout in all. A node whose termination
   * stalls in Artery's TLS stream shutdown (no deadline in Akka 2.6, akka/akka-core#29162) has
   * stopped everything else by then; it is named in a warning rather than waited for.
   */
  public static void closeAll(Duration timeout, LivemigNode... nodes) {
    for (LivemigNode n : nodes) n.system.terminate();
    long deadline = System.nanoTime() + timeout.toNanos();
    for (LivemigNode n : nodes) {
      String name = n.engine.hostId() == null ? String.valueOf(n.address()) : n.engine.hostId();
      try {
        n.system.getWhenTerminated().toCompletableFuture().get(Math.max(0, deadline - System.nanoTime()),
            TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        log.warn("node {} did not terminate within {} s (its remoting shutdown stalled); going on without it", name,
            timeout.toSeconds());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException e) {
        log.warn("node {} terminated with an error: {}", name, e.getCause().toString());
      }
    }
  }
}
