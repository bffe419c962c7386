package org.livemig.engine.node;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.host.HostAgent;
import org.livemig.engine.host.HostSettings;

/**
 * The engine's parts of one node, started by the roles in akka.cluster.roles: on a "host" node
 * the data-plane listener and the HostAgent; on every node the coordinators' sharding (a
 * "coordinator" node hosts the shards, the others get a proxy so that clients work anywhere).
 * The data-plane listener is closed by the actor system's coordinated shutdown, so it goes
 * with the system however that stops (terminate, downing, the JVM's shutdown hook).
 */
public final class EngineNode {
  public static final String HOST_ROLE = "host";
  /** The coordinated-shutdown task that closes the data-plane listener. */
  public static final String CLOSE_DATA_PLANE_TASK = "livemig-close-data-plane";

  private final DataPlaneServer dataPlane;
  private final ActorRef<HostAgent.Command> hostAgent;
  private final String hostId;

  private EngineNode(DataPlaneServer dataPlane, ActorRef<HostAgent.Command> hostAgent, String hostId) {
    this.dataPlane = dataPlane;
    this.hostAgent = hostAgent;
    this.hostId = hostId;
  }

  /**
   * A guardian that starts the engine and completes started with it, or exceptionally with
   * what made it fail (the guardian then fails too, which terminates the system).
   */
  public static Behavior<Void> guardian(CompletableFuture<EngineNode> started) {
    return Behaviors.setup(ctx -> {
      try {
        started.complete(start(ctx));
      } catch (RuntimeException e) {
        started.completeExceptionally(e);
        throw e;
      }
      return Behaviors.empty();
    });
  }

  /** Starts this node's parts as children of ctx (the guardian) by the system's roles. */
  public static EngineNode start(ActorContext<?> ctx) {
    var system = ctx.getSystem();
    List<String> roles = system.settings().config().getStringList("akka.cluster.roles");
    DataPlaneServer dataPlane = null;
    ActorRef<HostAgent.Command> agent = null;
    String hostId = null;
    if (roles.contains(HOST_ROLE)) {
      HostSettings settings = HostSettings.fromConfig(system.settings().config());
      dataPlane = new DataPlaneServer(settings.dataBindHost(), settings.dataPort(), settings.dataPlane());
      dataPlane.start();
      DataPlaneServer listener = dataPlane;
      // The last phase before the system stops: migrations in flight keep their channels while
      // the node leaves the cluster, as when the listener was closed after termination.
      CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
          CLOSE_DATA_PLANE_TASK, () -> {
            listener.close();
            return CompletableFuture.completedFuture(Done.getInstance());
          });
      agent = ctx.spawn(HostAgent.create(settings, dataPlane), "host");
      hostId = settings.hostId();
    }
    // Every node answers the hosts' lease pings: a host's lease needs a majority of all members.
    if (system.settings().config().getString("akka.actor.provider").equals("cluster")) {
      ctx.spawn(org.livemig.engine.host.HostLease.responder(), org.livemig.engine.host.HostLease.RESPONDER_NAME);
    }
    MigrationCoordinator.init(system);
    org.livemig.engine.coordinator.ProtectionCoordinator.init(system);
    return new EngineNode(dataPlane, agent, hostId);
  }

  /** The data-plane listener, or null on a node without the host role. */
  public DataPlaneServer dataPlane() {
    return dataPlane;
  }

  /** The host agent, or null on a node without the host role. */
  public ActorRef<HostAgent.Command> hostAgent() {
    return hostAgent;
  }

  /** livemig.host.id, or null on a node without the host role. */
  public String hostId() {
    return hostId;
  }
}
