package org.livemig.engine.guest;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongConsumer;

/**
 * One bit per page, set by writers and harvested by the migration. Writers mark a page
 * after its new content is in memory, so a sync that clears the bit either sees the new
 * content or leaves the bit set for the next round (no write is ever lost between rounds).
 */
public final class DirtyBitmap {
  private final long pageCount;
  private final AtomicLongArray words;

  public DirtyBitmap(long pageCount) {
    if (pageCount <= 0 || pageCount > (long) Integer.MAX_VALUE * 64) {
      throw new IllegalArgumentException("page count out of range: " + pageCount);
    }
    this.pageCount = pageCount;
    this.words = new AtomicLongArray((int) ((pageCount + 63) >>> 6));
  }

  public long pageCount() {
    return pageCount;
  }

  public void mark(long page) {
    int w = (int) (page >>> 6);
    long bit = 1L << (page & 63);
    long cur = words.get(w);
    if ((cur & bit) != 0) return; // already dirty: skip the CAS on hot pages
    while (!words.compareAndSet(w, cur, cur | bit)) {
      cur = words.get(w);
      if ((cur & bit) != 0) return;
    }
  }

  /** Marks the page; true if this call set the bit (it was clear), false if it was already set. */
  public boolean markIfClear(long page) {
    int w = (int) (page >>> 6);
    long bit = 1L << (page & 63);
    long cur = words.get(w);
    while ((cur & bit) == 0) {
      if (words.compareAndSet(w, cur, cur | bit)) return true;
      cur = words.get(w);
    }
    return false;
  }

  public boolean isSet(long page) {
    return (words.get((int) (page >>> 6)) & (1L << (page & 63))) != 0;
  }

  public void markAll() {
    for (int w = 0; w < words.length(); w++) words.set(w, lastWordMask(w));
  }

  public long count() {
    long n = 0;
    for (int w = 0; w < words.length(); w++) n += Long.bitCount(words.get(w));
    return n;
  }

  /** Atomically takes the dirty set word by word and clears it: QEMU's dirty-log sync. */
  public long[] syncAndClear() {
    long[] snapshot = new long[words.length()];
    for (int w = 0; w < snapshot.length; w++) snapshot[w] = words.getAndSet(w, 0L);
    return snapshot;
  }

  /** ORs a harvested set back in (pages that were taken but could not be sent). */
  public void orIn(long[] snapshot) {
    for (int w = 0; w < snapshot.length; w++) {
      if (snapshot[w] != 0) words.getAndAccumulate(w, snapshot[w], (a, b) -> a | b);
    }
  }

  /** Clears every bit set in words (postcopy discard: pages that went stale after they were sent). */
  public void clear(long[] words) {
    for (int w = 0; w < Math.min(words.length, this.words.length()); w++) {
      if (words[w] != 0) this.words.getAndAccumulate(w, words[w], (a, b) -> a & ~b);
    }
  }

  /** A harvested set on the wire: little-endian longs, bit i = page i. */
  public static byte[] toBytes(long[] words) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(words.length * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (long w : words) b.putLong(w);
    return b.array();
  }

  /**
   * Reads a set written by {@link #toBytes} for a guest of pageCount pages.
   *
   * @throws IllegalArgumentException if the length does not match or a bit lies past the last page
   */
  public static long[] fromBytes(byte[] bytes, long pageCount) {
    int words = (int) ((pageCount + 63) >>> 6);
    if (bytes.length != words * 8) {
      throw new IllegalArgumentException("bitmap of " + bytes.length + " bytes does not fit " + pageCount + " pages ("
          + words * 8 + " bytes expected)");
    }
    long[] out = new long[words];
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int w = 0; w < words; w++) out[w] = b.getLong();
    int tail = (int) (pageCount & 63);
    if (tail != 0 && (out[words - 1] >>> tail) != 0) {
      throw new IllegalArgumentException("bitmap marks pages past the last of " + pageCount);
    }
    return out;
  }

  public long[] snapshot() {
    long[] copy = new long[words.length()];
    for (int w = 0; w < copy.length; w++) copy[w] = words.get(w);
    return copy;
  }

  private long lastWordMask(int w) {
    long bitsInWord = Math.min(64, pageCount - ((long) w << 6));
    return bitsInWord == 64 ? -1L : (1L << bitsInWord) - 1;
  }

  /** Calls action for every set bit of a harvested snapshot, in page order. */
  public static void forEachSet(long[] snapshot, LongConsumer action) {
    for (int w = 0; w < snapshot.length; w++) {
      long bits = snapshot[w];
      while (bits != 0) {
        int b = Long.numberOfTrailingZeros(bits);
        action.accept(((long) w << 6) + b);
        bits &= bits - 1;
      }
    }
  }

  public static long count(long[] snapshot) {
    long n = 0;
    for (long w : snapshot) n += Long.bitCount(w);
    return n;
  }
}
