package org.livemig.engine.client;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.GuestCommandRequest;
import org.livemig.messages.GuestCommandResult;
import org.livemig.messages.HostDescription;

/**
 * The hosts of the cluster, found through the receptionist, and the one holding a guest: where a
 * guest command goes. Every ask has the given timeout.
 */
public final class GuestHosts {
  private final ActorSystem<?> system;
  private final Duration timeout;

  public GuestHosts(ActorSystem<?> system, Duration timeout) {
    this.system = system;
    this.timeout = timeout;
  }

  /** Every registered host describes itself; a host that does not answer in time is left out. */
  public CompletionStage<List<HostDescription>> all() {
    return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
        r -> Receptionist.find(HostAgent.ALL_HOSTS, r), timeout, system.scheduler())
        .thenCompose(l -> {
          List<CompletableFuture<HostDescription>> asks = l.getServiceInstances(HostAgent.ALL_HOSTS).stream()
              .map(a -> AskPattern.<HostAgent.Command, HostDescription>ask(a, HostAgent.DescribeHost::new, timeout,
                  system.scheduler()).toCompletableFuture().exceptionally(e -> null))
              .toList();
          return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new)).thenApply(v -> asks.stream()
              .map(CompletableFuture::join).filter(Objects::nonNull)
              .sorted(Comparator.comparing(HostDescription::getHostId)).toList());
        });
  }

  /** The agents registered under a host id (none if no node registered it). */
  public CompletionStage<Set<ActorRef<HostAgent.Command>>> find(String host) {
    var key = HostAgent.serviceKey(host);
    return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
        r -> Receptionist.find(key, r), timeout, system.scheduler()).thenApply(l -> l.getServiceInstances(key));
  }

  /**
   * The agent of the host holding the guest: UnknownGuest if none does. Two hosts list it while a
   * migration settles (either refuses a command then) or when one keeps a copy powered off: a copy
   * that is not DESTROYED comes first.
   */
  public CompletionStage<ActorRef<HostAgent.Command>> holder(String guestId) {
    return all().thenCompose(hosts -> {
      String holder = hosts.stream().flatMap(h -> h.getGuestsList().stream()
              .filter(g -> g.getGuestId().equals(guestId)).map(g -> java.util.Map.entry(h.getHostId(), g.getState())))
          .min(Comparator.comparing(e -> e.getValue().equals("DESTROYED")))
          .map(java.util.Map.Entry::getKey)
          .orElseThrow(() -> new MigrationException.UnknownGuest("unknown guest " + guestId
              + ": no host of the cluster holds it"));
      return find(holder).thenApply(refs -> refs.stream().findFirst().orElseThrow(() ->
          new MigrationException.HostUnreachable("host " + holder + " is not registered")));
    });
  }

  /** A guest command on whichever host holds the guest, answered as the host answered (refusal included). */
  public CompletionStage<GuestCommandResult> ask(GuestCommandRequest request) {
    return holder(request.getGuestId()).thenCompose(agent -> AskPattern.<HostAgent.Command, GuestCommandResult>ask(
        agent, r -> new HostAgent.GuestCommand(request, r), timeout, system.scheduler()));
  }

  /** As ask, a refusal completing exceptionally with the MigrationException of its kind. */
  public CompletionStage<GuestCommandResult> command(GuestCommandRequest request) {
    return ask(request).thenApply(GuestHosts::orThrow);
  }

  static GuestCommandResult orThrow(GuestCommandResult v) {
    if (v.hasRefusal()) {
      throw MigrationException.of(v.getRefusal().getKind(), v.getRefusal().getField(), v.getRefusal().getMessage());
    }
    return v;
  }
}
