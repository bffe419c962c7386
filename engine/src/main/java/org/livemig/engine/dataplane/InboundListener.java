package org.livemig.engine.dataplane;

/**
 * Events of one incoming migration, called from the channel receiver threads (one per channel,
 * so calls for different channels may be concurrent). Implementations should only hand off,
 * e.g. tell an actor; pages themselves are already in guest memory when events arrive.
 */
public interface InboundListener {
  void onChannelOpened(int channel);

  void onDeviceState(byte[] state);

  void onIterationEnd(int round, long pages);

  void onEndOfStream(int channel, long totalPages);

  /**
   * Switchover into postcopy: pages sent earlier but dirtied since (bit i = page i), which the
   * destination must treat as missing. Called before onEndOfStream of the same channel. The
   * default fails the channel: a destination that ignored a discard would run on stale pages.
   */
  default void onPostcopyDiscard(long[] words) {
    throw new DataPlaneException("this destination does not handle a postcopy discard");
  }

  void onChannelFailed(int channel, String reason);
}
