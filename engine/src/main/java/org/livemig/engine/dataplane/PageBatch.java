package org.livemig.engine.dataplane;

import java.nio.ByteBuffer;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.Pages;

/**
 * The pages of one PAGES frame as the sender collects them: indices, zero-page indices and the
 * payload as views of guest memory, one per contiguous run of pages. The frame is gather-written
 * straight from guest memory, so a page is read once by the zero check (which stops at the first
 * non-zero word) and once by the kernel; no batch copy. Views are reused across batches, so a
 * steady round allocates nothing per page.
 */
public final class PageBatch {
  private final int capacity;
  private final int maxZeros;
  private final long[] pages;
  private final long[] zeros;
  /** Slot 0 is the frame head; slots 1..runs are the payload views, then the checksum trailer if any. */
  private final ByteBuffer[] buffers;
  private final int[] viewChunk;
  private int n;
  private int z;
  private int runs;
  private long runStart = -1;
  private int runLength;
  private int pageSize;
  private boolean trailer;

  public PageBatch(int capacity, int maxZeros) {
    this.capacity = capacity;
    this.maxZeros = maxZeros;
    this.pages = new long[capacity];
    this.zeros = new long[maxZeros];
    this.buffers = new ByteBuffer[capacity + 2];
    this.viewChunk = new int[capacity + 2];
  }

  public int capacity() {
    return capacity;
  }

  public boolean isEmpty() {
    return n == 0 && z == 0;
  }

  public boolean isFull() {
    return n == capacity || z == maxZeros;
  }

  public void zero(long page) {
    zeros[z++] = page;
  }

  /** Adds a page with content: extends the current run when contiguous in the same chunk. */
  public void page(GuestMemory memory, long page) {
    pageSize = memory.pageSize();
    if (runLength > 0 && page == runStart + runLength && memory.chunkIndex(page) == memory.chunkIndex(runStart)) {
      runLength++;
    } else {
      closeRun(memory);
      runStart = page;
      runLength = 1;
    }
    pages[n++] = page;
  }

  private void closeRun(GuestMemory memory) {
    if (runLength == 0) return;
    int slot = ++runs;
    int chunk = memory.chunkIndex(runStart);
    ByteBuffer reuse = buffers[slot] != null && viewChunk[slot] == chunk ? buffers[slot] : null;
    buffers[slot] = memory.pagesView(runStart, runLength, reuse);
    viewChunk[slot] = chunk;
    runLength = 0;
  }

  /** The frame's header message; call once the batch is complete. */
  public Pages header(GuestMemory memory) {
    closeRun(memory);
    Pages.Builder p = Pages.newBuilder().setPayloadBytes(n * pageSize);
    for (int i = 0; i < n; i++) p.addIndices(pages[i]);
    for (int i = 0; i < z; i++) p.addZeroIndices(zeros[i]);
    return p.build();
  }

  /** Head in slot 0, then the payload views, then the codec's payload checksum if it has checksums; valid until clear. */
  public ByteBuffer[] buffers(ByteBuffer head, FrameCodec codec) {
    buffers[0] = head;
    ByteBuffer t = codec.payloadTrailer(buffers, 1, runs + 1);
    trailer = t != null;
    if (trailer) {
      buffers[runs + 1] = t;
      viewChunk[runs + 1] = -1; // not a view: the next batch must not reuse it as one
    }
    return buffers;
  }

  public int bufferCount() {
    return runs + 1 + (trailer ? 1 : 0);
  }

  public void clear() {
    n = 0;
    z = 0;
    runs = 0;
    runLength = 0;
    runStart = -1;
    trailer = false;
  }
}
