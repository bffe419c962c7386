package org.livemig.engine.guest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.livemig.messages.GuestDescription;

/**
 * The correctness oracle: since a synthetic guest's memory is a function of (description, steps),
 * any copy of it - wherever it was migrated to - can be checked page by page.
 */
public final class GuestOracle {
  private static final int MAX_REPORTED_MISMATCHES = 10;

  private final PageContent content;

  public GuestOracle(GuestDescription d) {
    this.content = new PageContent(d);
  }

  /** Which page step {@code step} writes (the workload's own function). */
  public long pageAt(long step) {
    return content.pageAt(step);
  }

  /** What {@code page} must hold after {@code steps} steps, written into {@code out}. */
  public void expectedPage(long page, long steps, byte[] out) {
    checkPage(page);
    long writer = -1;
    for (long k = steps - 1; k >= 0; k--) { // newest first: the first hit is the last writer
      if (content.pageAt(k) == page) {
        writer = k;
        break;
      }
    }
    content.fillExpected(page, writer, out);
  }

  /** Checks every page of {@code mem} against the history of {@code steps} steps. */
  public Verification verify(GuestMemory mem, long steps) {
    if (mem.pageSize() != content.pageSize() || mem.pageCount() != content.pageCount()) {
      throw new IllegalArgumentException("memory of " + mem.pageCount() + " x " + mem.pageSize()
          + " bytes does not have the guest's shape " + content.pageCount() + " x " + content.pageSize());
    }
    if (steps < 0) throw new IllegalArgumentException("steps must be >= 0, was " + steps);
    if (content.pageCount() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("guest of " + content.pageCount() + " pages is too large to verify");
    }
    // One forward pass finds every page's last writer; then each page is checked once.
    long[] lastWriter = new long[(int) content.pageCount()];
    Arrays.fill(lastWriter, -1L);
    for (long k = 0; k < steps; k++) lastWriter[(int) content.pageAt(k)] = k;

    long mismatches = 0;
    List<Long> first = new ArrayList<>();
    byte[] actual = content.newPageBuffer();
    byte[] expected = content.newPageBuffer();
    for (int p = 0; p < lastWriter.length; p++) {
      if (!content.pageMatches(mem, p, lastWriter[p], actual, expected)) {
        mismatches++;
        if (first.size() < MAX_REPORTED_MISMATCHES) first.add((long) p);
      }
    }
    return new Verification(lastWriter.length, mismatches, List.copyOf(first));
  }

  private void checkPage(long page) {
    if (page < 0 || page >= content.pageCount()) {
      throw new IndexOutOfBoundsException("page " + page + " outside guest of " + content.pageCount() + " pages");
    }
  }

  /** Outcome of {@link #verify}: {@code firstMismatches} holds up to 10 mismatching pages, in page order. */
  public record Verification(long pagesChecked, long mismatches, List<Long> firstMismatches) {
    public boolean matches() {
      return mismatches == 0;
    }
  }
}
