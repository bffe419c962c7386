package org.livemig.engine.dataplane;

/**
 * What one sendPages call put on the wire: pages counts every page sent (zero pages included),
 * zeroPages those sent as indices only, bytes all frame and payload bytes written.
 */
public record SendStats(long pages, long zeroPages, long bytes, long nanos) {
  public static final SendStats EMPTY = new SendStats(0, 0, 0, 0);

  public SendStats plus(SendStats o) {
    return new SendStats(pages + o.pages, zeroPages + o.zeroPages, bytes + o.bytes, nanos + o.nanos);
  }
}
