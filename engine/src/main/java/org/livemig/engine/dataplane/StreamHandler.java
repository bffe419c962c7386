package org.livemig.engine.dataplane;

import org.livemig.messages.ChannelHeader;

/**
 * What the data port does with the channels of one stream kind of one migration, registered
 * with {@link DataPlaneServer#expectStream}. The server has authenticated the channel (version,
 * migration, token) before it asks; the handler decides the rest.
 */
public interface StreamHandler {
  /**
   * Takes or refuses one authenticated channel, on the server's connection thread, before the
   * ChannelAccept goes out: a refusal changes nothing; an accepted channel's session runs on
   * that thread right after the answer and owns the channel until it returns (then it is closed).
   */
  Admission admit(ChannelHeader header, DataChannel channel);

  /** The migration is forgotten: end open channels without failure callbacks. Idempotent. */
  void forget();

  /** A refusal reason, or the session that serves the accepted channel. */
  record Admission(String refusal, Runnable session) {
    public static Admission refuse(String reason) {
      return new Admission(reason, null);
    }

    public static Admission serve(Runnable session) {
      return new Admission(null, session);
    }

    public boolean refused() {
      return refusal != null;
    }
  }
}
