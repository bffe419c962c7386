package org.livemig.engine.common;

import java.time.Instant;

/** Wall-clock microseconds: downtime spans two hosts, so it is measured on the wall clock. */
public final class EpochMicros {
  private EpochMicros() {}

  public static long now() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
  }
}
