package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.livemig.engine.dataplane.AppliedCheckpoint;
import org.livemig.engine.dataplane.CheckpointReceiver;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.replication.Failover;
import org.livemig.engine.security.DataToken;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.PrimaryLeaseOut;
import org.livemig.messages.FailoverResult;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionRole;
import org.livemig.messages.SecondaryCookie;
import org.livemig.messages.StreamKind;

/**
 * This host as the secondary of protections: a copy of each guest that never runs, filled by its
 * CHECKPOINT stream (registered alone on the data port, one-time token, only the primary's
 * certificate on TLS), until a failover runs it as a guest of this host or the protection ends
 * and it is destroyed. Plain code on the host agent's thread, for HostReplication.
 */
final class SecondaryCopies {
  private static final class Secondary {
    final long generation;
    final String dataId;
    final SyntheticGuest guest;
    final CheckpointReceiver receiver;
    final SecondaryCookie cookie;
    ActorRef<ProtectionHostReply> coordinator;
    long epoch;
    FailoverResult failedOver;
    String streamEnded; // why its stream ended, once it has
    PrimaryLeaseOut leaseOut; // the primary's lease ran out since: reported until the coordinator acts
    String filesRecord; // the ledger's record of its disk files, settled once their fate is known here

    Secondary(long generation, String dataId, SyntheticGuest guest, CheckpointReceiver receiver, SecondaryCookie cookie) {
      this.generation = generation;
      this.dataId = dataId;
      this.guest = guest;
      this.receiver = receiver;
      this.cookie = cookie;
    }
  }

  private final HostReplication.Parts host;
  private final Map<String, Secondary> secondaries = new HashMap<>();
  /** Copies that failed over: the answer to a repeated Failover (the copy is a guest of this host now). */
  private final Map<String, Secondary> failedOver = new HashMap<>();

  SecondaryCopies(HostReplication.Parts host) {
    this.host = host;
  }

  void prepare(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Secondary s = secondaries.get(id);
    if (s != null && s.generation == c.getGeneration()) {
      s.coordinator = replyTo;
      s.epoch = c.getEpoch();
      replyTo.tell(host.replies().ok(c, ProtectionRole.SECONDARY).setCookie(s.cookie).build());
      if (s.leaseOut != null) reportLeaseOuts(); // the new incarnation hears it now
      return;
    }
    if (c.getPrepareSecondary().getReattach()) { // no copy of it here: nothing to answer for, nothing made
      replyTo.tell(host.replies().ok(c, ProtectionRole.ROLE_NONE).build());
      return;
    }
    if (s != null) endSecondary(id, s); // an older protection's copy
    if (host.guests().get(id) != null) {
      replyTo.tell(host.replies().error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_CONFLICT, "guest " + id + " already exists on host "
          + host.settings().hostId() + ": it cannot keep a copy of it"));
      return;
    }
    var d = c.getPrepareSecondary().getGuest();
    String dataId = id + ".p" + c.getGeneration();
    SyntheticGuest copy;
    try {
      copy = host.guests().emptyCopy(d, host.settings().memoryCapacityBytes());
    } catch (RuntimeException | OutOfMemoryError e) {
      replyTo.tell(host.replies().error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_REFUSED, "cannot hold a copy of guest " + id
          + ": " + e.getMessage()));
      return;
    }
    long generation = c.getGeneration();
    CheckpointReceiver receiver = new CheckpointReceiver(dataId, copy, host.replication().checkpoints().maxCheckpointBytes(),
        host.settings().dataPlane(), new CheckpointReceiver.Listener() {
          @Override
          public void streamEnded(String reason, AppliedCheckpoint last) {
            host.ctx().getSelf().tell(new HostReplication.StreamEnded(id, generation, reason));
          }
        });
    String token = DataToken.newToken();
    host.dataPlane().expectStreamOnly(dataId, token, StreamKind.CHECKPOINT, receiver, c.getPrepareSecondary().getPrimaryHost());
    String dataHost = host.settings().dataEndpointHost();
    int port = host.settings().dataEndpointPort(host.dataPlane().port());
    s = new Secondary(generation, dataId, copy, receiver, SecondaryCookie.newBuilder().setDataHost(dataHost)
        .setDataPort(port).setToken(token).build());
    s.coordinator = replyTo;
    s.epoch = c.getEpoch();
    if (d.getDisksCount() > 0) {
      // Recorded so that a restart that finds them (the copy died with the process) deletes them.
      var files = LeftoverDiskFiles.created(dataId, copy);
      s.filesRecord = files.getMigrationId();
      host.ledger().tell(new HostLedger.Record(HostLedger.filesCreated(files)));
    }
    secondaries.put(id, s);
    host.ctx().getLog().info("secondary of guest {} (generation {}) prepared: {} pages, checkpoint stream on {}:{}", id,
        generation, d.getPageCount(), dataHost, port);
    replyTo.tell(host.replies().ok(c, ProtectionRole.SECONDARY).setCookie(s.cookie).build());
  }

  void failover(ProtectionCommand c, ActorRef<ProtectionHostReply> replyTo) {
    String id = c.getGuestId();
    Secondary done = failedOver.get(id);
    if (done != null && done.generation == c.getGeneration()) {
      replyTo.tell(host.replies().ok(c, ProtectionRole.SECONDARY).setFailedOver(done.failedOver).build());
      return;
    }
    Secondary s = secondaries.get(id);
    if (s == null || s.generation != c.getGeneration()) {
      replyTo.tell(host.replies().error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_UNKNOWN_GUEST, "no copy of guest " + id
          + " (protection generation " + c.getGeneration() + ") on host " + host.settings().hostId()));
      return;
    }
    if (s.failedOver == null) {
      if (host.guests().get(id) != null) {
        replyTo.tell(host.replies().error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_CONFLICT, "guest " + id + " already runs on "
            + host.settings().hostId()));
        return;
      }
      GuestOutput output = new GuestOutput(host.replication().stepsPerOutput(), host.outputs().forGuest(id));
      s.guest.setStepListener(output);
      AppliedCheckpoint from;
      try {
        from = Failover.resume(s.receiver, s.guest, output, c.getFailover().getOwnerToken());
      } catch (IllegalStateException e) {
        replyTo.tell(host.replies().error(c, ProtectionRole.SECONDARY, ErrorKind.ERROR_REFUSED, e.getMessage()));
        return;
      }
      host.dataPlane().forget(s.dataId);
      host.guests().failedOver(s.guest);
      host.ledger().tell(new HostLedger.Record(HostLedger.owned(s.guest.description())));
      // Its files are the guest's disks now, whatever happens to it later (it may move on and
      // another host use them on a shared datastore): no restart of this host deletes them.
      if (s.filesRecord != null) host.ledger().tell(new HostLedger.Record(HostLedger.filesSettled(s.filesRecord)));
      s.failedOver = FailoverResult.newBuilder().setCheckpoint(from.checkpoint()).setSteps(from.steps())
          .setOutputsUpto(from.outputsUpto()).build();
      host.ctx().getLog().warn("guest {} failed over to {}: runs from checkpoint {} (step {}, outputs up to {})", id,
          host.settings().hostId(), from.checkpoint(), from.steps(), from.outputsUpto());
      secondaries.remove(id);
      failedOver.put(id, s);
    }
    replyTo.tell(host.replies().ok(c, ProtectionRole.SECONDARY).setFailedOver(s.failedOver).build());
  }

  /**
   * The copy's stream ended: the coordinator hears it at once (it decides nothing by that alone),
   * and again once the primary's lease has run out, from when this host may take over.
   */
  void streamEnded(HostReplication.StreamEnded m) {
    Secondary s = secondaries.get(m.guestId());
    if (s == null || s.generation != m.generation()) return;
    s.streamEnded = m.reason();
    if (s.coordinator != null) {
      s.coordinator.tell(host.replies().unprompted(m.guestId(), s.generation, s.epoch, ProtectionRole.SECONDARY)
          .setStreamEnded(m.reason()).build());
    }
    long from = s.receiver.claimFromNanos();
    if (from == Long.MAX_VALUE) return; // no whole checkpoint with a lease: nothing to take over with
    java.time.Duration left = java.time.Duration.ofNanos(Math.max(0, from - System.nanoTime()));
    host.ctx().scheduleOnce(left, host.ctx().getSelf(), new HostReplication.LeaseOut(m.guestId(), m.generation()));
  }

  /** The primary's lease ran out: whatever it did, it has the guest stopped; the coordinator may fail over now. */
  void leaseOut(HostReplication.LeaseOut m) {
    Secondary s = secondaries.get(m.guestId());
    if (s == null || s.generation != m.generation() || s.leaseOut != null) return;
    long early = s.receiver.claimFromNanos() - System.nanoTime();
    if (early > 0) { // a timer that fired early: never claim before the lease has run out
      host.ctx().scheduleOnce(java.time.Duration.ofNanos(early), host.ctx().getSelf(), m);
      return;
    }
    var at = s.receiver.lastApplied();
    s.leaseOut = PrimaryLeaseOut.newBuilder().setStreamEnded(s.streamEnded).setCheckpoint(at.checkpoint())
        .setLeaseMs(s.receiver.leaseMillis()).build();
    host.ctx().getLog().warn("guest {}: the primary's lease ran out {} ms after checkpoint {} arrived (its stream ended: "
        + "{}; a silent one is given the primary's ack timeout besides); the copy here may take over", m.guestId(),
        s.leaseOut.getLeaseMs(), at.checkpoint(), s.streamEnded);
    reportLeaseOuts();
  }

  /** Said again every report interval until a failover or the protection's end: a report may be lost. */
  void reportLeaseOuts() {
    secondaries.forEach((id, s) -> {
      if (s.leaseOut != null && s.coordinator != null) {
        s.coordinator.tell(host.replies().unprompted(id, s.generation, s.epoch, ProtectionRole.SECONDARY)
            .setLeaseOut(s.leaseOut).build());
      }
    });
  }

  /** EndProtection: a copy of this generation or older is destroyed; returns whether there was one. */
  boolean end(String id, long generation) {
    Secondary s = secondaries.get(id);
    if (s == null) return false;
    if (s.generation <= generation) endSecondary(id, s);
    return true;
  }

  /** The agent stopped: no copy receives any more. */
  void stopAll() {
    secondaries.values().forEach(s -> s.receiver.takeOver());
  }

  private void endSecondary(String id, Secondary s) {
    secondaries.remove(id);
    host.guests().copyGone(id);
    s.receiver.takeOver(); // stops receiving; nothing more is applied
    host.dataPlane().forget(s.dataId);
    java.util.List<java.nio.file.Path> files = GuestDiskFiles.of(s.guest);
    CompletableFuture.runAsync(() -> {
      s.guest.destroy();
      // Settled once every file is gone; one left stays recorded, for the next start to try again.
      if (GuestDiskFiles.deleteEach(files, "the ended copy of guest " + id) && s.filesRecord != null) {
        host.ledger().tell(new HostLedger.Record(HostLedger.filesSettled(s.filesRecord)));
      }
    }, host.blocking());
    host.ctx().getLog().info("copy of guest {} (generation {}) destroyed on {}", id, s.generation, host.settings().hostId());
  }

}
