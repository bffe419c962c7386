package org.livemig.engine.dataplane;

/** Constants shared by both ends of a data channel. */
public final class DataPlane {
  /** Sent in every ChannelHeader; the destination refuses any other version. */
  public static final int PROTOCOL_VERSION = 2; // 2: ChannelHeader.kind replaces the postcopy flag

  /** Largest header or accept message; small so an unauthenticated peer cannot make us allocate much. */
  public static final int HANDSHAKE_LIMIT = 8192;

  /** In the refusal of a postcopy connection that came too early; the source retries on it. */
  public static final String NOT_IN_POSTCOPY = "not in postcopy";

  private DataPlane() {}
}
