package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.ClusterEvent;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import java.time.Duration;

/**
 * A host's fencing lease. It watches which members this node can reach; once it cannot reach a
 * majority of the Up members for the lease, it tells the host agent to pause every guest whose
 * ownership is in question, before the majority (whose split-brain resolver waits stable-after,
 * longer than the lease) may down this node and act on its absence.
 */
public final class Fence {
  public interface Command {}

  /** What this node sees of the cluster: Up members, and how many of them it can reach (itself included). */
  public record Observed(int upMembers, int reachableUp) implements Command {}

  private record ClusterChanged(Object event) implements Command {}

  private enum LeaseExpired implements Command { INSTANCE }

  private Fence() {}

  /** Cut off: this node reaches no strict majority of the Up members. */
  static boolean cutOff(int upMembers, int reachableUp) {
    return upMembers > 0 && 2 * reachableUp <= upMembers;
  }

  /** With the cluster's events (a host node). */
  static Behavior<Command> create(Duration lease, ActorRef<HostAgent.Command> agent) {
    return Behaviors.setup(ctx -> {
      Cluster cluster = Cluster.get(ctx.getSystem());
      ActorRef<Object> events = ctx.messageAdapter(Object.class, ClusterChanged::new);
      cluster.subscriptions().tell(Subscribe.create(events.narrow(), ClusterEvent.ReachabilityEvent.class));
      cluster.subscriptions().tell(Subscribe.create(events.narrow(), ClusterEvent.MemberEvent.class));
      return Behaviors.withTimers(timers -> watching(lease, agent, timers, false, cluster));
    });
  }

  /** Without the cluster: only Observed drives it (tests). */
  static Behavior<Command> observing(Duration lease, ActorRef<HostAgent.Command> agent) {
    return Behaviors.withTimers(timers -> watching(lease, agent, timers, false, null));
  }

  private static Behavior<Command> watching(Duration lease, ActorRef<HostAgent.Command> agent,
      TimerScheduler<Command> timers, boolean cut, Cluster cluster) {
    return Behaviors.receive(Command.class)
        .onMessage(ClusterChanged.class, m -> {
          var state = cluster.state();
          int up = 0;
          int reachable = 0;
          for (var member : state.getMembers()) {
            if (member.status() != MemberStatus.up()) continue;
            up++;
            if (!state.getUnreachable().contains(member)) reachable++;
          }
          return observed(new Observed(up, reachable), lease, agent, timers, cut, cluster);
        })
        .onMessage(Observed.class, m -> observed(m, lease, agent, timers, cut, cluster))
        .onMessage(LeaseExpired.class, m -> {
          agent.tell(new HostAgent.FenceGuests("cut off from the majority of the cluster for " + lease.toMillis()
              + " ms (fence lease)"));
          return Behaviors.same();
        })
        .build();
  }

  private static Behavior<Command> observed(Observed o, Duration lease, ActorRef<HostAgent.Command> agent,
      TimerScheduler<Command> timers, boolean wasCut, Cluster cluster) {
    boolean cut = cutOff(o.upMembers(), o.reachableUp());
    if (cut == wasCut) return Behaviors.same();
    if (cut) timers.startSingleTimer(LeaseExpired.INSTANCE, lease);
    else timers.cancel(LeaseExpired.INSTANCE);
    return watching(lease, agent, timers, cut, cluster);
  }
}
