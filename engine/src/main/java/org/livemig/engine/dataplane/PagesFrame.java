package org.livemig.engine.dataplane;

import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.Pages;

/** The receiving side's checks of a Pages frame, shared by every stream that carries pages. */
public final class PagesFrame {
  private PagesFrame() {}

  /**
   * Checks a Pages frame against the guest and the limit before anything is read or written (so a
   * bad batch writes nothing) and returns its payload length.
   */
  public static int payloadBytes(Pages pages, GuestMemory memory, int maxPayloadBytes) {
    int count = pages.getIndicesCount();
    long expected = (long) count * memory.pageSize();
    long declared = Integer.toUnsignedLong(pages.getPayloadBytes());
    if (declared != expected) {
      throw new DataPlaneException("payload_bytes " + declared + " does not match " + count + " pages of " + memory.pageSize() + " bytes");
    }
    if (expected > maxPayloadBytes) throw new DataPlaneException("payload of " + expected + " bytes exceeds limit " + maxPayloadBytes);
    for (int i = 0; i < count; i++) checkPage(pages.getIndices(i), memory);
    for (int i = 0; i < pages.getZeroIndicesCount(); i++) checkPage(pages.getZeroIndices(i), memory);
    return (int) expected;
  }

  private static void checkPage(long page, GuestMemory memory) {
    if (page < 0 || page >= memory.pageCount()) {
      throw new DataPlaneException("page " + Long.toUnsignedString(page) + " outside guest of " + memory.pageCount() + " pages");
    }
  }
}
