package org.livemig.engine.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Guest memory in chunks allocated in parallel: every page addressable, pages whole in one chunk. */
class GuestMemoryTest {
  private static byte[] page(int size, int fill) {
    byte[] b = new byte[size];
    Arrays.fill(b, (byte) fill);
    return b;
  }

  @Test
  void pagesOnBothSidesOfAChunkBoundaryKeepTheirContent() {
    int pageSize = 4096;
    long perChunk = GuestMemory.CHUNK_BYTES / pageSize;
    GuestMemory m = new GuestMemory(pageSize, 2 * perChunk + 3); // three chunks, the last one short
    assertEquals(2, m.chunkIndex(m.pageCount() - 1));
    long[] pages = {0, perChunk - 1, perChunk, 2 * perChunk - 1, 2 * perChunk, m.pageCount() - 1};
    for (int i = 0; i < pages.length; i++) m.writePage(pages[i], page(pageSize, i + 1));
    byte[] read = new byte[pageSize];
    for (int i = 0; i < pages.length; i++) {
      m.readPage(pages[i], read);
      assertArrayEquals(page(pageSize, i + 1), read, "page " + pages[i]);
    }
    assertTrue(m.isZeroPage(1), "a page never written reads as zeroes");
    assertNotEquals(m.chunkIndex(perChunk - 1), m.chunkIndex(perChunk));
    assertThrows(IllegalArgumentException.class, () -> m.pagesView(perChunk - 1, 2, null), "a view never spans two chunks");
  }

  @Test
  void everyChunkIsAllocatedWithItsOwnSize() {
    ByteBuffer[] chunks = ChunkAllocator.allocate(40, i -> 4096L * (i + 1));
    for (int i = 0; i < chunks.length; i++) {
      assertEquals(4096 * (i + 1), chunks[i].capacity(), "chunk " + i);
      assertEquals(java.nio.ByteOrder.LITTLE_ENDIAN, chunks[i].order());
    }
  }

  @Test
  void aFailedChunkIsThrownToTheCallerWithItsMessage() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ChunkAllocator.allocate(40, i -> i == 7 ? -1 : 4096)); // allocateDirect(-1) refuses
    assertTrue(e.getMessage() != null && e.getMessage().contains("capacity"), String.valueOf(e.getMessage()));
  }

  @Test
  void pagesLargerThanAChunkGetAChunkEach() {
    int pageSize = (int) (2 * GuestMemory.CHUNK_BYTES); // e.g. huge pages: one page per chunk
    GuestMemory m = new GuestMemory(pageSize, 2);
    assertEquals(0, m.chunkIndex(0));
    assertEquals(1, m.chunkIndex(1));
    m.putLong(1, pageSize - 8, 42L);
    assertEquals(42L, m.getLong(1, pageSize - 8));
    ByteBuffer view = m.pagesView(1, 1, null);
    assertEquals(pageSize, view.remaining());
    assertTrue(m.isZeroPage(0));
  }
}
