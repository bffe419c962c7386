package org.livemig.engine.guest;

import java.nio.ByteBuffer;

/**
 * Guest RAM held off-heap in direct chunks (a 1 GiB guest needs no heap), addressed by page.
 * A chunk is 32 MiB, or one page where pages are larger: the JDK zeroes a new direct buffer in
 * one call that no stop-the-world pause can interrupt, so a chunk's allocation holds up every
 * thread of the process that waits for one (GC, heartbeats, other guests' transfers). On this
 * machine a 256 MiB chunk held them up to 1 s, a 32 MiB one about 0.1 s, at the same total speed.
 * The chunks are allocated on all cores at once ({@link ChunkAllocator}).
 */
public final class GuestMemory {
  static final long CHUNK_BYTES = 32L << 20;

  private final int pageSize;
  private final long pageCount;
  private final int pagesPerChunk;
  private final ByteBuffer[] chunks;

  public GuestMemory(int pageSize, long pageCount) {
    if (pageSize < 512 || Integer.bitCount(pageSize) != 1) {
      throw new IllegalArgumentException("page size must be a power of two >= 512, was " + pageSize);
    }
    if (pageCount <= 0) throw new IllegalArgumentException("page count must be positive, was " + pageCount);
    this.pageSize = pageSize;
    this.pageCount = pageCount;
    int perChunk = (int) Math.max(1, CHUNK_BYTES / pageSize);
    this.pagesPerChunk = perChunk;
    int n = (int) ((pageCount + perChunk - 1) / perChunk);
    this.chunks = ChunkAllocator.allocate(n, i -> Math.min(perChunk, pageCount - (long) i * perChunk) * pageSize);
  }

  public int pageSize() {
    return pageSize;
  }

  public long pageCount() {
    return pageCount;
  }

  public long sizeBytes() {
    return pageCount * pageSize;
  }

  private void check(long page) {
    if (page < 0 || page >= pageCount) {
      throw new IndexOutOfBoundsException("page " + page + " outside guest of " + pageCount + " pages");
    }
  }

  private ByteBuffer chunkOf(long page) {
    return chunks[(int) (page / pagesPerChunk)];
  }

  private int offsetOf(long page) {
    return (int) (page % pagesPerChunk) * pageSize;
  }

  /** Which direct chunk holds the page; pages of one chunk are contiguous in memory. */
  public int chunkIndex(long page) {
    return (int) (page / pagesPerChunk);
  }

  /**
   * Points view (a buffer from {@link #chunkView}, or null for a new one) at count contiguous
   * pages from firstPage, all in one chunk, so senders can write guest memory to a socket
   * without copying it first.
   */
  public ByteBuffer pagesView(long firstPage, int count, ByteBuffer view) {
    check(firstPage);
    check(firstPage + count - 1);
    int chunk = chunkIndex(firstPage);
    if (chunkIndex(firstPage + count - 1) != chunk) throw new IllegalArgumentException("pages span two chunks");
    ByteBuffer v = view != null ? view : chunkView(chunk);
    int off = offsetOf(firstPage);
    return v.limit(off + count * pageSize).position(off);
  }

  /** A new independent view of one chunk (its own position and limit). */
  public ByteBuffer chunkView(int chunk) {
    return chunks[chunk].duplicate();
  }

  /** Copies count contiguous pages (one chunk) from src at its position, advancing it. */
  public void writePages(long firstPage, int count, ByteBuffer src) {
    check(firstPage);
    check(firstPage + count - 1);
    if (chunkIndex(firstPage + count - 1) != chunkIndex(firstPage)) throw new IllegalArgumentException("pages span two chunks");
    int len = count * pageSize;
    chunkOf(firstPage).put(offsetOf(firstPage), src, src.position(), len);
    src.position(src.position() + len);
  }

  /** Copies one page into dst at its position, advancing it. */
  public void readPage(long page, ByteBuffer dst) {
    check(page);
    dst.put(dst.position(), chunkOf(page), offsetOf(page), pageSize);
    dst.position(dst.position() + pageSize);
  }

  /** Copies one page from src at its position, advancing it. */
  public void writePage(long page, ByteBuffer src) {
    check(page);
    chunkOf(page).put(offsetOf(page), src, src.position(), pageSize);
    src.position(src.position() + pageSize);
  }

  public void readPage(long page, byte[] dst) {
    check(page);
    chunkOf(page).get(offsetOf(page), dst, 0, pageSize);
  }

  public void writePage(long page, byte[] src) {
    check(page);
    chunkOf(page).put(offsetOf(page), src, 0, pageSize);
  }

  /** Writes a long at a byte offset inside a page (the workload's fast path). */
  public void putLong(long page, int offset, long value) {
    chunkOf(page).putLong(offsetOf(page) + offset, value);
  }

  public long getLong(long page, int offset) {
    return chunkOf(page).getLong(offsetOf(page) + offset);
  }

  public boolean isZeroPage(long page) {
    check(page);
    ByteBuffer c = chunkOf(page);
    int base = offsetOf(page);
    for (int off = 0; off < pageSize; off += 8) {
      if (c.getLong(base + off) != 0L) return false;
    }
    return true;
  }

  public void zeroPage(long page) {
    check(page);
    ByteBuffer c = chunkOf(page);
    int base = offsetOf(page);
    for (int off = 0; off < pageSize; off += 8) c.putLong(base + off, 0L);
  }

  /** Touches every page so that first-touch allocation happens before timing starts. */
  public void prefault() {
    for (ByteBuffer c : chunks) {
      for (int off = 0; off < c.capacity(); off += 4096) c.put(off, c.get(off));
    }
  }
}
