package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import java.util.HashMap;
import java.util.Map;
import java.util.SortedMap;

/**
 * A host's outbound link (livemig.host.max-bandwidth), shared by the migrations leaving it: each
 * migration joins while its streams send (precopy rounds, the final copy, the postcopy push; a
 * disk stream would draw from the same share) and leaves when they end. Every join, leave and cap
 * change divides the link again (LinkShares) and tells each member whose share changed, at once.
 * A member that stops without leaving (a failure, the host going down) is watched and leaves.
 */
public final class HostBandwidth {

  public interface Command {}

  /**
   * A migration's streams start sending, under its own cap (0 = none); its share goes to replyTo
   * now and on every change. Joining again replaces the cap and replyTo.
   */
  public record Join(String migrationId, long capBytesPerSecond, ActorRef<Share> replyTo) implements Command {}

  /** The migration's own cap changed (SetParameters). */
  public record CapChanged(String migrationId, long capBytesPerSecond) implements Command {}

  /** The migration's streams ended (or paused): its share goes to the others. Idempotent. */
  public record Leave(String migrationId) implements Command {}

  /** The shares now (operators, tests). */
  public record GetShares(ActorRef<SortedMap<String, Long>> replyTo) implements Command {}

  private record MemberStopped(String migrationId, ActorRef<Share> replyTo) implements Command {}

  /** What the migration may send at now, in bytes per second over all its streams; 0 = unlimited. */
  public record Share(String migrationId, long bytesPerSecond) {}

  private record Member(long cap, ActorRef<Share> replyTo) {}

  public static Behavior<Command> create(String hostId, long hostCap) {
    return Behaviors.setup(ctx -> new HostBandwidth(ctx, hostId, hostCap).sharing());
  }

  private final ActorContext<Command> ctx;
  private final String hostId;
  private final long hostCap;
  private final Map<String, Member> members = new HashMap<>();
  /** Replaced, never changed in place: GetShares hands it out. */
  private SortedMap<String, Long> shares = java.util.Collections.emptySortedMap();

  private HostBandwidth(ActorContext<Command> ctx, String hostId, long hostCap) {
    this.ctx = ctx;
    this.hostId = hostId;
    this.hostCap = hostCap;
  }

  private Behavior<Command> sharing() {
    return Behaviors.receive(Command.class)
        .onMessage(Join.class, m -> {
          Member before = members.put(m.migrationId(), new Member(m.capBytesPerSecond(), m.replyTo()));
          boolean newMember = before == null || !before.replyTo().equals(m.replyTo());
          if (newMember) {
            if (before != null) ctx.unwatch(before.replyTo());
            ctx.watchWith(m.replyTo(), new MemberStopped(m.migrationId(), m.replyTo()));
          }
          divide(m.migrationId() + " joined", newMember ? m.migrationId() : null); // a new member hears its share
          return Behaviors.same();
        })
        .onMessage(CapChanged.class, m -> {
          Member member = members.get(m.migrationId());
          if (member != null && member.cap() != m.capBytesPerSecond()) {
            members.put(m.migrationId(), new Member(m.capBytesPerSecond(), member.replyTo()));
            divide(m.migrationId() + "'s own cap is now " + m.capBytesPerSecond() + " B/s", null);
          }
          return Behaviors.same();
        })
        .onMessage(Leave.class, m -> {
          Member member = members.remove(m.migrationId());
          if (member != null) {
            ctx.unwatch(member.replyTo());
            divide(m.migrationId() + " left", null);
          }
          return Behaviors.same();
        })
        .onMessage(MemberStopped.class, m -> {
          Member member = members.get(m.migrationId());
          if (member != null && member.replyTo().equals(m.replyTo())) {
            members.remove(m.migrationId());
            divide(m.migrationId() + " stopped without leaving", null);
          }
          return Behaviors.same();
        })
        .onMessage(GetShares.class, m -> {
          m.replyTo().tell(shares);
          return Behaviors.same();
        })
        .build();
  }

  /** Divides the link again and tells every member whose share changed (and tellAnyway, a new member). */
  private void divide(String why, String tellAnyway) {
    Map<String, Long> caps = new HashMap<>();
    members.forEach((id, m) -> caps.put(id, m.cap()));
    SortedMap<String, Long> next = java.util.Collections.unmodifiableSortedMap(LinkShares.divide(hostCap, caps));
    for (var e : next.entrySet()) {
      if (!e.getValue().equals(shares.get(e.getKey())) || e.getKey().equals(tellAnyway)) {
        members.get(e.getKey()).replyTo().tell(new Share(e.getKey(), e.getValue()));
      }
    }
    boolean changed = !next.equals(shares);
    shares = next;
    if (changed && hostCap > 0) {
      ctx.getLog().info("host {} link of {} B/s: {}; shares now {}", hostId, hostCap, why, next);
    } else if (changed) {
      ctx.getLog().debug("host {} link without a cap: {}; own caps {}", hostId, why, next);
    }
  }
}
