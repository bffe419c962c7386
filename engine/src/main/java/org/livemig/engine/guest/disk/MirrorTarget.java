package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a disk mirror writes: another file of this host (a storage-only move) or the destination
 * host's new file over the migration's disk stream.
 */
public interface MirrorTarget {
  int blockSize();

  long blockCount();

  /**
   * Blocks of the bulk copy, durable by the next {@link #flush}: blocks[i]'s content at data's
   * position + i * blockSize, count blocks up to its limit (not consumed).
   */
  void writeBlocks(long[] blocks, int count, ByteBuffer data) throws IOException;

  /** A guest write under the installed mirror: durable when this returns. */
  void writeDurably(long block, ByteBuffer data) throws IOException;

  /** Every block written so far is durable when this returns. */
  void flush() throws IOException;

  /** For messages: where the blocks go. */
  String describe();
}
