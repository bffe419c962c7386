package org.livemig.config.http;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import akka.pattern.StatusReply;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.livemig.engine.client.GuestHosts;
import org.livemig.engine.client.MigrationException;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.GuestDescription;

/**
 * The HostAgent of this node (if it is a host), found through the receptionist, and which hosts
 * are registered in the cluster. Every ask has the configured client timeout.
 */
final class LocalHost {
  private final ActorSystem<?> system;
  private final String hostId;
  private final Duration timeout;
  private final Duration verifyTimeout;
  private final GuestHosts hosts;

  LocalHost(ActorSystem<?> system) {
    this.system = system;
    var config = system.settings().config();
    this.hostId = config.getStringList("akka.cluster.roles").contains("host") ? config.getString("livemig.host.id") : "";
    this.timeout = config.getDuration("livemig.coordinator.ask-timeout");
    this.verifyTimeout = config.getDuration("livemig.http.verify-timeout");
    this.hosts = new GuestHosts(system, timeout);
  }

  String hostId() {
    return hostId;
  }

  /** The address a host is registered from; HostUnreachable if no node registered it. */
  CompletionStage<String> registered(String host) {
    return find(host).thenApply(refs -> refs.stream().findFirst().map(r -> r.path().address().toString())
        .orElseThrow(() -> new MigrationException.HostUnreachable("unknown host " + host + ": not registered in the cluster")));
  }

  /** Every registered host describes itself; a host that does not answer in time is left out. */
  CompletionStage<List<org.livemig.messages.HostDescription>> allHosts() {
    return hosts.all();
  }

  /**
   * Creates a guest on this node's host, unless a host of the cluster already holds one of that
   * id (Conflict): a guest id names one guest in the whole cluster, or two copies could run.
   */
  CompletionStage<HostAgent.GuestView> create(GuestDescription d) {
    return agent().thenCompose(a -> allHosts().thenApply(hosts -> {
      for (var h : hosts) {
        if (h.getGuestsList().stream().anyMatch(g -> g.getGuestId().equals(d.getGuestId()))) {
          throw new MigrationException.Conflict("guest " + d.getGuestId() + " already exists on host "
              + h.getHostId());
        }
      }
      return a;
    })).thenCompose(a -> AskPattern.<HostAgent.Command, StatusReply<HostAgent.GuestView>>ask(a,
        r -> new HostAgent.CreateGuest(d, true, r), timeout, system.scheduler())).thenApply(r -> {
          if (r.isError()) {
            throw r.getError() instanceof org.livemig.engine.host.GuestRefused refused
                ? MigrationException.of(refused.kind(), refused.field(), refused.getMessage())
                : new MigrationException.Refused(r.getError().getMessage());
          }
          return r.getValue();
        });
  }

  /**
   * Checks a guest against its oracle on whichever host holds it: UnknownGuest if none does, the
   * host's refusal (kind) if it cannot check it now.
   */
  CompletionStage<org.livemig.messages.GuestVerification> verify(String guestId) {
    return holder(guestId).thenCompose(agent -> AskPattern.<HostAgent.Command, org.livemig.messages.GuestVerification>ask(
        agent, r -> new HostAgent.VerifyGuest(guestId, r), verifyTimeout, system.scheduler())).thenApply(v -> {
          if (v.hasRefusal()) throw MigrationException.of(v.getRefusal().getKind(), "", v.getRefusal().getMessage());
          return v;
        });
  }

  /**
   * A guest command (disk move, pivot, cancel, moves) on whichever host holds the guest:
   * UnknownGuest if none does, the host's refusal (kind, field) if it refuses.
   */
  CompletionStage<org.livemig.messages.GuestCommandResult> command(org.livemig.messages.GuestCommandRequest request) {
    return hosts.command(request);
  }

  private CompletionStage<ActorRef<HostAgent.Command>> holder(String guestId) {
    return hosts.holder(guestId);
  }

  /** What this node's host carries now; empty on a node without the host role. */
  CompletionStage<java.util.Optional<HostAgent.Load>> load(Duration timeout) {
    if (hostId.isEmpty()) return CompletableFuture.completedFuture(java.util.Optional.empty());
    return agent().thenCompose(a -> AskPattern.<HostAgent.Command, HostAgent.Load>ask(a, HostAgent.GetLoad::new,
        timeout, system.scheduler())).thenApply(java.util.Optional::of);
  }

  private CompletionStage<ActorRef<HostAgent.Command>> agent() {
    if (hostId.isEmpty()) {
      return CompletableFuture.failedFuture(new MigrationException.NotSupported(
          "this node has no host role: ask a host node for its guests"));
    }
    return find(hostId).thenApply(refs -> refs.stream().filter(r -> r.path().address().hasLocalScope()).findFirst()
        .orElseThrow(() -> new MigrationException.HostUnreachable("host " + hostId + " is not up on this node yet")));
  }

  private CompletionStage<java.util.Set<ActorRef<HostAgent.Command>>> find(String host) {
    return hosts.find(host);
  }
}
