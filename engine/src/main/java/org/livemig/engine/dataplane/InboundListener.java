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

  void onChannelFailed(int channel, String reason);
}
