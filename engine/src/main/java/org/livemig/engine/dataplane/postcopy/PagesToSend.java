package org.livemig.engine.dataplane.postcopy;

/**
 * What the postcopy source has left to push: the pages the destination lacked at the last
 * RECV_BITMAP, minus those taken for sending since. A page is taken (removed) just before it is
 * sent; one lost in flight is found again by the next RECV_BITMAP. The set belongs to one
 * connection at a time: a stale connection's takes are refused, so after a rebuild only the new
 * connection changes it and nothing it still needs can vanish.
 */
final class PagesToSend {
  private final long pageCount;
  // Guarded by this.
  private final long[] words;
  private long left;
  private int cursor; // background push position, in words
  private Object owner;

  PagesToSend(long pageCount) {
    this.pageCount = pageCount;
    this.words = new long[(int) ((pageCount + 63) >>> 6)];
    for (int w = 0; w < words.length; w++) words[w] = lastWordMask(w);
    this.left = pageCount; // unknown before the first RECV_BITMAP: everything
  }

  /** Everything the destination does not have (present: its RECV_BITMAP), now owned by owner. */
  synchronized long rebuild(Object owner, long[] present) {
    this.owner = owner;
    left = 0;
    for (int w = 0; w < words.length; w++) {
      words[w] = ~present[w] & lastWordMask(w);
      left += Long.bitCount(words[w]);
    }
    cursor = 0;
    return left;
  }

  /** Takes a requested page; false if it is not left (already on its way or there) or owner is stale. */
  synchronized boolean take(Object owner, long page) {
    if (owner != this.owner) return false;
    int w = (int) (page >>> 6);
    long bit = 1L << (page & 63);
    if ((words[w] & bit) == 0) return false;
    words[w] &= ~bit;
    left--;
    return true;
  }

  /** Takes up to out.length pages in page order from the push position; returns how many. */
  synchronized int takeNext(Object owner, long[] out) {
    if (owner != this.owner) return 0;
    int n = 0;
    while (n < out.length && cursor < words.length) {
      long bits = words[cursor];
      if (bits == 0) {
        cursor++;
        continue;
      }
      long bit = Long.lowestOneBit(bits);
      words[cursor] = bits & ~bit;
      out[n++] = ((long) cursor << 6) + Long.numberOfTrailingZeros(bit);
    }
    left -= n;
    return n;
  }

  synchronized long left() {
    return left;
  }

  private long lastWordMask(int w) {
    long bitsInWord = Math.min(64, pageCount - ((long) w << 6));
    return bitsInWord == 64 ? -1L : (1L << bitsInWord) - 1;
  }
}
