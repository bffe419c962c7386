package org.livemig.engine.guest;

/**
 * splitmix64, the generator behind every synthetic content stream (pages, registers, disk
 * blocks): value i of the stream keyed by k is {@code mix64(k + (i+1) * GAMMA)}.
 */
public final class SplitMix64 {
  public static final long GAMMA = 0x9E3779B97F4A7C15L;

  private SplitMix64() {}

  /** splitmix64's finaliser: a bijective, well-mixed 64-bit hash. */
  public static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
