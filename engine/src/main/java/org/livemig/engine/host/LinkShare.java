package org.livemig.engine.host;

import akka.actor.typed.ActorRef;

/**
 * One migration's membership in its source host's link (HostBandwidth), kept inside the
 * SourceActor: joined while its streams send, left on every end. One membership per migration,
 * whatever it sends: its channels split the share among themselves (CopyActor: share / channels),
 * and a disk stream would take its part of the same share, not join on its own (the link would
 * count that migration twice). Not thread-safe: actor-confined.
 */
final class LinkShare {
  private final String migrationId;
  private final ActorRef<HostBandwidth.Command> bandwidth;
  private final ActorRef<HostBandwidth.Share> replyTo;
  private final long hostCap;
  private long cap;
  private long bytesPerSecond;
  private boolean joined;
  private boolean everJoined;

  LinkShare(String migrationId, ActorRef<HostBandwidth.Command> bandwidth, ActorRef<HostBandwidth.Share> replyTo,
      long hostCap) {
    this.migrationId = migrationId;
    this.bandwidth = bandwidth;
    this.replyTo = replyTo;
    this.hostCap = hostCap;
  }

  /**
   * Joins under the migration's own cap (0 = none). Until the first share arrives the streams may
   * send at most the smaller of that cap and the whole link (a new channel is still connecting
   * then); joining again keeps the share last known until the new one arrives.
   */
  void join(long ownCap) {
    if (!everJoined) bytesPerSecond = hostCap == 0 ? ownCap : ownCap == 0 ? hostCap : Math.min(ownCap, hostCap);
    cap = ownCap;
    everJoined = true;
    joined = true;
    bandwidth.tell(new HostBandwidth.Join(migrationId, ownCap, replyTo));
  }

  /** After leave(): the same membership again (a postcopy recovery), under the cap it had. */
  void rejoin() {
    if (!joined) join(cap);
  }

  void capChanged(long ownCap) {
    cap = ownCap;
    if (joined) bandwidth.tell(new HostBandwidth.CapChanged(migrationId, ownCap));
  }

  /** The streams ended or paused: the share goes to the others at once. Idempotent. */
  void leave() {
    if (joined) bandwidth.tell(new HostBandwidth.Leave(migrationId));
    joined = false;
  }

  /** Takes a share from HostBandwidth; false when it is no news (or arrived after leaving). */
  boolean update(HostBandwidth.Share share) {
    if (!joined || share.bytesPerSecond() == bytesPerSecond) return false;
    bytesPerSecond = share.bytesPerSecond();
    return true;
  }

  /** Takes a new share and, when it is news, tells every channel, which sends at it from its next write. */
  void updateCopies(HostBandwidth.Share share, java.util.List<ActorRef<CopyActor.Command>> copies) {
    if (update(share)) for (ActorRef<CopyActor.Command> c : copies) c.tell(new CopyActor.SetMaxBandwidth(bytesPerSecond));
  }

  /** What the migration's streams may send at now, over all of them; 0 = unlimited. */
  long bytesPerSecond() {
    return bytesPerSecond;
  }
}
