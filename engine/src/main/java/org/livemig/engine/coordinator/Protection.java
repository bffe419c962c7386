package org.livemig.engine.coordinator;

import org.livemig.messages.FailoverResult;
import org.livemig.messages.ProtectGuest;
import org.livemig.messages.ProtectionEvent;
import org.livemig.messages.ProtectionState;

/**
 * A guest's protection as its coordinator's journal says (the events of ProtectionEvent folded):
 * which generation of protect, between which hosts, in which state, under which epoch. What the
 * hosts reported and the unpersisted steps of the handshake are in ProtectionRules.Progress.
 *
 * @param primaryGone the primary's host left the cluster: nothing runs there any more
 * @param primaryStopped a forced failover's StopPrimary was answered (or the primary is gone)
 * @param primaryLeaseOut the secondary waited out the primary's lease (PrimaryLeaseOut): the
 *     primary cannot run the guest, so the failover need not wait for its stop
 * @param addresses host -> the node address it answered from in this generation (HostLocated)
 */
public record Protection(ProtectGuest request, long generation, long epoch, ProtectionState state, String reason,
    boolean primaryGone, boolean primaryStopped, boolean primaryLeaseOut, FailoverResult failover, long primaryLostAt, long failoverDecidedAt,
    long failedOverAt, java.util.Map<String, String> addresses) {

  public static final Protection EMPTY = new Protection(ProtectGuest.getDefaultInstance(), 0, 0,
      ProtectionState.PROTECTION_NONE, "", false, false, false, FailoverResult.getDefaultInstance(), 0, 0, 0, java.util.Map.of());

  /** The node address the host answered from (this generation), or null if it never answered. */
  public String address(String host) {
    return addresses.get(host);
  }

  public String guestId() {
    return request.getGuestId();
  }

  public String primary() {
    return request.getPrimaryHost();
  }

  public String secondary() {
    return request.getSecondaryHost();
  }

  public boolean started() {
    return state != ProtectionState.PROTECTION_NONE;
  }

  /** Replication runs or a failover is under way: the coordinator has hosts to drive. */
  public boolean active() {
    return switch (state) {
      case SYNCING, REPLICATING, FAILOVER_WAITING, FAILING_OVER -> true;
      default -> false;
    };
  }

  /** Replication runs (or is being set up) between the two hosts. */
  public boolean replicating() {
    return state == ProtectionState.SYNCING || state == ProtectionState.REPLICATING;
  }

  public Protection apply(ProtectionEvent e) {
    long at = e.getAtEpochMs();
    return switch (e.getEventCase()) {
      case REQUESTED -> new Protection(e.getRequested().getRequest(), e.getRequested().getGeneration(), epoch + 1,
          ProtectionState.SYNCING, "", false, false, false, FailoverResult.getDefaultInstance(), 0, 0, 0, java.util.Map.of());
      case LOCATED -> {
        var m = new java.util.HashMap<>(addresses);
        m.put(e.getLocated().getHost(), e.getLocated().getAddress());
        yield new Protection(request, generation, epoch, state, reason, primaryGone, primaryStopped, primaryLeaseOut,
            failover, primaryLostAt, failoverDecidedAt, failedOverAt, java.util.Map.copyOf(m));
      }
      case RESTARTED -> with(e.getRestarted().getEpoch(), state, reason);
      case REPLICATING -> with(epoch, ProtectionState.REPLICATING, "");
      case DEGRADED -> with(epoch, ProtectionState.DEGRADED, e.getDegraded().getReason());
      case PRIMARY_LOST -> {
        boolean gone = !e.getPrimaryLost().getLeaseOut(); // its host left; else it holds a paused copy to stop
        yield new Protection(request, generation, epoch, ProtectionState.FAILOVER_WAITING,
            e.getPrimaryLost().getReason(), gone, gone, !gone, failover, at, failoverDecidedAt, failedOverAt, addresses);
      }
      case FAILOVER_DECIDED -> {
        var d = e.getFailoverDecided();
        boolean gone = primaryGone || d.getPrimaryGone();
        boolean leaseOut = primaryLeaseOut || d.getPrimaryLeaseOut();
        yield new Protection(request, generation, d.getEpoch(), ProtectionState.FAILING_OVER, d.getReason(), gone,
            gone || primaryStopped, leaseOut, failover,
            primaryLostAt == 0 && (d.getPrimaryGone() || leaseOut) ? at : primaryLostAt, at, failedOverAt, addresses);
      }
      case PRIMARY_STOPPED -> new Protection(request, generation, epoch, state, reason, primaryGone, true, primaryLeaseOut,
          failover, primaryLostAt, failoverDecidedAt, failedOverAt, addresses);
      // A primary stopped by its lease may still hold its paused copy: stopped only once it says so or leaves.
      case FAILED_OVER -> new Protection(request, generation, epoch, ProtectionState.FAILED_OVER, reason, primaryGone,
          primaryStopped || !primaryLeaseOut, primaryLeaseOut, e.getFailedOver().getResult(), primaryLostAt,
          failoverDecidedAt, at, addresses);
      case ENDED -> with(epoch, e.getEnded().getState(), e.getEnded().getReason());
      case EVENT_NOT_SET -> this;
    };
  }

  private Protection with(long newEpoch, ProtectionState newState, String newReason) {
    return new Protection(request, generation, newEpoch, newState, newReason, primaryGone, primaryStopped,
        primaryLeaseOut, failover, primaryLostAt, failoverDecidedAt, failedOverAt, addresses);
  }
}
