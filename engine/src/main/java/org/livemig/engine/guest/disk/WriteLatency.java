package org.livemig.engine.guest.disk;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A disk's guest write latencies (issue to acknowledgement), counted since the disk opened on
 * this host, apart for writes that went to a storage move's target too (mirrored) and the rest:
 * a histogram of 1/8-octave buckets (percentiles within 13%), recorded lock-free by the I/O threads.
 * A move reads the difference between two snapshots: the writes of its own time.
 */
public final class WriteLatency {
  private static final int SUB = 8; // buckets per doubling
  private static final int BUCKETS = 40 * SUB; // up to 2^40 ns (18 minutes)

  private final AtomicLongArray mirrored = new AtomicLongArray(BUCKETS);
  private final AtomicLongArray unmirrored = new AtomicLongArray(BUCKETS);

  void record(boolean wasMirrored, long nanos) {
    (wasMirrored ? mirrored : unmirrored).incrementAndGet(bucket(nanos));
  }

  /** The counts so far. */
  public Snapshot snapshot() {
    return new Snapshot(copy(mirrored), copy(unmirrored));
  }

  private static long[] copy(AtomicLongArray a) {
    long[] c = new long[a.length()];
    for (int i = 0; i < c.length; i++) c[i] = a.get(i);
    return c;
  }

  static int bucket(long nanos) {
    if (nanos < SUB) return (int) Math.max(0, nanos);
    int octave = 63 - Long.numberOfLeadingZeros(nanos); // >= 3
    int sub = (int) (nanos >>> (octave - 3)) & (SUB - 1);
    return Math.min(BUCKETS - 1, (octave - 2) * SUB + sub);
  }

  /** The upper edge of a bucket, in nanoseconds. */
  static long upperNanos(int bucket) {
    if (bucket < SUB) return bucket + 1;
    int octave = bucket / SUB + 2;
    return (long) (SUB + bucket % SUB + 1) << (octave - 3);
  }

  /** Write counts per bucket at one time; {@link #since} gives those of a span. */
  public record Snapshot(long[] mirrored, long[] unmirrored) {
    public Snapshot since(Snapshot earlier) {
      return new Snapshot(minus(mirrored, earlier.mirrored), minus(unmirrored, earlier.unmirrored));
    }

    private static long[] minus(long[] a, long[] b) {
      long[] d = new long[a.length];
      for (int i = 0; i < a.length; i++) d[i] = a[i] - b[i];
      return d;
    }

    public static long count(long[] buckets) {
      long n = 0;
      for (long c : buckets) n += c;
      return n;
    }

    /** The q-quantile (0..1) in microseconds, as a bucket's upper edge; 0 without writes. */
    public static long quantileMicros(long[] buckets, double q) {
      long n = count(buckets);
      if (n == 0) return 0;
      long rank = (long) Math.ceil(q * n);
      long seen = 0;
      for (int i = 0; i < buckets.length; i++) {
        seen += buckets[i];
        if (seen >= Math.max(1, rank)) return Math.max(1, upperNanos(i) / 1000);
      }
      return upperNanos(buckets.length - 1) / 1000;
    }
  }
}
