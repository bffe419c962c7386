package org.livemig.config;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
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
import java.util.concurrent.TimeUnit;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.host.HostAgent;
import org.livemig.engine.host.HostSettings;
import org.livemig.persistence.JournalSchema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One livemig node: an ActorSystem in the cluster with the roles its config names. A "host"
 * node runs a HostAgent and a data-plane listener; a "coordinator" node hosts migration
 * coordinators and prepares the journal schema before it starts.
 */
public final class LivemigNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LivemigNode.class);
  public static final String SYSTEM_NAME = "livemig";

  private final ActorSystem<Void> system;
  private final DataPlaneServer dataPlane;
  private final ActorRef<HostAgent.Command> hostAgent;
  private final String hostId;
  private String httpUri;

  private LivemigNode(ActorSystem<Void> system, DataPlaneServer dataPlane, ActorRef<HostAgent.Command> hostAgent,
      String hostId) {
    this.system = system;
    this.dataPlane = dataPlane;
    this.hostAgent = hostAgent;
    this.hostId = hostId;
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

  public static LivemigNode start(Config config) {
    List<String> roles = config.getStringList("akka.cluster.roles");
    boolean host = roles.contains("host");
    // Coordinators keep their journal there, hosts their ledger.
    JournalSchema.ensure(config);
    HostSettings settings = host ? HostSettings.fromConfig(config) : null;
    DataPlaneServer dataPlane = null;
    if (host) {
      dataPlane = new DataPlaneServer(settings.dataBindHost(), settings.dataPort(), settings.dataPlane());
      dataPlane.start();
    }
    CompletableFuture<ActorRef<HostAgent.Command>> agent = new CompletableFuture<>();
    DataPlaneServer dp = dataPlane;
    ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(ctx -> {
      if (host) agent.complete(ctx.spawn(HostAgent.create(settings, dp), "host"));
      else agent.complete(null);
      MigrationCoordinator.init(ctx.getSystem());
      return Behaviors.empty();
    }), SYSTEM_NAME, config);
    try {
      LivemigNode node = new LivemigNode(system, dataPlane, agent.get(30, TimeUnit.SECONDS), host ? settings.hostId() : null);
      node.httpUri = OperatorHttp.start(system);
      return node;
    } catch (Exception e) {
      system.terminate();
      if (dataPlane != null) dataPlane.close();
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
    return hostAgent;
  }

  public String hostId() {
    return hostId;
  }

  /** The operator HTTP address (http://host:port), or null when livemig.http.port is 0. */
  public String httpUri() {
    return httpUri;
  }

  public DataPlaneServer dataPlane() {
    return dataPlane;
  }

  /** Leaves the cluster and stops; the data-plane listener closes with it. */
  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.error("node {} did not terminate cleanly: {}", hostId, e.toString());
    } finally {
      if (dataPlane != null) dataPlane.close();
    }
  }

}
