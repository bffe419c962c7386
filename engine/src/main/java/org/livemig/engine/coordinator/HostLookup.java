package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.HostCommand;

/**
 * The coordinator's address book: host agents found through the receptionist and watched
 * (their loss comes back as HostLost), and what waits for a host not found yet: phase steps,
 * sent again once it is (or given up after the lookup timeout), and commands that are not steps
 * (a recovery), which wait as long as it takes. Safe to lose in a crash: a new incarnation looks
 * its hosts up again.
 */
final class HostLookup {
  /** What a lookup's answer means for the steps that waited on it. */
  sealed interface Outcome {}

  /** Found: these steps and commands go out now. */
  record Found(ActorRef<HostAgent.Command> agent, List<Step> steps, List<HostCommand> commands) implements Outcome {}

  /** Not found yet, or nothing waited: the lookup goes on (steps are re-sent after a pause). */
  record Retrying() implements Outcome {}

  /**
   * Not found within the lookup timeout: the steps that waited for it, why, and whether that is
   * a definite answer: every member of the cluster is reachable, so the host is not among them
   * (the receptionist also leaves out hosts it cannot reach, and those may be running).
   */
  record GaveUp(List<Step> steps, String why, boolean notInCluster) implements Outcome {}

  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final CoordinatorSettings settings;
  private final Map<String, ActorRef<HostAgent.Command>> agents = new HashMap<>();
  private final Map<String, List<Step>> waitingSteps = new HashMap<>();
  private final Map<String, Long> lookupStartedNanos = new HashMap<>();
  private final Map<String, List<HostCommand>> waitingCommands = new HashMap<>();

  HostLookup(ActorContext<MigrationCoordinator.Command> ctx, TimerScheduler<MigrationCoordinator.Command> timers,
      CoordinatorSettings settings) {
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
  }

  /** The host's agent, or null while it is not found. */
  ActorRef<HostAgent.Command> agent(String host) {
    return agents.get(host);
  }

  /** The step goes out once the host is found (see found). */
  void awaitHost(String host, Step step) {
    boolean asking = waitingSteps.containsKey(host);
    waitingSteps.computeIfAbsent(host, h -> new ArrayList<>()).add(step);
    lookupStartedNanos.putIfAbsent(host, System.nanoTime());
    if (!asking) ask(host);
  }

  /** A command that is not a step goes out once the host is found, however long that takes. */
  void awaitHost(String host, HostCommand command) {
    waitingCommands.computeIfAbsent(host, h -> new ArrayList<>()).add(command);
    locate(host);
  }

  /** Commands wait for a host to be found. */
  boolean commandsWaiting() {
    return !waitingCommands.isEmpty();
  }

  /** Looks a host up (and watches it) without sending it a step. */
  void locate(String host) {
    if (agents.containsKey(host) || waitingSteps.containsKey(host)) return;
    waitingSteps.put(host, new ArrayList<>());
    lookupStartedNanos.putIfAbsent(host, System.nanoTime());
    ask(host);
  }

  /** The retry timer of a lookup nothing but a watch or a command waits for. */
  void retry(String host) {
    if (waitingSteps.containsKey(host)) ask(host);
  }

  /**
   * This actor restarted (a journal failure) and its timers went: lookups that waited for a
   * retry timer start again when asked; hosts that commands wait for are looked up again.
   */
  void timersLost() {
    waitingSteps.clear();
    lookupStartedNanos.clear();
    for (String host : List.copyOf(waitingCommands.keySet())) locate(host);
  }

  void lost(String host) {
    agents.remove(host);
  }

  /** The receptionist's answer (agent null = not registered). */
  Outcome found(String host, ActorRef<HostAgent.Command> agent) {
    List<Step> waiting = waitingSteps.remove(host);
    if (waiting == null) return new Retrying(); // an answer nobody waits for any more
    if (agent != null) {
      agents.put(host, agent);
      lookupStartedNanos.remove(host);
      ctx.watchWith(agent, new MigrationCoordinator.HostLost(host));
      List<HostCommand> commands = waitingCommands.remove(host);
      return new Found(agent, waiting, commands == null ? List.of() : commands);
    }
    if (waiting.isEmpty()) {
      // Only looked up to be watched, or for a recovery: keep looking, no step fails over it.
      waitingSteps.put(host, waiting);
      timers.startSingleTimer("locate-" + host, new MigrationCoordinator.Locate(host), settings.hostLookupRetry());
      return new Retrying();
    }
    long waited = System.nanoTime() - lookupStartedNanos.getOrDefault(host, System.nanoTime());
    if (waited < settings.hostLookupTimeout().toNanos()) {
      for (Step st : waiting) timers.startSingleTimer("resend-" + st, new MigrationCoordinator.Resend(st), settings.hostLookupRetry());
      return new Retrying();
    }
    lookupStartedNanos.remove(host);
    return new GaveUp(waiting, (everyMemberReachable() ? "" : "host not found while some member is unreachable: ")
        + "unknown host " + host + ": not registered in the cluster within " + settings.hostLookupTimeout(),
        everyMemberReachable());
  }

  /** No member is unreachable (a node without the cluster, as in tests, counts as whole). */
  private boolean everyMemberReachable() {
    if (!ctx.getSystem().settings().config().getString("akka.actor.provider").equals("cluster")) return true;
    return akka.cluster.typed.Cluster.get(ctx.getSystem()).state().getUnreachable().isEmpty();
  }

  private void ask(String host) {
    ctx.ask(Receptionist.Listing.class, ctx.getSystem().receptionist(), settings.hostLookupTimeout(),
        replyTo -> Receptionist.find(HostAgent.serviceKey(host), replyTo),
        (listing, err) -> new MigrationCoordinator.HostFound(host, listing == null ? null : agentIn(listing, host)));
  }

  /** The host's agent in a receptionist listing, or null if it lists none. */
  static ActorRef<HostAgent.Command> agentIn(Receptionist.Listing listing, String host) {
    return listing.getServiceInstances(HostAgent.serviceKey(host)).stream().findFirst().orElse(null);
  }
}
