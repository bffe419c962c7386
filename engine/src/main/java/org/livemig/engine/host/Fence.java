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
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Fence.class);
  public interface Command {}

  /** What this node sees of the cluster: Up members, and how many of them it can reach (itself included). */
  public record Observed(int upMembers, int reachableUp) implements Command {}

  private record ClusterChanged(Object event) implements Command {}

  private record Ponged(HostLease.Pong pong) implements Command {}

  private enum LeaseTick implements Command { INSTANCE }

  private enum LeaseExpired implements Command { INSTANCE }

  private Fence() {}

  /** Cut off: this node reaches no strict majority of the Up members. */
  static boolean cutOff(int upMembers, int reachableUp) {
    return upMembers > 0 && 2 * reachableUp <= upMembers;
  }

  /**
   * With the cluster's events (a host node); renews hostLease from the pings every node answers,
   * a ping every quarter of the lease.
   */
  static Behavior<Command> create(Duration lease, ActorRef<HostAgent.Command> agent, HostLease hostLease) {
    return Behaviors.setup(ctx -> {
      Cluster cluster = Cluster.get(ctx.getSystem());
      ActorRef<Object> events = ctx.messageAdapter(Object.class, ClusterChanged::new);
      cluster.subscriptions().tell(Subscribe.create(events.narrow(), ClusterEvent.ReachabilityEvent.class));
      cluster.subscriptions().tell(Subscribe.create(events.narrow(), ClusterEvent.MemberEvent.class));
      View view = new View();
      view.self = cluster.selfMember().address();
      view.lease = hostLease;
      view.pongs = ctx.messageAdapter(HostLease.Pong.class, Ponged::new);
      view.resolver = akka.actor.typed.ActorRefResolver.get(ctx.getSystem());
      return Behaviors.withTimers(timers -> {
        timers.startTimerWithFixedDelay(LeaseTick.INSTANCE, LeaseTick.INSTANCE, Duration.ZERO,
            Duration.ofNanos(Math.max(50_000_000L, lease.toNanos() / 4)));
        return watching(lease, agent, timers, false, view);
      });
    });
  }

  /** Without the cluster: only Observed drives it (tests). */
  static Behavior<Command> observing(Duration lease, ActorRef<HostAgent.Command> agent) {
    return Behaviors.withTimers(timers -> watching(lease, agent, timers, false, new View()));
  }

  /**
   * The Up members and the unreachable ones, as the cluster's events tell them (in order); and
   * for the lease, the nodes that answer pings and the newest ping each one answered.
   */
  private static final class View {
    final java.util.Set<akka.actor.Address> up = new java.util.HashSet<>();
    final java.util.Set<akka.actor.Address> unreachable = new java.util.HashSet<>();
    final java.util.Map<akka.actor.Address, Long> acked = new java.util.HashMap<>();
    final java.util.Map<akka.actor.Address, ActorRef<HostLease.Ping>> responders = new java.util.HashMap<>();
    akka.actor.typed.ActorRefResolver resolver;
    akka.actor.Address self;
    HostLease lease;
    ActorRef<HostLease.Pong> pongs;
    long lastPingNanos;

    /** Pings every other Up member's responder (at a fixed path on each node). */
    void ping() {
      lastPingNanos = System.nanoTime();
      for (akka.actor.Address a : up) {
        if (a.equals(self)) continue;
        responders.computeIfAbsent(a, x -> resolver.resolveActorRef(x + HostLease.RESPONDER_PATH))
            .tell(new HostLease.Ping(pongs, lastPingNanos));
      }
      responders.keySet().retainAll(up); // a removed member is asked no more, and its answers no longer count
      acked.keySet().retainAll(up);
      renewLease(); // a cluster of this node alone needs no answer
    }

    void renewLease() {
      if (lease != null && lastPingNanos != 0) {
        lease.renew(HostLease.validUntil(up, self, acked, lastPingNanos, lease.leaseNanos()));
      }
    }

    Observed apply(Object event) {
      if (event instanceof ClusterEvent.CurrentClusterState s) {
        up.clear();
        unreachable.clear();
        for (var m : s.getMembers()) if (m.status() == MemberStatus.up()) up.add(m.address());
        for (var m : s.getUnreachable()) unreachable.add(m.address());
      } else if (event instanceof ClusterEvent.UnreachableMember u) {
        unreachable.add(u.member().address());
      } else if (event instanceof ClusterEvent.ReachableMember r) {
        unreachable.remove(r.member().address());
      } else if (event instanceof ClusterEvent.MemberEvent e) {
        if (e.member().status() == MemberStatus.up()) up.add(e.member().address());
        else up.remove(e.member().address());
        if (event instanceof ClusterEvent.MemberRemoved) unreachable.remove(e.member().address());
      }
      int reachable = (int) up.stream().filter(a -> !unreachable.contains(a)).count();
      return new Observed(up.size(), reachable);
    }
  }

  private static Behavior<Command> watching(Duration lease, ActorRef<HostAgent.Command> agent,
      TimerScheduler<Command> timers, boolean cut, View view) {
    return Behaviors.receive(Command.class)
        .onMessage(ClusterChanged.class, m -> {
          Observed o = view.apply(m.event());
          // A member that came up is asked at once: a lease from a cluster just formed is due now.
          if (m.event() instanceof ClusterEvent.MemberUp || m.event() instanceof ClusterEvent.CurrentClusterState) {
            if (view.lease != null) view.ping();
          }
          return observed(o, lease, agent, timers, cut, view);
        })
        .onMessage(Observed.class, m -> observed(m, lease, agent, timers, cut, view))
        .onMessage(LeaseTick.class, m -> {
          if (view.lease != null) view.ping();
          return Behaviors.same();
        })
        .onMessage(Ponged.class, m -> {
          view.acked.merge(akka.actor.AddressFromURIString.parse(m.pong().address()), m.pong().sentNanos(), Math::max);
          view.renewLease();
          return Behaviors.same();
        })
        .onMessage(LeaseExpired.class, m -> {
          agent.tell(new HostAgent.FenceGuests("cut off from the majority of the cluster for " + lease.toMillis()
              + " ms (fence lease)"));
          return Behaviors.same();
        })
        .build();
  }

  private static Behavior<Command> observed(Observed o, Duration lease, ActorRef<HostAgent.Command> agent,
      TimerScheduler<Command> timers, boolean wasCut, View view) {
    boolean cut = cutOff(o.upMembers(), o.reachableUp());
    if (cut == wasCut) return Behaviors.same();
    if (cut) {
      log.warn("this node reaches {} of {} Up members, no majority: fencing in {} ms unless that changes",
          o.reachableUp(), o.upMembers(), lease.toMillis());
      timers.startSingleTimer(LeaseExpired.INSTANCE, lease);
    } else {
      log.info("this node reaches {} of {} Up members again: no fencing", o.reachableUp(), o.upMembers());
      timers.cancel(LeaseExpired.INSTANCE);
    }
    return watching(lease, agent, timers, cut, view);
  }
}
