package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * A virtual disk's file: a superblock saying whose disk it is (guest, disk, identity, shape),
 * then the data blocks. Positional reads and writes, so requests in flight never share a file
 * position. The identity is a random id chosen when the file was created: a destination that
 * opens "the same" file on shared storage checks it, so a datastore of the same name that is
 * not in fact shared is refused instead of silently used.
 */
public final class DiskFile implements AutoCloseable, MirrorTarget {
  private static final int MAGIC = 0x4C4D444B; // "LMDK"
  private static final short VERSION = 1;

  private final Path path;
  private final FileChannel channel;
  /**
   * The same file opened with O_DSYNC on the first durable write: such a write syncs its own range
   * only, where force() would also flush everything a bulk copy wrote (seconds for a large copy).
   */
  private volatile FileChannel durable;
  private final int blockSize;
  private final long blockCount;

  private DiskFile(Path path, FileChannel channel, int blockSize, long blockCount) {
    this.path = path;
    this.channel = channel;
    this.blockSize = blockSize;
    this.blockCount = blockCount;
  }

  /** A new, zero-filled (sparse) disk file; refuses to overwrite an existing one. */
  public static DiskFile create(Path path, String guestId, String diskId, String identity, int blockSize,
      long blockCount) throws IOException {
    Files.createDirectories(path.getParent());
    FileChannel ch;
    try {
      ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (FileAlreadyExistsException e) {
      throw new IOException("disk file " + path + " already exists", e);
    }
    try {
      ByteBuffer sb = superblock(guestId, diskId, identity, blockSize, blockCount);
      while (sb.hasRemaining()) ch.write(sb, sb.position());
      // The last byte makes the file its full size (sparse): reads of unwritten blocks give zeros.
      ch.write(ByteBuffer.wrap(new byte[1]), (blockCount + 1) * blockSize - 1);
      ch.force(true);
      return new DiskFile(path, ch, blockSize, blockCount);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Opens an existing disk file and checks it is the guest's disk with this identity and shape. */
  public static DiskFile open(Path path, String guestId, String diskId, String identity, int blockSize,
      long blockCount) throws IOException {
    FileChannel ch;
    try {
      ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (NoSuchFileException e) {
      throw new IOException("disk file " + path + " does not exist (is the datastore shared with the source?)", e);
    }
    try {
      ByteBuffer expected = superblock(guestId, diskId, identity, blockSize, blockCount);
      ByteBuffer actual = ByteBuffer.allocate(expected.capacity());
      while (actual.hasRemaining() && ch.read(actual, actual.position()) >= 0) {}
      if (!actual.flip().equals(expected)) {
        throw new OtherDiskException("disk file " + path + " is not disk " + diskId + " of guest " + guestId
            + " with identity " + identity + " (another disk of the same name: is the datastore shared?)");
      }
      return new DiskFile(path, ch, blockSize, blockCount);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static ByteBuffer superblock(String guestId, String diskId, String identity, int blockSize, long blockCount) {
    byte[] g = guestId.getBytes(StandardCharsets.UTF_8);
    byte[] d = diskId.getBytes(StandardCharsets.UTF_8);
    byte[] i = identity.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(blockSize);
    b.putInt(MAGIC).putShort(VERSION).putInt(blockSize).putLong(blockCount);
    b.putShort((short) g.length).put(g).putShort((short) d.length).put(d).putShort((short) i.length).put(i);
    CRC32 crc = new CRC32();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    return b.clear();
  }

  public Path path() { return path; }

  @Override public int blockSize() { return blockSize; }

  @Override public long blockCount() { return blockCount; }

  @Override public void flush() throws IOException { force(); }

  @Override public String describe() { return path.toString(); }

  public long sizeBytes() { return blockCount * blockSize; }

  /** Writes one block and makes it durable before returning (the guest sees the ack only then). */
  @Override
  public void writeDurably(long block, ByteBuffer data) throws IOException {
    writeRun(durable(), block, data.duplicate().clear());
  }

  /** As writeBlocks, each run durable when written (a mirrored guest write), nothing else forced. */
  public void writeBlocksDurably(long[] blocks, int count, ByteBuffer data) throws IOException {
    writeBlocks(durable(), blocks, count, data);
  }

  private FileChannel durable() throws IOException {
    FileChannel d = durable;
    if (d != null) return d;
    synchronized (this) { // never opened once closed: no descriptor left behind
      if (!channel.isOpen()) throw new java.nio.channels.ClosedChannelException();
      if (durable == null) durable = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.DSYNC);
      return durable;
    }
  }

  /** Not yet durable (a bulk copy forces once at the end of its pass); one write call per run of consecutive blocks. */
  @Override
  public void writeBlocks(long[] blocks, int count, ByteBuffer data) throws IOException {
    writeBlocks(channel, blocks, count, data);
  }

  private void writeBlocks(FileChannel ch, long[] blocks, int count, ByteBuffer data) throws IOException {
    if (data.remaining() != count * blockSize) throw new IllegalArgumentException(data.remaining() + " bytes for " + count + " blocks");
    ByteBuffer b = data.duplicate();
    int base = data.position();
    for (int i = 0, run; i < count; i += run) {
      for (run = 1; i + run < count && blocks[i + run] == blocks[i] + run; run++) {}
      b.limit(base + (i + run) * blockSize).position(base + i * blockSize);
      writeRun(ch, blocks[i], b);
    }
  }

  /** Writes consecutive whole blocks from first on: data's position..limit, consumed. */
  private void writeRun(FileChannel ch, long first, ByteBuffer data) throws IOException {
    checkBlocks(first, data.remaining());
    long pos = (first + 1) * blockSize - data.position();
    while (data.hasRemaining()) ch.write(data, pos + data.position());
  }

  /** Makes every write so far durable. */
  public void force() throws IOException {
    channel.force(false);
  }

  public void read(long block, ByteBuffer into) throws IOException {
    checkBlock(block);
    into.clear();
    long pos = (block + 1) * blockSize;
    while (into.hasRemaining()) {
      if (channel.read(into, pos + into.position()) < 0) throw new IOException("short read of block " + block + " in " + path);
    }
    into.clear();
  }

  /** Reads consecutive whole blocks from first on into into's position..limit (position ends at the limit). */
  public void readBlocks(long first, ByteBuffer into) throws IOException {
    checkBlocks(first, into.remaining());
    long pos = (first + 1) * blockSize - into.position();
    while (into.hasRemaining()) {
      if (channel.read(into, pos + into.position()) < 0) throw new IOException("short read of block " + first + " in " + path);
    }
  }

  private void checkBlocks(long first, int bytes) {
    if (bytes % blockSize != 0) throw new IllegalArgumentException(bytes + " bytes are not whole blocks of " + blockSize);
    if (bytes == 0) return;
    checkBlock(first);
    checkBlock(first + bytes / blockSize - 1);
  }

  private void checkBlock(long block) {
    if (block < 0 || block >= blockCount) {
      throw new IndexOutOfBoundsException("block " + block + " outside disk of " + blockCount + " blocks");
    }
  }

  public boolean isOpen() { return channel.isOpen(); }

  /** The same file opened again, read-only: to check a closed disk (its guest powered off). */
  public DiskFile reopenForReading() throws IOException {
    return new DiskFile(path, FileChannel.open(path, StandardOpenOption.READ), blockSize, blockCount);
  }

  @Override
  public void close() throws IOException {
    FileChannel d;
    synchronized (this) {
      channel.close();
      d = durable;
    }
    if (d != null) d.close();
  }
}
