package org.livemig.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.GuestVerification;
import org.livemig.messages.HostDescription;

/**
 * The guests as the live hosts see them, asked over the cluster the way the operator's
 * {@code GET /guests/{id}/verify} does: which hosts hold each guest (DescribeHost), and each
 * guest's memory page by page against its oracle (VerifyGuest, which holds the guest for the check).
 */
final class FleetGuests {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final ActorSystem<?> system;
  /** host id -> its agent, for the hosts that answered. */
  private final Map<String, ActorRef<HostAgent.Command>> agents = new HashMap<>();
  /** guest id -> the hosts listing it (running, paused or incoming). */
  private final Map<String, Set<String>> holders = new HashMap<>();

  private FleetGuests(ActorSystem<?> system) {
    this.system = system;
  }

  /** Asks every registered host for its guests; a host that does not answer (killed) is left out. */
  static FleetGuests survey(ActorSystem<?> system) throws Exception {
    FleetGuests f = new FleetGuests(system);
    Receptionist.Listing listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
        r -> Receptionist.find(HostAgent.ALL_HOSTS, r), TIMEOUT, system.scheduler()).toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    for (ActorRef<HostAgent.Command> agent : listing.getServiceInstances(HostAgent.ALL_HOSTS)) {
      HostDescription d;
      try {
        d = AskPattern.<HostAgent.Command, HostDescription>ask(agent, HostAgent.DescribeHost::new,
            Duration.ofSeconds(10), system.scheduler()).toCompletableFuture().get(15, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        continue; // a dead host still registered until the cluster downs it
      }
      f.agents.put(d.getHostId(), agent);
      for (var g : d.getGuestsList()) f.holders.computeIfAbsent(g.getGuestId(), k -> new TreeSet<>()).add(d.getHostId());
    }
    return f;
  }

  /** The live hosts listing the guest (empty: lost). */
  Set<String> holders(String guestId) {
    return holders.getOrDefault(guestId, Set.of());
  }

  /** Checks the guest's memory on the host against its oracle. */
  GuestVerification verify(String hostId, String guestId) throws Exception {
    ActorRef<HostAgent.Command> agent = agents.get(hostId);
    if (agent == null) throw new IllegalStateException("host " + hostId + " did not answer");
    return AskPattern.<HostAgent.Command, GuestVerification>ask(agent, r -> new HostAgent.VerifyGuest(guestId, r),
        TIMEOUT, system.scheduler()).toCompletableFuture().get(TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
  }

  List<String> hosts() {
    return List.copyOf(new TreeSet<>(agents.keySet()));
  }
}
