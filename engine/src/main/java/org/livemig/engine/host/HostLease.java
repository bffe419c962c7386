package org.livemig.engine.host;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.Cluster;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.livemig.engine.common.LivemigMessage;

/**
 * A host's lease to run guests whose ownership is in question: valid until a lease after the
 * moment a ping went out that a majority of the cluster's Up members answered. Measured from
 * when the ping was sent, on this host's monotonic clock, so a process that was frozen (SIGSTOP,
 * a long GC pause) or cut off comes back with an expired lease and cannot renew it without a
 * fresh answer from a majority, which a node the majority has downed never gets. Before the
 * destination runs a migrated guest it waits for a valid lease: the cluster may have taken this
 * host as gone and resumed the source meanwhile (found by the chaos harness: a destination
 * frozen in Finish ran the guest after SIGCONT while the source ran again).
 */
public final class HostLease {
  /** Every node answers pings here (EngineNode spawns the responder under the guardian). */
  public static final String RESPONDER_NAME = "lease";
  static final String RESPONDER_PATH = "/user/" + RESPONDER_NAME;

  public record Ping(ActorRef<Pong> replyTo, long sentNanos) implements LivemigMessage {}

  /** The answer, with the address of the node that gave it. */
  public record Pong(long sentNanos, String address) implements LivemigMessage {}

  private final long leaseNanos;
  private volatile long validUntilNanos;
  private final boolean always;
  private volatile long lastWaitLogNanos = System.nanoTime() - 2_000_000_000L;

  private HostLease(long leaseNanos, boolean always) {
    this.leaseNanos = leaseNanos;
    this.always = always;
    this.validUntilNanos = System.nanoTime() - 1; // expired until a majority answers
  }

  static HostLease of(java.time.Duration lease) {
    return new HostLease(lease.toNanos(), false);
  }

  /** A host without a cluster (tests): nobody else can run its guests. */
  static HostLease always() {
    return new HostLease(0, true);
  }

  boolean valid() {
    return always || System.nanoTime() - validUntilNanos < 0;
  }

  /**
   * The lease from the members' answers: acked maps each member that answered to the newest
   * send time it answered; with up members (this node among them, answering at selfNanos), it
   * holds until the newest send time a majority answered, plus the lease.
   */
  static long validUntil(Collection<Address> up, Address self, Map<Address, Long> acked, long selfNanos,
      long leaseNanos) {
    List<Long> times = new ArrayList<>();
    for (Address a : up) {
      Long t = a.equals(self) ? Long.valueOf(selfNanos) : acked.get(a);
      if (t != null) times.add(t);
    }
    int majority = up.size() / 2 + 1;
    if (up.isEmpty() || times.size() < majority) return Long.MIN_VALUE;
    times.sort((x, y) -> Long.compare(y, x)); // newest first (nanoTime differences, no overflow here)
    return times.get(majority - 1) + leaseNanos;
  }

  /**
   * May the guest of this command run now? If not, the command comes back to the actor in a
   * moment (said in the log at most once a second); a discard meanwhile ends the wait.
   */
  <T> boolean held(akka.actor.typed.javadsl.ActorContext<T> ctx, T retry, String migrationId) {
    if (valid()) return true;
    long now = System.nanoTime();
    if (now - lastWaitLogNanos > 1_000_000_000L) {
      lastWaitLogNanos = now;
      ctx.getLog().warn("{}: no valid lease (this host was cut off or frozen): the guest runs once a majority of "
          + "the cluster answers again", migrationId);
    }
    ctx.scheduleOnce(java.time.Duration.ofMillis(50), ctx.getSelf(), retry);
    return false;
  }

  void renew(long untilNanos) {
    if (untilNanos != Long.MIN_VALUE && untilNanos - validUntilNanos > 0) validUntilNanos = untilNanos;
  }

  long leaseNanos() {
    return leaseNanos;
  }

  /** On every node: answers pings at once. */
  public static Behavior<Ping> responder() {
    return Behaviors.setup(ctx -> {
      String self = Cluster.get(ctx.getSystem()).selfMember().address().toString();
      return Behaviors.receiveMessage(p -> {
        p.replyTo().tell(new Pong(p.sentNanos(), self));
        return Behaviors.same();
      });
    });
  }
}
