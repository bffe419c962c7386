package org.livemig.engine.guest.disk;

import static org.livemig.engine.guest.SplitMix64.GAMMA;
import static org.livemig.engine.guest.SplitMix64.mix64;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import org.livemig.messages.DiskDescription;

/**
 * The one definition of a synthetic disk's history: which block write k goes to and what a
 * block holds after it. Shared by the disk workload (which writes) and {@link DiskOracle}
 * (which checks), so the two cannot drift apart.
 *
 * <p>A block is a 32-byte header, then a payload derived from (seed, disk, k). The header says
 * who wrote it: the write's sequence number, the guest's ownership generation and a hash of the
 * host id, so the checker can tell a late write of a host that no longer owned the guest from a
 * lost one. Block never written: all zeros.
 */
public final class BlockContent {
  public static final int HEADER = 32;
  public static final int DEFAULT_BLOCK_SIZE = 4096;
  private static final int MAGIC = 0x4C4D424B; // "LMBK"
  private static final long SALT_BLOCK = 0x3C6EF372FE94F82BL;
  private static final long SALT_DATA = 0xA54FF53A5F1D36F1L;
  private static final long SALT_READ = 0x510E527FADE682D1L;

  private final int blockSize;
  private final long blockCount;
  private final long blockBase;
  private final long dataBase;
  private final long readBase;

  public BlockContent(long seed, int diskIndex, DiskDescription d) {
    validate(d);
    this.blockSize = blockSize(d);
    this.blockCount = d.getBlockCount();
    long key = mix64(seed ^ mix64(diskIndex + 1L));
    this.blockBase = mix64(key ^ SALT_BLOCK);
    this.dataBase = mix64(key ^ SALT_DATA);
    this.readBase = mix64(key ^ SALT_READ);
  }

  public static int blockSize(DiskDescription d) {
    return d.getBlockSize() == 0 ? DEFAULT_BLOCK_SIZE : d.getBlockSize();
  }

  /** Rejects descriptions the workload cannot honour, naming the offending field. */
  public static void validate(DiskDescription d) {
    int bs = blockSize(d);
    if (bs < 512 || Integer.bitCount(bs) != 1 || bs > 1 << 20) {
      throw new IllegalArgumentException("disk " + d.getDiskId() + ": block_size must be a power of two in 512..1048576, was "
          + Integer.toUnsignedString(d.getBlockSize()));
    }
    if (d.getBlockCount() <= 0 || d.getBlockCount() > (1L << 40) / bs) {
      throw new IllegalArgumentException("disk " + d.getDiskId() + ": block_count must be in 1.." + (1L << 40) / bs
          + " (1 TiB), was " + Long.toUnsignedString(d.getBlockCount()));
    }
    if (Integer.compareUnsigned(d.getQueueDepth(), 256) > 0) {
      throw new IllegalArgumentException("disk " + d.getDiskId() + ": queue_depth must be <= 256, was "
          + Integer.toUnsignedString(d.getQueueDepth()));
    }
    if (Integer.compareUnsigned(d.getReadsPerMille(), 10_000) > 0) {
      throw new IllegalArgumentException("disk " + d.getDiskId() + ": reads_per_mille must be <= 10000, was "
          + Integer.toUnsignedString(d.getReadsPerMille()));
    }
    if (d.getWritesPerSecond() < 0 || d.getWritesPerSecond() > 1_000_000) {
      throw new IllegalArgumentException("disk " + d.getDiskId() + ": writes_per_second must be <= 1000000, was "
          + Long.toUnsignedString(d.getWritesPerSecond()));
    }
  }

  public int blockSize() { return blockSize; }

  public long blockCount() { return blockCount; }

  /** The block write k goes to. */
  public long blockAt(long k) {
    return Long.remainderUnsigned(mix64(blockBase + k * GAMMA), blockCount);
  }

  /** The block the guest's read number r looks at. */
  public long readBlockAt(long r) {
    return Long.remainderUnsigned(mix64(readBase + r * GAMMA), blockCount);
  }

  /** Fills out (blockSize bytes, position 0) with what write k by (generation, host) puts in its block. */
  public void fill(ByteBuffer out, long k, int generation, int hostHash) {
    out.clear().order(ByteOrder.LITTLE_ENDIAN);
    out.position(HEADER);
    long base = dataBase + k * GAMMA;
    for (int i = 0; out.remaining() >= Long.BYTES; i++) out.putLong(mix64(base + (i + 1) * GAMMA));
    int payloadCrc = crc(out, HEADER, blockSize - HEADER);
    out.putInt(0, MAGIC).putLong(4, k).putInt(12, generation).putInt(16, hostHash).putInt(20, payloadCrc);
    out.putLong(24, 0L);
    out.clear();
  }

  /** What a block's header says about its last write, or null if the block was never written (all zeros). */
  public Written parse(ByteBuffer block) {
    block.order(ByteOrder.LITTLE_ENDIAN);
    int magic = block.getInt(0);
    if (magic == 0 && isZero(block)) return null;
    boolean intact = magic == MAGIC && crc(block, HEADER, blockSize - HEADER) == block.getInt(20);
    return new Written(block.getLong(4), block.getInt(12), block.getInt(16), intact);
  }

  /** A block's header: write k by (generation, host); intact when magic and payload checksum hold. */
  public record Written(long k, int generation, int hostHash, boolean intact) {}

  /** True when the block holds exactly what write k by (generation, host) wrote. */
  public boolean holds(ByteBuffer block, long k, int generation, int hostHash, ByteBuffer scratch) {
    fill(scratch, k, generation, hostHash);
    return block.clear().equals(scratch);
  }

  public static int hostHash(String hostId) {
    CRC32 crc = new CRC32();
    crc.update(hostId.getBytes(StandardCharsets.UTF_8));
    return (int) crc.getValue();
  }

  private static boolean isZero(ByteBuffer b) {
    for (int i = 0; i + Long.BYTES <= b.capacity(); i += Long.BYTES) if (b.getLong(i) != 0) return false;
    return true;
  }

  private static int crc(ByteBuffer b, int from, int len) {
    CRC32 crc = new CRC32();
    crc.update(b.duplicate().clear().position(from).limit(from + len));
    return (int) crc.getValue();
  }
}
