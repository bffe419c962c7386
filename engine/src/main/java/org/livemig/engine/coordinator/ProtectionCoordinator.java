package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.ProtectGuest;
import org.livemig.messages.ProtectionEvent;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionReply;
import org.livemig.messages.ProtectionRestarted;

/**
 * One per protected guest (entity id = guest id), event-sourced and run under Cluster Sharding
 * like the migration coordinators: drives a protection's hosts (ProtectionRules decides) and is
 * the only place its decisions are persisted, each before any host hears of it. A failover is an
 * epoch of its own, so a host refuses whatever an older decision sends. A new incarnation (its
 * node died) takes over with a new epoch and asks the hosts again; they answer repeats alike.
 */
public final class ProtectionCoordinator extends EventSourcedBehavior<ProtectionCoordinator.Command, ProtectionEvent, Protection> {

  public interface Command {}

  public record Protect(ProtectGuest request, ActorRef<ProtectionReply> replyTo) implements Command, LivemigMessage {}

  public enum OpKind { STATUS, UNPROTECT, FAILOVER }

  /** Status, unprotect or failover. */
  public record Op(OpKind kind, String reason, ActorRef<ProtectionReply> replyTo) implements Command, LivemigMessage {}

  record FromHost(ProtectionHostReply reply) implements Command {}

  enum Tick implements Command { INSTANCE }

  /** The receptionist's answer: agent null = not listed; failed = the ask itself failed (says nothing). */
  record HostFound(String host, ActorRef<HostAgent.Command> agent, boolean failed) implements Command {}

  /** fromWatch: the watched agent terminated (else: not registered while every member is reachable). */
  record HostLost(String host, String why, boolean fromWatch) implements Command {}

  enum Recovered implements Command { INSTANCE }

  public enum Passivate implements Command { INSTANCE }

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Protection");

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ec -> create(ec.getEntityId(), ec.getShard()))
        .withRole("coordinator").withStopMessage(Passivate.INSTANCE));
  }

  public static Behavior<Command> create(String guestId, ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.withMdc(Command.class, Map.of("guestId", guestId), Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new ProtectionCoordinator(ctx, timers, guestId, shard))));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String guestId;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final CoordinatorSettings settings;
  private final ActorRef<ProtectionHostReply> hostReplies;
  private ProtectionRules.Progress progress = new ProtectionRules.Progress();
  private final Map<String, ActorRef<HostAgent.Command>> agents = new HashMap<>();
  private final Map<String, Long> missingSince = new HashMap<>();
  private final Map<String, Long> lastLookup = new HashMap<>();
  /** Hosts whose current agent (as found) has answered: only its termination says the host is gone. */
  private final java.util.Set<String> heardFrom = new java.util.HashSet<>();
  private static final Duration LOOKUP_SPACING = Duration.ofMillis(250);
  private int idleTicks;

  private ProtectionCoordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, String guestId,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    super(PersistenceId.of(TYPE_KEY.name(), guestId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.guestId = guestId;
    this.shard = shard;
    this.settings = CoordinatorSettings.fromConfig(ctx.getSystem().settings().config());
    this.hostReplies = ctx.messageAdapter(ProtectionHostReply.class, FromHost::new);
  }

  @Override
  public Protection emptyState() {
    return Protection.EMPTY;
  }

  @Override
  public SignalHandler<Protection> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), s -> {
      progress = new ProtectionRules.Progress();
      timers.startTimerWithFixedDelay("tick", Tick.INSTANCE, resendInterval());
      if (s.started()) ctx.getSelf().tell(Recovered.INSTANCE);
    }).build();
  }

  private Duration resendInterval() {
    return ctx.getSystem().settings().config().getDuration("livemig.coordinator.protection-resend-interval");
  }

  @Override
  public CommandHandler<Command, ProtectionEvent, Protection> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(Protect.class, (s, c) -> answer(s, ProtectionRules.protect(s, progress, guestId, c.request()),
            c.replyTo()))
        .onCommand(Op.class, (s, c) -> switch (c.kind()) {
          case STATUS -> {
            c.replyTo().tell(reply(s));
            yield Effect().none();
          }
          case UNPROTECT -> answer(s, ProtectionRules.unprotect(s, guestId, c.reason()), c.replyTo());
          case FAILOVER -> answer(s, ProtectionRules.failover(s, guestId, c.reason()), c.replyTo());
        })
        .onCommand(FromHost.class, (s, c) -> {
          heardFrom.add(c.reply().getHost());
          ProtectionRules.Outcome o = ProtectionRules.onReply(s, progress, c.reply());
          ProtectionEvent located = located(s, c.reply());
          if (located == null) return act(s, o);
          List<ProtectionEvent> events = new ArrayList<>(List.of(located));
          events.addAll(o.events());
          return persist(new ProtectionRules.Outcome(null, events));
        })
        .onCommand(HostLost.class, (s, c) -> {
          agents.remove(c.host());
          if (progress.lostHosts.contains(c.host())) return Effect().none();
          if (c.fromWatch() && !heardFrom.contains(c.host())) {
            // After a host's restart the receptionist lists its dead incarnation's agent for a
            // while: a watch on it ends at once and says nothing about the live one. Look again.
            ctx.getLog().info("protection of {}: the agent found for {} was gone before it answered; looking again",
                guestId, c.host());
            return Effect().none();
          }
          ctx.getLog().warn("protection of {}: host {} lost ({})", guestId, c.host(), c.why());
          return act(s, ProtectionRules.onHostLost(s, progress, c.host()));
        })
        .onCommand(HostFound.class, (s, c) -> found(s, c))
        .onCommand(Tick.class, (s, c) -> tick(s))
        .onCommand(Recovered.class, (s, c) -> {
          progress.takenOver = true;
          if (!s.active()) {
            sendPending(s);
            return Effect().none();
          }
          long epoch = s.epoch() + 1;
          ctx.getLog().warn("protection of {}: coordinator took over in {} with epoch {}", guestId, s.state(), epoch);
          return Effect().persist(ProtectionEvent.newBuilder().setAtEpochMs(System.currentTimeMillis())
              .setRestarted(ProtectionRestarted.newBuilder().setEpoch(epoch)).build()).thenRun(this::sendPending);
        })
        .onCommand(Passivate.class, (s, c) -> Effect().stop())
        .build();
  }

  private Effect<ProtectionEvent, Protection> answer(Protection s, ProtectionRules.Outcome o,
      ActorRef<ProtectionReply> replyTo) {
    if (o.refusal() != null) {
      replyTo.tell(ProtectionReply.newBuilder().setRefusal(o.refusal()).build());
      return Effect().none();
    }
    if (o.events().isEmpty()) {
      replyTo.tell(reply(s));
      return Effect().none();
    }
    if (o.events().get(0).hasRequested()) progress = new ProtectionRules.Progress(); // a new generation
    return persist(o).thenRun(st -> replyTo.tell(reply(st)));
  }

  private Effect<ProtectionEvent, Protection> act(Protection s, ProtectionRules.Outcome o) {
    if (o.events().isEmpty()) {
      sendPending(s); // an answer may owe the next step
      return Effect().none();
    }
    return persist(o);
  }

  private akka.persistence.typed.javadsl.EffectBuilder<ProtectionEvent, Protection> persist(ProtectionRules.Outcome o) {
    return Effect().persist(o.events()).thenRun(st -> {
      ctx.getLog().info("protection of {} (generation {}, epoch {}): {}{}", guestId, st.generation(), st.epoch(),
          st.state(), st.reason().isEmpty() ? "" : ": " + st.reason());
      sendPending(st);
    });
  }

  private ProtectionReply reply(Protection s) {
    return ProtectionReply.newBuilder().setInfo(ProtectionStatus.info(s, progress)).build();
  }

  /** Sends what the hosts are owed; a host not found yet is looked up (and watched once found). Returns whether anything was. */
  private boolean sendPending(Protection s) {
    List<ProtectionRules.Send> owed = ProtectionRules.pending(s, progress);
    for (ProtectionRules.Send send : owed) {
      ActorRef<HostAgent.Command> agent = agents.get(send.host());
      if (agent != null) agent.tell(new HostAgent.ProtectionControl(send.command(), hostReplies));
      else lookUp(send.host());
    }
    return !owed.isEmpty();
  }

  /** A host answered this generation from a node address the journal does not have yet: journal it. */
  private ProtectionEvent located(Protection s, ProtectionHostReply r) {
    if (!r.getOk() || !r.getAnswered() || r.getGeneration() != s.generation() || !s.active()) return null;
    String address = r.getNodeAddress(); // the host's own: a ref's path on this node has no host and port
    if (address.isEmpty() || address.equals(s.address(r.getHost()))) return null;
    return ProtectionEvent.newBuilder().setAtEpochMs(System.currentTimeMillis()).setLocated(
        org.livemig.messages.HostLocated.newBuilder().setHost(r.getHost()).setAddress(address)).build();
  }

  /**
   * A host this generation reached at a node address that is no longer a member of the cluster
   * (downed and removed, as this node sees it once it is Up itself): gone, with that process. In
   * an ended protection that only means it owes no answer to the End any more.
   */
  private void checkMembership(Protection s) {
    akka.cluster.typed.Cluster cluster = akka.cluster.typed.Cluster.get(ctx.getSystem());
    if (cluster.selfMember().status() != akka.cluster.MemberStatus.up()) return;
    for (String host : new String[] {s.primary(), s.secondary()}) {
      String address = s.address(host);
      if (address == null || progress.lostHosts.contains(host)) continue;
      boolean member = false;
      for (akka.cluster.Member m : cluster.state().getMembers()) {
        // Downed but not yet removed still counts as there: its agent may not have stopped its guests yet.
        if (m.address().toString().equals(address) && m.status() != akka.cluster.MemberStatus.removed()) member = true;
      }
      if (!member) ctx.getSelf().tell(new HostLost(host, "its node " + address + " is no longer a member", false));
    }
  }

  private Effect<ProtectionEvent, Protection> tick(Protection s) {
    if (s.started()) checkMembership(s);
    if (s.active()) {
      // Watch both hosts while anything may still depend on them: their loss is a decision.
      for (String host : new String[] {s.primary(), s.secondary()}) {
        if (!agents.containsKey(host) && !progress.lostHosts.contains(host)) lookUp(host);
      }
    }
    boolean owed = sendPending(s);
    idleTicks = s.active() || owed ? 0 : idleTicks + 1;
    long idleFor = idleTicks * resendInterval().toMillis();
    if (shard != null && idleFor >= settings.passivateAfterEnd().toMillis()) {
      shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
    }
    return Effect().none();
  }

  private void lookUp(String host) {
    long now = System.nanoTime();
    Long last = lastLookup.get(host);
    if (last != null && now - last < LOOKUP_SPACING.toNanos()) return; // one is under way, or a stale answer just came
    lastLookup.put(host, now);
    ctx.ask(Receptionist.Listing.class, ctx.getSystem().receptionist(), settings.hostLookupTimeout(),
        r -> Receptionist.find(HostAgent.serviceKey(host), r),
        (listing, err) -> new HostFound(host, listing == null ? null : HostLookup.agentIn(listing, host), listing == null));
  }

  private Effect<ProtectionEvent, Protection> found(Protection s, HostFound c) {
    if (c.agent() != null) {
      missingSince.remove(c.host());
      if (!c.agent().equals(agents.get(c.host()))) {
        agents.put(c.host(), c.agent());
        heardFrom.remove(c.host());
        ctx.watchWith(c.agent(), new HostLost(c.host(), "its host agent stopped or its node left the cluster", true));
        sendPending(s);
      }
      return Effect().none();
    }
    if (c.failed()) return Effect().none(); // no answer is no news: asked again at the next tick
    // Not listed. A host this generation never reached may not exist at all: after the lookup
    // timeout the request ends, naming it. One it reached is lost only by the watch on its agent,
    // its node leaving the membership, or its saying it no longer holds the guest.
    long since = missingSince.computeIfAbsent(c.host(), h -> System.nanoTime());
    if (System.nanoTime() - since > settings.hostLookupTimeout().toNanos()) {
      return act(s, ProtectionRules.onHostNotFound(s, progress, c.host(), "is not registered in the cluster (looked up "
          + "for " + settings.hostLookupTimeout().toSeconds() + " s)"));
    }
    return Effect().none();
  }

  @Override
  public EventHandler<Protection, ProtectionEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(Protection::apply);
  }
}
