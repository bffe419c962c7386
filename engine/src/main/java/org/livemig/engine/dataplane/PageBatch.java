package org.livemig.engine.dataplane;

import java.nio.ByteBuffer;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.Pages;

/**
 * The pages of one PAGES frame as the sender collects them: indices, zero-page indices and the
 * payload as views of guest memory, one per contiguous run of pages. The payload is copied from
 * those views into one staging buffer, reused for every batch, and the frame is written from
 * there: the kernel reads memory it has read before rather than guest pages it may never have
 * touched (on this benchmark's virtualised host the kernel's first access to a page costs about
 * as much as the whole send). A page is read once by the zero check (which stops at the first
 * non-zero word) and once by the copy. Views are reused across batches, so a steady round
 * allocates nothing per page.
 */
public final class PageBatch {
  private final int capacity;
  private final int maxZeros;
  private final long[] pages;
  private final long[] zeros;
  /** Slots 1..runs are the payload views (slot 0 the frame head when they are written as they are). */
  private final ByteBuffer[] buffers;
  /** What is written: the frame head, the staged payload, then the checksum trailer if any. */
  private final ByteBuffer[] out = new ByteBuffer[3];
  private ByteBuffer stage;
  private final int[] viewChunk;
  private int n;
  private int z;
  private int runs;
  private long runStart = -1;
  private int runLength;
  private int pageSize;
  private boolean trailer;
  private int count; // buffers to write when they are the views themselves, else 0

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

  /** Head, the payload staged from the views, then the codec's payload checksum if it has checksums; valid until clear. */
  public ByteBuffer[] buffers(ByteBuffer head, FrameCodec codec) {
    if (!codec.stagesPayloads()) { // TLS: the views go to the encryption as they are
      buffers[0] = head;
      count = runs + 1;
      return buffers;
    }
    count = 0;
    if (stage == null || stage.capacity() < n * pageSize) stage = ByteBuffer.allocateDirect(Math.max(n, capacity) * pageSize);
    stage.clear();
    for (int i = 1; i <= runs; i++) stage.put(buffers[i]); // consumes the view; the next batch points it again
    out[0] = head;
    out[1] = stage.flip();
    out[2] = codec.payloadTrailer(out, 1, 2);
    trailer = out[2] != null;
    return out;
  }

  public int bufferCount() {
    return count > 0 ? count : trailer ? 3 : 2;
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
