package org.livemig.engine.guest;

import static org.livemig.engine.guest.SplitMix64.GAMMA;
import static org.livemig.engine.guest.SplitMix64.mix64;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.InitialFill;

/**
 * The one definition of the synthetic workload's history: which page step k writes and what
 * every page holds. Shared by {@link SyntheticGuest} (which produces it) and {@link GuestOracle}
 * (which checks it), so the two can never drift apart.
 *
 * <p>Every page's content is a splitmix64 stream keyed by either (seed, step) for a workload
 * write or (seed, page) for the initial fill: word i is {@code mix64(key + (i+1)*GAMMA)}, stored
 * little-endian.
 */
final class PageContent {
  /** Number of 64-bit "registers" in the device state. */
  static final int REGISTER_WORDS = 25;

  // Salts keep the index, step-content, initial-fill and register streams independent.
  private static final long SALT_INDEX = 0x1D8E4E27C47D124FL;
  private static final long SALT_STEP = 0x5851F42D4C957F2DL;
  private static final long SALT_INITIAL = 0x2545F4914F6CDD1DL;
  private static final long SALT_REGISTERS = 0x6A09E667F3BCC909L;

  private final int pageSize;
  private final int wordsPerPage;
  private final long pageCount;
  private final long hotPages;
  private final int hotPerMille;
  private final boolean patternFill;
  private final long indexBase;
  private final long stepBase;
  private final long initialBase;
  private final long registerBase;

  PageContent(GuestDescription d) {
    validate(d);
    this.pageSize = d.getPageSize();
    this.wordsPerPage = pageSize / Long.BYTES;
    this.pageCount = d.getPageCount();
    this.hotPages = d.getHotPages();
    this.hotPerMille = d.getHotPerMille();
    this.patternFill = d.getInitialFill() == InitialFill.FILL_PATTERN;
    long seed = d.getSeed();
    this.indexBase = mix64(seed ^ SALT_INDEX);
    this.stepBase = mix64(seed ^ SALT_STEP);
    this.initialBase = mix64(seed ^ SALT_INITIAL);
    this.registerBase = mix64(seed ^ SALT_REGISTERS);
  }

  /** Rejects descriptions the workload cannot honour, naming the offending field. */
  static void validate(GuestDescription d) {
    int ps = d.getPageSize();
    if (ps < 512 || Integer.bitCount(ps) != 1) {
      throw new IllegalArgumentException("page_size must be a power of two >= 512, was " + Integer.toUnsignedString(ps));
    }
    long pc = d.getPageCount();
    if (pc <= 0) {
      throw new IllegalArgumentException("page_count must be > 0, was " + Long.toUnsignedString(pc));
    }
    if (Long.compareUnsigned(d.getHotPages(), pc) > 0) {
      throw new IllegalArgumentException(
          "hot_pages must be <= page_count (" + pc + "), was " + Long.toUnsignedString(d.getHotPages()));
    }
    if (Integer.compareUnsigned(d.getHotPerMille(), 1000) > 0) {
      throw new IllegalArgumentException("hot_per_mille must be <= 1000, was " + Integer.toUnsignedString(d.getHotPerMille()));
    }
    if (d.getDirtyPagesPerSecond() < 0) {
      throw new IllegalArgumentException(
          "dirty_pages_per_second out of range: " + Long.toUnsignedString(d.getDirtyPagesPerSecond()));
    }
  }

  static long word(long key, int i) {
    return mix64(key + (i + 1) * GAMMA);
  }

  int pageSize() {
    return pageSize;
  }

  long pageCount() {
    return pageCount;
  }

  /** The page that workload step {@code step} writes. */
  long pageAt(long step) {
    long h = mix64(indexBase + step * GAMMA);
    // Low bits pick hot vs cold, a second hash picks the page: the two choices stay independent.
    boolean hot = hotPages > 0 && Long.remainderUnsigned(h, 1000) < hotPerMille;
    long range = hot ? hotPages : pageCount;
    return Long.remainderUnsigned(mix64(h ^ SALT_INDEX), range);
  }

  private long stepKey(long step) {
    return mix64(stepBase + step * GAMMA);
  }

  private long initialKey(long page) {
    return mix64(initialBase + page * GAMMA);
  }

  /** A page-sized scratch buffer; pages are generated there and copied in whole (one memcpy, not 512 calls). */
  byte[] newPageBuffer() {
    return new byte[pageSize];
  }

  /** The workload's write for one step: the whole page, built in {@code scratch}, then copied into memory. */
  void writeStep(GuestMemory mem, long page, long step, byte[] scratch) {
    fillStream(stepKey(step), scratch);
    mem.writePage(page, scratch);
  }

  /** Puts every page in its initial state (a fresh direct buffer is already zero). */
  void writeInitialFill(GuestMemory mem) {
    if (!patternFill) return;
    byte[] scratch = newPageBuffer();
    for (long p = 0; p < pageCount; p++) {
      fillStream(initialKey(p), scratch);
      mem.writePage(p, scratch);
    }
  }

  /** Materialises the expected page content (little-endian, like {@link GuestMemory}). */
  void fillExpected(long page, long writerStep, byte[] out) {
    if (out.length < pageSize) {
      throw new IllegalArgumentException("buffer of " + out.length + " bytes is smaller than a page (" + pageSize + ")");
    }
    if (writerStep >= 0) fillStream(stepKey(writerStep), out);
    else if (patternFill) fillStream(initialKey(page), out);
    else Arrays.fill(out, 0, pageSize, (byte) 0);
  }

  /**
   * True if the page in memory holds exactly what {@code writerStep} (or the initial fill) put there.
   * {@code actual} and {@code expected} are caller-owned page buffers, so a full verify allocates nothing per page.
   */
  boolean pageMatches(GuestMemory mem, long page, long writerStep, byte[] actual, byte[] expected) {
    mem.readPage(page, actual);
    fillExpected(page, writerStep, expected);
    return Arrays.equals(actual, 0, pageSize, expected, 0, pageSize);
  }

  private void fillStream(long key, byte[] out) {
    ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < wordsPerPage; i++) b.putLong(i * Long.BYTES, word(key, i));
  }

  /** Simulated CPU registers after {@code steps} steps: non-trivial but fully determined. */
  long register(long steps, int i) {
    return word(mix64(registerBase + steps * GAMMA), i);
  }
}
