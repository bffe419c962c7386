package org.livemig.engine.dataplane;

/**
 * A data channel failed or was refused. Unchecked so that callers on the blocking dispatcher can
 * let it travel to one catch site; the message always names the cause (limit, EOF, stall, refusal).
 */
public class DataPlaneException extends RuntimeException {
  public DataPlaneException(String message) {
    super(message);
  }

  public DataPlaneException(String message, Throwable cause) {
    super(message, cause);
  }
}
