package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.livemig.messages.Blocks;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.livemig.messages.StreamKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source end of a migration's DISK_BLOCKS channel: blocks of the guest's disks written in
 * order by any thread (the bulk copy, the guest's mirrored writes), and the acknowledgements of
 * sync frames read back on a thread of its own. A mirrored write waits for its ack: the guest
 * sees it acknowledged only once it is durable on both hosts. A missing ack within the ack
 * timeout fails the stream (silence is not success).
 */
public final class BlockStream implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BlockStream.class);
  private static final LinkOptions LINK = new LinkOptions(1 << 20, 0, true);
  private static final long[] NO_BLOCKS = {};

  private final DataChannel link;
  private final FrameCodec codec;
  private final String migrationId;
  private final Duration ackTimeout;
  private final Thread reader;
  private long seq; // guarded by this (the send lock)
  private final ByteBuffer[] out = new ByteBuffer[3]; // guarded by this: a frame's head, payload and trailer
  private final ByteBuffer noPayload = ByteBuffer.allocate(0); // a sync frame's
  // Guarded by acks.
  private final Object acks = new Object();
  /** Acknowledged sync frames nobody has waited for yet: mirrored writes are acked in any order. */
  private final java.util.Set<Long> acked = new java.util.HashSet<>();
  private String failure;

  private BlockStream(DataChannel link, String migrationId, Duration ackTimeout) {
    this.link = link;
    this.codec = link.codec();
    this.migrationId = migrationId;
    this.ackTimeout = ackTimeout;
    this.reader = new Thread(this::readAcks, "dataplane-blocks-ack-" + migrationId);
    this.reader.setDaemon(true);
    this.reader.start();
  }

  /**
   * Dials the destination's data port for the migration's DISK_BLOCKS stream. On an authenticating
   * transport a peer that cannot prove it is destinationHost gets nothing (null = any peer).
   */
  public static BlockStream connect(String host, int port, String migrationId, String token, DataPlaneSettings settings,
      String destinationHost) {
    ChannelHeader header = ChannelHeader.newBuilder().setProtocolVersion(DataPlane.PROTOCOL_VERSION)
        .setMigrationId(migrationId).setToken(token).setKind(StreamKind.DISK_BLOCKS).build();
    try {
      LinkOptions options = destinationHost == null || destinationHost.isEmpty() ? LINK : LINK.expecting(destinationHost);
      DataChannel link = DataChannel.dial(host, port, options, header, settings, "disk stream of migration " + migrationId);
      log.info("disk stream of migration {} connected to {}:{}", migrationId, host, port);
      return new BlockStream(link, migrationId, settings.stallTimeout());
    } catch (IOException e) {
      throw new DataPlaneException("cannot connect the disk stream of migration " + migrationId + " to " + host + ":"
          + port + ": " + e, e);
    }
  }

  /**
   * Writes blocks[0 .. count) of one disk as one frame, their contents in payload (position to
   * limit, block after block; not consumed); returns its sequence number. With sync the
   * destination makes the frame's blocks durable (without blocks: everything so far) and
   * acknowledges it (see {@link #awaitAck}).
   */
  public synchronized long send(int disk, long[] blocks, int count, ByteBuffer payload, boolean sync, boolean last)
      throws IOException {
    checkUsable();
    Blocks.Builder b = Blocks.newBuilder().setDisk(disk).setPayloadBytes(payload.remaining()).setSeq(++seq)
        .setSync(sync).setLast(last);
    for (int i = 0; i < count; i++) b.addBlocks(blocks[i]);
    int position = payload.position();
    try {
      out[0] = codec.encode(Frame.newBuilder().setBlocks(b).build());
      out[1] = payload;
      out[2] = codec.payloadTrailer(out, 1, 2);
      codec.writeFully(out, 0, out[2] == null ? 2 : 3);
    } catch (DataPlaneException e) {
      fail(e.getMessage());
      throw new IOException("disk stream of migration " + migrationId + ": " + e.getMessage(), e);
    } finally {
      payload.position(position);
      out[1] = null; // the caller's buffer
    }
    return seq;
  }

  /**
   * Waits until the destination acknowledged sync frame seq: its blocks are durable there, and for
   * a frame without blocks (a barrier) everything sent before it.
   */
  public void awaitAck(long seq) throws IOException {
    long deadline = System.nanoTime() + ackTimeout.toNanos();
    synchronized (acks) {
      boolean got;
      while (!(got = acked.remove(seq)) && failure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail("no acknowledgement of disk frame " + seq + " within " + ackTimeout.toMillis() + " ms");
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(acks, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted waiting for the destination's acknowledgement", e);
        }
      }
      if (!got) throw new IOException("disk stream of migration " + migrationId + ": " + failure);
    }
  }

  /**
   * A barrier: everything sent so far is durable on the destination when this returns; with last,
   * the disk is whole there (the destination's Finish checks every disk said so).
   */
  public void sync(int disk, boolean last) throws IOException {
    awaitAck(send(disk, NO_BLOCKS, 0, noPayload, true, last));
  }

  private void readAcks() {
    try {
      while (true) {
        Frame f = codec.readFrame();
        if (!f.hasBlocksAck()) throw new DataPlaneException("unexpected frame on the disk stream: " + f.getKindCase());
        synchronized (acks) {
          acked.add(f.getBlocksAck().getSeq());
          acks.notifyAll();
        }
      }
    } catch (RuntimeException e) {
      fail(e.getMessage());
    }
  }

  private void fail(String reason) {
    synchronized (acks) {
      if (failure == null) {
        failure = reason;
        if (link.isOpen()) log.warn("disk stream of migration {} failed: {}", migrationId, reason);
      }
      acks.notifyAll();
    }
    link.close();
  }

  private void checkUsable() throws IOException {
    synchronized (acks) {
      if (failure != null) throw new IOException("disk stream of migration " + migrationId + " failed: " + failure);
    }
  }

  /** Closes the channel; a later send or wait fails. */
  @Override
  public void close() {
    synchronized (acks) {
      if (failure == null) failure = "closed";
      acks.notifyAll();
    }
    link.close();
  }
}
