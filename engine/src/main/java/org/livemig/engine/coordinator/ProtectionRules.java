package org.livemig.engine.coordinator;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.livemig.engine.common.Ids;
import org.livemig.messages.DescribeProtected;
import org.livemig.messages.EndProtection;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.FailoverDecided;
import org.livemig.messages.FailoverRequest;
import org.livemig.messages.FailedOver;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.PrepareSecondary;
import org.livemig.messages.PrimaryLost;
import org.livemig.messages.PrimaryStopped;
import org.livemig.messages.ProtectGuest;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionDegraded;
import org.livemig.messages.ProtectionEnded;
import org.livemig.messages.ProtectionEvent;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionRequested;
import org.livemig.messages.ProtectionRole;
import org.livemig.messages.ProtectionState;
import org.livemig.messages.Refusal;
import org.livemig.messages.ReplicationStarted;
import org.livemig.messages.ReplicationStatusReport;
import org.livemig.messages.SecondaryCookie;
import org.livemig.messages.StartPrimary;
import org.livemig.messages.StopPrimary;

/**
 * A protection's decisions as plain functions (ProtectionCoordinator persists and sends): what an
 * operator's command, a host's answer or report, or a lost host changes, and which commands the
 * hosts are owed in each state. Commands are re-sent until answered; hosts answer repeats alike.
 *
 * <p>Who runs the guest: the primary, until a failover is persisted. The secondary runs it only
 * after that, and only once the primary is stopped, its host has left the cluster (a host cut
 * off from the majority pauses its protected guests itself, see Fence), or its lease ran out
 * (the secondary's PrimaryLeaseOut: without an ack the primary pauses the guest itself, and the
 * secondary, whose stream ended, acknowledges nothing more). A primary that reports its
 * replication failed is alive: the protection degrades, it does not fail over; its lease may
 * have paused the guest meanwhile, and the End it is sent then is its word to run it again.
 */
public final class ProtectionRules {
  private ProtectionRules() {}

  /** What one incarnation learned from the hosts and does not journal: lost with a crash, asked again. */
  public static final class Progress {
    GuestDescription description;
    SecondaryCookie cookie;
    boolean primaryStarted;
    ReplicationStatusReport status;
    String streamEnded;
    final Set<String> endedOn = new HashSet<>();
    final Set<String> lostHosts = new HashSet<>();
    /** This incarnation took over from an earlier one: the hosts may hold more than it has heard. */
    boolean takenOver;
    /** The secondary answered a reattach (with its copy's cookie, or that it holds none). */
    boolean reattached;
  }

  /** A refusal (nothing changes), or the events to persist (possibly none). */
  public record Outcome(Refusal refusal, List<ProtectionEvent> events) {
    static Outcome refuse(ErrorKind kind, String field, String message) {
      return new Outcome(Refusal.newBuilder().setKind(kind).setField(field).setMessage(message).build(), List.of());
    }

    static Outcome of(ProtectionEvent.Builder... events) {
      List<ProtectionEvent> list = new ArrayList<>();
      long now = System.currentTimeMillis();
      for (ProtectionEvent.Builder e : events) list.add(e.setAtEpochMs(now).build());
      return new Outcome(null, list);
    }

    static Outcome nothing() {
      return new Outcome(null, List.of());
    }
  }

  /** One command for one host. */
  public record Send(String host, ProtectionCommand command) {}

  public static Outcome protect(Protection s, Progress p, String entityGuestId, ProtectGuest r) {
    for (String[] f : new String[][] {{"guest_id", r.getGuestId()}, {"primary_host", r.getPrimaryHost()},
        {"secondary_host", r.getSecondaryHost()}}) {
      String problem = Ids.problem(f[0], f[1]);
      if (problem != null) return Outcome.refuse(ErrorKind.ERROR_INVALID_REQUEST, f[0], problem);
    }
    if (!r.getGuestId().equals(entityGuestId)) {
      return Outcome.refuse(ErrorKind.ERROR_INVALID_REQUEST, "guest_id", "guest_id " + r.getGuestId()
          + " is not the guest this protection is for (" + entityGuestId + ")");
    }
    if (r.getPrimaryHost().equals(r.getSecondaryHost())) {
      return Outcome.refuse(ErrorKind.ERROR_INVALID_REQUEST, "secondary_host", "invalid request: the secondary host "
          + "must differ from the primary host " + r.getPrimaryHost());
    }
    if (r.getIntervalMs() != 0 && (r.getIntervalMs() < 5 || r.getIntervalMs() > 60_000)) {
      return Outcome.refuse(ErrorKind.ERROR_INVALID_REQUEST, "interval_ms", "invalid request: interval_ms must be "
          + "5..60000 (0 = the host's default): " + r.getIntervalMs());
    }
    if (s.active()) {
      if (s.request().equals(r)) return Outcome.nothing(); // the same request again: answered with the status
      return Outcome.refuse(ErrorKind.ERROR_CONFLICT, "", "guest " + s.guestId() + " is already protected ("
          + s.state() + ", " + s.primary() + " -> " + s.secondary() + "): unprotect it first");
    }
    List<Send> owed = pending(s, p);
    if (!owed.isEmpty()) { // the last protection's hosts have not all confirmed its end (its copy destroyed)
      return Outcome.refuse(ErrorKind.ERROR_CONFLICT, "", "the previous protection of " + s.guestId() + " (generation "
          + s.generation() + ", " + s.state() + ") is still ending: waiting for " + owed.stream().map(Send::host)
          .distinct().toList() + " to confirm; try again (a host that left the cluster is not waited for)");
    }
    return Outcome.of(ProtectionEvent.newBuilder().setRequested(ProtectionRequested.newBuilder().setRequest(r)
        .setGeneration(s.generation() + 1)));
  }

  /**
   * A host never answered this generation (no address journalled) and the receptionist does not
   * list it: nothing can have started, so the request ends, naming it. An ended protection stops
   * waiting for such a host's answer to its End.
   */
  public static Outcome onHostNotFound(Protection s, Progress p, String host, String why) {
    // Ended: a host not registered holds nothing of it in memory; its End is owed no more. Not so
    // a primary its lease stopped: unlisted may be cut off, its paused copy to be destroyed still.
    if (!s.active() && !(host.equals(s.primary()) && primaryHoldsPaused(s))) p.lostHosts.add(host);
    if (s.state() != ProtectionState.SYNCING || s.address(host) != null) return Outcome.nothing();
    p.lostHosts.add(host);
    return Outcome.of(ProtectionEvent.newBuilder().setEnded(ProtectionEnded.newBuilder()
        .setState(ProtectionState.UNPROTECTED).setReason("protection refused: host " + host + " " + why)));
  }

  public static Outcome unprotect(Protection s, String guestId, String reason) {
    if (!s.started()) return unknown(guestId);
    return switch (s.state()) {
      case SYNCING, REPLICATING, DEGRADED -> Outcome.of(ProtectionEvent.newBuilder().setEnded(ProtectionEnded
          .newBuilder().setState(ProtectionState.UNPROTECTED).setReason(reason.isEmpty() ? "unprotected" : reason)));
      // Its lease stopped the primary and nothing was failed over: ending lets it run on.
      case FAILOVER_WAITING -> primaryHoldsPaused(s) ? Outcome.of(ProtectionEvent.newBuilder().setEnded(
          ProtectionEnded.newBuilder().setState(ProtectionState.UNPROTECTED).setReason(reason.isEmpty()
              ? "unprotected: the primary " + s.primary() + " runs on" : reason)))
          : Outcome.refuse(ErrorKind.ERROR_CONFLICT, "", "the primary of " + s.guestId()
          + " is lost: only a failover can keep the guest (its copy on " + s.secondary() + ")");
      case FAILING_OVER -> Outcome.refuse(ErrorKind.ERROR_CONFLICT, "", "guest " + s.guestId() + " is failing over");
      default -> Outcome.nothing(); // over already
    };
  }

  /** An operator's failover: the primary is stopped first unless its host is gone. */
  public static Outcome failover(Protection s, String guestId, String reason) {
    if (!s.started()) return unknown(guestId);
    String why = reason.isEmpty() ? "failover requested by an operator" : reason;
    return switch (s.state()) {
      case FAILOVER_WAITING -> decide(s, why, s.primaryGone(), s.primaryLeaseOut());
      case REPLICATING -> decide(s, why, false, false);
      case SYNCING -> Outcome.refuse(ErrorKind.ERROR_CONFLICT, "", "the secondary of " + s.guestId()
          + " holds no whole checkpoint yet: nothing to fail over to");
      case FAILING_OVER -> Outcome.nothing();
      default -> Outcome.refuse(ErrorKind.ERROR_CONFLICT, "", "guest " + s.guestId() + " is not protected (" + s.state()
          + (s.reason().isEmpty() ? "" : ": " + s.reason()) + ")");
    };
  }

  private static Outcome decide(Protection s, String reason, boolean primaryGone, boolean leaseOut) {
    return Outcome.of(ProtectionEvent.newBuilder().setFailoverDecided(FailoverDecided.newBuilder()
        .setEpoch(s.epoch() + 1).setReason(reason).setPrimaryGone(primaryGone).setPrimaryLeaseOut(leaseOut)));
  }

  /**
   * The secondary's stream ended and the primary's lease has run out since: the primary has the
   * guest paused (or is dead) and cannot run it again without this coordinator's word, so the
   * copy may take over now instead of once the cluster removes the primary's host.
   */
  private static Outcome onLeaseOut(Protection s, org.livemig.messages.PrimaryLeaseOut l) {
    if (!s.replicating()) return Outcome.nothing(); // degraded (the primary spoke first), or a failover under way
    String why = "the primary " + s.primary() + " fell silent (checkpoint stream ended: " + l.getStreamEnded()
        + ") and its lease ran out " + l.getLeaseMs() + " ms after checkpoint " + l.getCheckpoint();
    return s.request().getManualFailover()
        ? Outcome.of(ProtectionEvent.newBuilder().setPrimaryLost(PrimaryLost.newBuilder().setLeaseOut(true)
            .setReason(why + ": waiting for an operator's failover")))
        : decide(s, why, false, true);
  }

  private static Outcome unknown(String guestId) {
    return Outcome.refuse(ErrorKind.ERROR_UNKNOWN_GUEST, "", "guest " + guestId + " has never been protected");
  }

  /** A host left the cluster (removed, or not registered while every member is reachable). */
  public static Outcome onHostLost(Protection s, Progress p, String host) {
    p.lostHosts.add(host);
    boolean primary = host.equals(s.primary());
    boolean secondary = host.equals(s.secondary());
    switch (s.state()) {
      case SYNCING, REPLICATING:
        if (primary) {
          String why = "primary host " + host + " left the cluster";
          return s.request().getManualFailover()
              ? Outcome.of(ProtectionEvent.newBuilder().setPrimaryLost(PrimaryLost.newBuilder().setReason(why
                  + ": waiting for an operator's failover")))
              : decide(s, why, true, false);
        }
        if (secondary) return degraded("secondary host " + host + " left the cluster");
        return Outcome.nothing();
      case FAILOVER_WAITING:
        if (secondary) return lostOrPrimaryRunsOn(s, "the secondary host " + host + " left the cluster too");
        return primary && !s.primaryStopped() ? primaryStopped() : Outcome.nothing();
      case FAILING_OVER:
        if (primary && !s.primaryStopped()) return primaryStopped();
        return secondary ? lostOrPrimaryRunsOn(s, "the secondary host " + host + " left the cluster during the failover")
            : Outcome.nothing();
      case FAILED_OVER: // a lease-out failover: the old primary's paused copy went with its host
        return primary && !s.primaryStopped() ? primaryStopped() : Outcome.nothing();
      default:
        return Outcome.nothing();
    }
  }

  /** A host's answer or report. */
  public static Outcome onReply(Protection s, Progress p, ProtectionHostReply r) {
    if (r.getGeneration() != s.generation() || !s.started()) return Outcome.nothing(); // an older protection's
    if (r.getAnswered() && r.getEpoch() != s.epoch()) return Outcome.nothing(); // an older incarnation's command
    if (r.getRole() == ProtectionRole.SECONDARY && r.hasLeaseOut()) return onLeaseOut(s, r.getLeaseOut());
    if (r.getRole() == ProtectionRole.SECONDARY && r.hasStreamEnded()) {
      p.streamEnded = r.getStreamEnded(); // the primary's side decides (its report, or its host leaving)
      return Outcome.nothing();
    }
    if (r.hasEnded()) {
      if (r.getOk()) p.endedOn.add(r.getHost());
      return Outcome.nothing();
    }
    if (r.getAnswered() && r.getOk() && r.getHost().equals(s.secondary()) && r.getRole() == ProtectionRole.ROLE_NONE) {
      p.reattached = true; // no copy there (a reattach): the handshake prepares one as usual
      return Outcome.nothing();
    }
    if (!r.getOk()) return onError(s, p, r);
    switch (r.getReplyCase()) {
      case DESCRIBED -> p.description = r.getDescribed();
      case COOKIE -> {
        p.cookie = r.getCookie();
        p.reattached = true;
      }
      case STATUS -> {
        if (r.getAnswered()) p.primaryStarted = true;
        return onStatus(s, p, r.getStatus());
      }
      case FAILED_OVER -> {
        if (s.state() == ProtectionState.FAILING_OVER) {
          return Outcome.of(ProtectionEvent.newBuilder().setFailedOver(FailedOver.newBuilder()
              .setResult(r.getFailedOver())));
        }
      }
      default -> {
        boolean failing = s.state() == ProtectionState.FAILING_OVER || s.state() == ProtectionState.FAILED_OVER;
        if (r.getRole() == ProtectionRole.PRIMARY && failing && !s.primaryStopped()) return primaryStopped();
      }
    }
    return Outcome.nothing();
  }

  private static Outcome onStatus(Protection s, Progress p, ReplicationStatusReport status) {
    p.status = status;
    if (!s.replicating()) return Outcome.nothing();
    if (status.getState().equals("FAILED")) {
      return degraded("replication to the secondary " + s.secondary() + " failed on the primary " + s.primary() + ": "
          + status.getFailure());
    }
    if (s.state() == ProtectionState.SYNCING && status.getCheckpoints() > 0) {
      return Outcome.of(ProtectionEvent.newBuilder().setReplicating(ReplicationStarted.getDefaultInstance()));
    }
    return Outcome.nothing();
  }

  private static Outcome onError(Protection s, Progress p, ProtectionHostReply r) {
    String why = r.getHost() + " refused: " + r.getError();
    if (s.state() == ProtectionState.FAILING_OVER && r.getRole() == ProtectionRole.SECONDARY) {
      return lostOrPrimaryRunsOn(s, "the failover failed on " + r.getHost() + ": " + r.getError());
    }
    if (!s.replicating()) return Outcome.nothing();
    // The primary no longer holds the guest (its host restarted, the guest lost with the old
    // process): nothing runs there. If it may have been protected, the copy is all there is.
    if (r.getHost().equals(s.primary()) && r.getErrorKind() == ErrorKind.ERROR_UNKNOWN_GUEST
        && (s.state() == ProtectionState.REPLICATING || p.primaryStarted || p.takenOver)) {
      return onHostLost(s, p, s.primary());
    }
    // Before any checkpoint was acknowledged nothing is protected yet: the request failed.
    if (s.state() == ProtectionState.SYNCING && !p.primaryStarted) {
      return Outcome.of(ProtectionEvent.newBuilder().setEnded(ProtectionEnded.newBuilder()
          .setState(ProtectionState.UNPROTECTED).setReason("protection refused: " + why)));
    }
    return degraded(why);
  }

  /** Its lease stopped the primary, which may hold the guest paused: neither gone nor stopped for good yet. */
  static boolean primaryHoldsPaused(Protection s) {
    return s.primaryLeaseOut() && !s.primaryGone() && !s.primaryStopped();
  }

  /**
   * The secondary cannot take over (it left, or its failover failed). If a lease-out decided the
   * failover, the primary may still hold the guest, paused: the protection degrades and the End
   * runs it again there (a secondary that left the cluster took whatever ran there with it).
   */
  private static Outcome lostOrPrimaryRunsOn(Protection s, String reason) {
    if (!primaryHoldsPaused(s)) return lost(reason);
    return degraded(reason + "; the primary " + s.primary() + " holds the guest, paused by its lease: it runs on there, "
        + "unprotected");
  }

  private static Outcome primaryStopped() {
    return Outcome.of(ProtectionEvent.newBuilder().setPrimaryStopped(PrimaryStopped.getDefaultInstance()));
  }

  private static Outcome degraded(String reason) {
    return Outcome.of(ProtectionEvent.newBuilder().setDegraded(ProtectionDegraded.newBuilder().setReason(reason)));
  }

  private static Outcome lost(String reason) {
    return Outcome.of(ProtectionEvent.newBuilder().setEnded(ProtectionEnded.newBuilder().setState(ProtectionState.LOST)
        .setReason(reason)));
  }

  /** What the hosts are owed in this state, given what they answered: sent now and re-sent until answered. */
  public static List<Send> pending(Protection s, Progress p) {
    List<Send> out = new ArrayList<>();
    switch (s.state()) {
      case SYNCING, REPLICATING -> {
        if (p.description == null) {
          out.add(to(s.primary(), command(s).setDescribe(DescribeProtected.getDefaultInstance())));
          // Taken over: the copy answers to this incarnation at once, so that its lease-out (the
          // primary dead meanwhile, never to describe the guest) reaches it.
          if (p.takenOver && p.cookie == null && !p.reattached) {
            out.add(to(s.secondary(), command(s).setPrepareSecondary(PrepareSecondary.newBuilder()
                .setPrimaryHost(s.primary()).setReattach(true))));
          }
        } else if (p.cookie == null) {
          out.add(to(s.secondary(), command(s).setPrepareSecondary(PrepareSecondary.newBuilder().setGuest(p.description)
              .setPrimaryHost(s.primary()))));
        } else if (!p.primaryStarted) {
          out.add(to(s.primary(), command(s).setStartPrimary(StartPrimary.newBuilder().setSecondary(p.cookie)
              .setSecondaryHost(s.secondary()).setIntervalMs(s.request().getIntervalMs()))));
        }
      }
      case FAILING_OVER, FAILED_OVER -> {
        // The primary is stopped first, unless gone; if its lease ran out, only once the copy runs
        // (its paused guest is what runs on should the failover fail).
        boolean failing = s.state() == ProtectionState.FAILING_OVER;
        if (!s.primaryStopped() && !(failing && s.primaryLeaseOut())) {
          out.add(to(s.primary(), command(s).setStopPrimary(StopPrimary.newBuilder().setReason(s.reason()))));
        }
        if (failing && (s.primaryStopped() || s.primaryLeaseOut())) {
          out.add(to(s.secondary(), command(s).setFailover(FailoverRequest.newBuilder().setOwnerToken(ownerToken(s)))));
        }
      }
      case DEGRADED, UNPROTECTED -> {
        out.add(to(s.primary(), command(s).setEnd(EndProtection.newBuilder().setReason(s.reason()))));
        out.add(to(s.secondary(), command(s).setEnd(EndProtection.newBuilder().setReason(s.reason()))));
      }
      case LOST -> out.add(to(s.secondary(), command(s).setEnd(EndProtection.newBuilder().setReason(s.reason()))));
      default -> {}
    }
    return out.stream().filter(x -> !p.lostHosts.contains(x.host()) && !(x.command().hasEnd() && p.endedOn.contains(x.host())))
        .toList();
  }

  /** Who may run the failed-over guest: this protection's decision, not a guessable host token. */
  static String ownerToken(Protection s) {
    return "protection:" + s.guestId() + ":" + s.generation() + ":" + s.epoch();
  }

  private static ProtectionCommand.Builder command(Protection s) {
    return ProtectionCommand.newBuilder().setGuestId(s.guestId()).setGeneration(s.generation()).setEpoch(s.epoch());
  }

  private static Send to(String host, ProtectionCommand.Builder command) {
    return new Send(host, command.build());
  }
}
