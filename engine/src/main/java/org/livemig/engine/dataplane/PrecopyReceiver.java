package org.livemig.engine.dataplane;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Destination end of one migration's precopy streams (PRECOPY_PAGES): which channel numbers are
 * taken, and where their pages go. Each accepted channel runs a {@link ChannelReceiver}.
 */
final class PrecopyReceiver implements StreamHandler {
  private static final Logger log = LoggerFactory.getLogger(PrecopyReceiver.class);

  final String migrationId;
  final int channels;
  final InboundListener listener;
  final GuestMemory memory;
  final DirtyBitmap received;
  private final DataPlaneSettings settings;
  private final Watchdog watchdog;

  // Guarded by this.
  private final boolean[] claimed;
  private final Set<ChannelReceiver> open = new HashSet<>();
  private boolean forgotten;

  PrecopyReceiver(String migrationId, int channels, InboundListener listener, GuestMemory memory, DirtyBitmap received,
      DataPlaneSettings settings, Watchdog watchdog) {
    if (channels < 1) throw new IllegalArgumentException("channels must be positive: " + channels);
    if (received.pageCount() < memory.pageCount()) {
      throw new IllegalArgumentException("received bitmap has " + received.pageCount() + " pages, memory " + memory.pageCount());
    }
    this.migrationId = migrationId;
    this.channels = channels;
    this.listener = listener;
    this.memory = memory;
    this.received = received;
    this.settings = settings;
    this.watchdog = watchdog;
    this.claimed = new boolean[channels];
  }

  @Override
  public Admission admit(ChannelHeader header, DataChannel channel) {
    int number = header.getChannel();
    ChannelReceiver receiver = new ChannelReceiver(this, number, channel, settings, watchdog);
    String reason = claim(number, receiver);
    if (reason != null) return Admission.refuse(reason);
    return Admission.serve(() -> {
      Thread.currentThread().setName("dataplane-rx-" + migrationId + "-" + number);
      log.info("accepted data channel {} of migration {} from {}", number, migrationId, channel.remoteAddress());
      receiver.run();
    });
  }

  /**
   * Claims a channel number for an authenticated peer and tracks its receiver.
   * Returns null on success, otherwise the refusal reason (nothing changed).
   * A claimed number stays taken until forget: a second connection for it is a duplicate.
   */
  private synchronized String claim(int channel, ChannelReceiver receiver) {
    if (forgotten) return "unknown migration " + migrationId;
    if (channel < 0 || channel >= channels) {
      return "channel " + channel + " out of range: migration " + migrationId + " registered " + channels + " channels";
    }
    if (claimed[channel]) return "duplicate channel " + channel + " for migration " + migrationId;
    claimed[channel] = true;
    open.add(receiver);
    return null;
  }

  synchronized void closed(ChannelReceiver receiver) {
    open.remove(receiver);
  }

  /** Closes the channels still open, without failure callbacks. */
  @Override
  public void forget() {
    List<ChannelReceiver> toClose;
    synchronized (this) {
      forgotten = true;
      toClose = new ArrayList<>(open);
      open.clear();
    }
    toClose.forEach(ChannelReceiver::forget);
    log.info("forgot migration {} ({} open channel(s) closed)", migrationId, toClose.size());
  }
}
