package org.livemig.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.livemig.engine.dataplane.BlockStream;
import org.livemig.engine.guest.disk.MirrorTarget;

/** One disk's blocks on the destination host, through the migration's disk stream. */
final class RemoteDisk implements MirrorTarget {
  private final BlockStream stream;
  private final int disk;
  private final int blockSize;
  private final long blockCount;

  RemoteDisk(BlockStream stream, int disk, int blockSize, long blockCount) {
    this.stream = stream;
    this.disk = disk;
    this.blockSize = blockSize;
    this.blockCount = blockCount;
  }

  @Override public int blockSize() { return blockSize; }

  @Override public long blockCount() { return blockCount; }

  /** One frame for the batch. */
  @Override
  public void writeBlocks(long[] blocks, int count, ByteBuffer data) throws IOException {
    stream.send(disk, blocks, count, data, false, false);
  }

  @Override
  public void writeDurably(long block, ByteBuffer data) throws IOException {
    stream.awaitAck(stream.send(disk, new long[] {block}, 1, data.duplicate().clear(), true, false));
  }

  @Override
  public void flush() throws IOException {
    stream.sync(disk, false);
  }

  @Override public String describe() { return "disk " + disk + " on the destination"; }
}
