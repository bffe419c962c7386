package org.livemig.engine.dataplane;

/** The destination answered the channel header with a refusal; reason is its answer. */
public class ChannelRefusedException extends DataPlaneException {
  private final String reason;

  public ChannelRefusedException(String what, String reason) {
    super(what + ": " + reason);
    this.reason = reason;
  }

  public String reason() {
    return reason;
  }
}
