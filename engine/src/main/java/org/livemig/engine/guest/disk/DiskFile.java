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
    write(block, data);
    force();
  }

  /** Writes one block, not yet durable (a bulk copy forces once at the end of its pass). */
  @Override
  public void write(long block, ByteBuffer data) throws IOException {
    checkBlock(block);
    ByteBuffer b = data.duplicate().clear();
    long pos = (block + 1) * blockSize;
    while (b.hasRemaining()) channel.write(b, pos + b.position());
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

  private void checkBlock(long block) {
    if (block < 0 || block >= blockCount) {
      throw new IndexOutOfBoundsException("block " + block + " outside disk of " + blockCount + " blocks");
    }
  }

  public boolean isOpen() { return channel.isOpen(); }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
