package org.livemig.engine.replication;

import java.util.Locale;

/**
 * Chaos: the primary's host dies (Runtime.halt, as kill -9) at one point of one checkpoint's
 * cycle (livemig.host.faults.replication): before anything of it is sent, with half its pages
 * sent, with all of it sent but not acknowledged, or acknowledged with its outputs not yet
 * released. What each must leave is in README "Replication".
 */
public record CheckpointFault(Point point, long checkpoint) {
  public enum Point { NONE, BEFORE_SEND, MID_SEND, SENT, ACKNOWLEDGED }

  public static final CheckpointFault NONE = new CheckpointFault(Point.NONE, 0);

  public static CheckpointFault parse(String point, long checkpoint) {
    Point p;
    try {
      p = Point.valueOf(point.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("livemig.host.faults.replication.halt-at must be none, before-send, mid-send, "
          + "sent or acknowledged: " + point);
    }
    if (p != Point.NONE && checkpoint < 1) {
      throw new IllegalArgumentException("livemig.host.faults.replication.halt-at-checkpoint must be >= 1: " + checkpoint);
    }
    return new CheckpointFault(p, checkpoint);
  }

  /** Halts this JVM if this is the point and checkpoint; exit status 137, as after kill -9. */
  void at(Point here, long c) {
    if (point != here || checkpoint != c) return;
    System.err.println("replication fault: halting at " + here + " of checkpoint " + c);
    Runtime.getRuntime().halt(137);
  }
}
