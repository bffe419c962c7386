package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.livemig.engine.guest.disk.DiskFile;
import org.livemig.messages.Blocks;
import org.livemig.messages.BlocksAck;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Destination end of a migration's DISK_BLOCKS stream: writes each frame's blocks into the
 * destination's new disk files, in order; a sync frame is made durable before it is acknowledged.
 * A block whose payload fails its checksum fails the stream (and with it the migration): the
 * source's blocks are not resent. The stream is whole once the source's last frame arrived.
 */
public final class BlockReceiver implements StreamHandler {
  private static final Logger log = LoggerFactory.getLogger(BlockReceiver.class);

  private final String migrationId;
  private final List<DiskFile> disks;
  // Guarded by this.
  private DataChannel open;
  private boolean forgotten;
  private final boolean[] diskWhole; // the receiving thread only
  private ByteBuffer payload = ByteBuffer.allocateDirect(0); // the receiving thread only, as are blocks
  private long[] blocks = new long[0];
  private volatile boolean whole;
  private volatile String failure;
  private volatile long bytesWritten;

  public BlockReceiver(String migrationId, List<DiskFile> disks) {
    this.migrationId = migrationId;
    this.disks = List.copyOf(disks);
    this.diskWhole = new boolean[disks.size()];
    this.whole = disks.isEmpty();
  }

  /** Every block the source sent is durable here and it said each disk is whole. */
  public boolean whole() { return whole && failure == null; }

  /** Why the stream failed, or null. */
  public String failure() { return failure; }

  public long bytesWritten() { return bytesWritten; }

  @Override
  public synchronized Admission admit(ChannelHeader header, DataChannel channel) {
    if (forgotten) return Admission.refuse("unknown migration " + migrationId);
    if (open != null || whole || failure != null) {
      // One stream per migration: blocks lost with a broken one are never sent again on another.
      return Admission.refuse("migration " + migrationId + " has had its disk stream"
          + (failure != null ? " (it failed: " + failure + ")" : ""));
    }
    open = channel;
    return Admission.serve(() -> {
      Thread.currentThread().setName("dataplane-blocks-rx-" + migrationId);
      log.info("accepted the disk stream of migration {} from {}", migrationId, channel.remoteAddress());
      receive(channel);
    });
  }

  private void receive(DataChannel channel) {
    FrameCodec codec = channel.codec();
    try (MirroredWrites mirrored = new MirroredWrites(migrationId); WriteBehind behind = new WriteBehind(migrationId, disks)) {
      while (true) { // until the source closes the stream, after the last disk was whole
        Frame f = codec.readFrame();
        if (!f.hasBlocks()) throw new DataPlaneException("unexpected frame on the disk stream: " + f.getKindCase());
        Blocks b = f.getBlocks();
        if (b.getSync() && b.getBlocksCount() > 0) {
          DiskFile disk = read(codec, b); // a mirrored guest write: durable and acked beside the others
          mirrored.submit(disk, blocks, b.getBlocksCount(), payload, () -> ack(codec, b.getSeq()));
          bytesWritten += b.getPayloadBytes();
          continue;
        }
        write(codec, b);
        behind.written(b.getPayloadBytes());
        if (b.getSync()) { // a barrier: everything so far durable
          mirrored.awaitAll();
          behind.awaitIdle();
          for (DiskFile d : disks) d.force();
          if (b.getLast()) {
            diskWhole[b.getDisk()] = true;
            boolean all = true;
            for (boolean w : diskWhole) all &= w;
            whole = all;
          }
          ack(codec, b.getSeq());
        }
      }
    } catch (IOException | RuntimeException e) {
      boolean quiet;
      synchronized (this) {
        quiet = forgotten;
      }
      if (whole) {
        log.info("disk stream of migration {} ended, every disk whole: {} bytes written", migrationId, bytesWritten);
      } else if (!quiet) {
        failure = e.getMessage();
        log.warn("disk stream of migration {} failed: {}", migrationId, failure);
      }
    } finally {
      synchronized (this) {
        open = null;
      }
    }
  }

  private static void ack(FrameCodec codec, long seq) {
    synchronized (codec) { // acks go from the mirrored writes' threads too
      codec.writeMessage(Frame.newBuilder().setBlocksAck(BlocksAck.newBuilder().setSeq(seq)).build());
    }
  }

  /**
   * One frame's blocks into their disk, one write call per run of consecutive blocks; a frame
   * that does not fit the disk is refused, not written in part.
   */
  private void write(FrameCodec codec, Blocks b) throws IOException {
    read(codec, b).writeBlocks(blocks, b.getBlocksCount(), payload);
    bytesWritten += b.getPayloadBytes();
  }

  /** A frame's block numbers into blocks and its checked payload into payload; the disk they go to. */
  private DiskFile read(FrameCodec codec, Blocks b) throws IOException {
    if (b.getDisk() >= disks.size()) throw new DataPlaneException("disk " + b.getDisk() + " of " + disks.size() + " disks");
    DiskFile disk = disks.get(b.getDisk());
    int count = b.getBlocksCount();
    if ((long) count * disk.blockSize() != b.getPayloadBytes() || b.getPayloadBytes() > codec.maxPayloadBytes()) {
      throw new DataPlaneException(count + " blocks in a payload of " + b.getPayloadBytes() + " bytes (at most "
          + codec.maxPayloadBytes() + ")");
    }
    if (payload.capacity() < b.getPayloadBytes()) payload = ByteBuffer.allocateDirect(b.getPayloadBytes()); // the largest batch once
    if (blocks.length < count) blocks = new long[count];
    for (int i = 0; i < count; i++) {
      blocks[i] = b.getBlocks(i);
      if (blocks[i] < 0 || blocks[i] >= disk.blockCount()) {
        throw new DataPlaneException("block " + blocks[i] + " outside disk " + b.getDisk());
      }
    }
    codec.readPayload(payload, b.getPayloadBytes());
    if (!codec.payloadIntact()) throw new DataPlaneException("disk blocks failed their checksum: the link corrupts data");
    return disk;
  }

  @Override
  public void forget() {
    DataChannel c;
    synchronized (this) {
      forgotten = true;
      c = open;
    }
    if (c != null) c.close();
  }
}
