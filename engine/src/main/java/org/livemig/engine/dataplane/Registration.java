package org.livemig.engine.dataplane;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;

/** One expected incoming migration: who may connect, and where its pages go. */
final class Registration {
  final String migrationId;
  final String token;
  final int channels;
  final InboundListener listener;
  final GuestMemory memory;
  final DirtyBitmap received;

  private final boolean[] claimed;
  private final Set<ChannelReceiver> open = new HashSet<>();
  private PostcopyReceiver postcopy;
  private boolean forgotten;

  Registration(String migrationId, String token, int channels, InboundListener listener, GuestMemory memory, DirtyBitmap received) {
    if (channels < 1) throw new IllegalArgumentException("channels must be positive: " + channels);
    if (received.pageCount() < memory.pageCount()) {
      throw new IllegalArgumentException("received bitmap has " + received.pageCount() + " pages, memory " + memory.pageCount());
    }
    this.migrationId = migrationId;
    this.token = token;
    this.channels = channels;
    this.listener = listener;
    this.memory = memory;
    this.received = received;
    this.claimed = new boolean[channels];
  }

  /**
   * Claims a channel number for an authenticated peer and tracks its receiver.
   * Returns null on success, otherwise the refusal reason (nothing changed).
   * A claimed number stays taken until forget: a second connection for it is a duplicate.
   */
  synchronized String claim(int channel, ChannelReceiver receiver) {
    if (forgotten) return "unknown migration " + migrationId;
    if (channel < 0 || channel >= channels) {
      return "channel " + channel + " out of range: migration " + migrationId + " registered " + channels + " channels";
    }
    if (claimed[channel]) return "duplicate channel " + channel + " for migration " + migrationId;
    claimed[channel] = true;
    open.add(receiver);
    return null;
  }

  /** From now on postcopy connections of this migration go to receiver. */
  synchronized void expectPostcopy(PostcopyReceiver receiver) {
    if (forgotten) throw new IllegalStateException("migration " + migrationId + " is no longer expected");
    if (postcopy != null && postcopy != receiver) {
      throw new IllegalStateException("migration " + migrationId + " already has a postcopy receiver");
    }
    postcopy = receiver;
  }

  /** Why an authenticated postcopy connection is refused, or null if postcopy() takes it. */
  synchronized String postcopyRefusal() {
    if (forgotten) return "unknown migration " + migrationId;
    if (postcopy == null) return "migration " + migrationId + " is " + DataPlane.NOT_IN_POSTCOPY + " yet";
    return null;
  }

  synchronized PostcopyReceiver postcopy() {
    return postcopy;
  }

  synchronized void closed(ChannelReceiver receiver) {
    open.remove(receiver);
  }

  /** Marks the registration dead and returns the receivers still open, for the caller to close. */
  synchronized List<ChannelReceiver> forget() {
    forgotten = true;
    List<ChannelReceiver> toClose = new ArrayList<>(open);
    open.clear();
    return toClose;
  }
}
