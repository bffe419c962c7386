package org.livemig.engine.guest.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The write latency histogram: percentiles within a bucket (1/8 octave) of the true ones, mirrored apart, spans apart. */
class WriteLatencyTest {
  @Test
  void percentilesOfASpanAreWithinABucketOfTheTrueOnes() {
    WriteLatency l = new WriteLatency();
    for (int i = 1; i <= 1000; i++) l.record(false, 1_000_000L); // 1 ms each: before
    WriteLatency.Snapshot before = l.snapshot();
    for (int i = 1; i <= 1000; i++) l.record(false, i * 10_000L); // 10 us .. 10 ms, uniform
    l.record(true, 40_000_000L);
    WriteLatency.Snapshot span = l.snapshot().since(before);

    assertEquals(1000, WriteLatency.Snapshot.count(span.unmirrored()));
    assertEquals(1, WriteLatency.Snapshot.count(span.mirrored()));
    assertWithin(5_000, WriteLatency.Snapshot.quantileMicros(span.unmirrored(), 0.5));
    assertWithin(9_900, WriteLatency.Snapshot.quantileMicros(span.unmirrored(), 0.99));
    assertWithin(40_000, WriteLatency.Snapshot.quantileMicros(span.mirrored(), 0.5));
    assertWithin(1_000, WriteLatency.Snapshot.quantileMicros(before.unmirrored(), 0.99));
    assertEquals(0, WriteLatency.Snapshot.quantileMicros(new long[8], 0.5), "no writes: 0");
  }

  @Test
  void everyBucketsUpperEdgeIsAboveItsValues() {
    for (long n = 1; n < 1L << 36; n = n * 3 / 2 + 1) {
      int b = WriteLatency.bucket(n);
      assertTrue(WriteLatency.upperNanos(b) > n && (b == 0 || WriteLatency.upperNanos(b - 1) <= n), "bucket of " + n);
    }
  }

  private static void assertWithin(long expectedMicros, long actualMicros) {
    assertTrue(actualMicros >= expectedMicros && actualMicros <= expectedMicros * 1.13,
        actualMicros + " us is not within 13% above " + expectedMicros + " us");
  }
}
