package org.livemig.engine.dataplane;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.CheckpointBlocks;
import org.livemig.messages.CheckpointEnd;
import org.livemig.messages.CheckpointPages;
import org.livemig.messages.Frame;
import org.livemig.messages.StreamKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's end of a protected guest's CHECKPOINT stream: pages and end records written by
 * one thread (the checkpointer), acknowledgements read back on a thread of their own. A missing
 * ack within the caller's timeout fails the stream: silence is not success; so does a write
 * that moves no byte for the stall timeout (a secondary that stopped reading).
 */
public final class CheckpointStream implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CheckpointStream.class);
  private static final LinkOptions LINK = new LinkOptions(1 << 20, 0, true);

  private final DataChannel link;
  private final FrameCodec codec;
  private final String protectionId;
  private final Thread reader;
  private final Watchdog.Watch stall;
  // While a write is in progress: when it began (a secondary that stops reading must not block the primary forever).
  private volatile boolean writing;
  private volatile long writeStartNanos;
  // Guarded by acks.
  private final Object acks = new Object();
  private long acked;
  private String failure;

  private CheckpointStream(DataChannel link, String protectionId, Duration stallTimeout) {
    this.link = link;
    this.codec = link.codec();
    this.protectionId = protectionId;
    this.stall = Watchdog.shared().watch(() -> writing ? Math.max(writeStartNanos, codec.lastActivityNanos()) : System.nanoTime(),
        stallTimeout.toNanos(), idle -> fail("no byte could be written for " + stallTimeout.toMillis() + " ms: the secondary does not read"));
    this.reader = new Thread(this::readAcks, "dataplane-checkpoint-ack-" + protectionId);
    this.reader.setDaemon(true);
    this.reader.start();
  }

  /**
   * Dials the secondary's data port for the protection's CHECKPOINT stream (registered there as a
   * migration id with its token). On an authenticating transport a peer that cannot prove it is
   * secondaryHost gets nothing (null = any peer).
   */
  public static CheckpointStream connect(String host, int port, String protectionId, String token, DataPlaneSettings settings,
      String secondaryHost) {
    ChannelHeader header = ChannelHeader.newBuilder().setProtocolVersion(DataPlane.PROTOCOL_VERSION)
        .setMigrationId(protectionId).setToken(token).setKind(StreamKind.CHECKPOINT).build();
    try {
      LinkOptions options = secondaryHost == null || secondaryHost.isEmpty() ? LINK : LINK.expecting(secondaryHost);
      DataChannel link = DataChannel.dial(host, port, options, header, settings, "checkpoint stream of " + protectionId);
      log.info("checkpoint stream of {} connected to {}:{}", protectionId, host, port);
      return new CheckpointStream(link, protectionId, settings.stallTimeout());
    } catch (IOException e) {
      throw new DataPlaneException("cannot connect the checkpoint stream of " + protectionId + " to " + host + ":" + port + ": " + e, e);
    }
  }

  /** Pages of checkpoint (0 = the initial sync) as one frame; their contents are payload's position..limit, not consumed. */
  public synchronized void sendPages(long checkpoint, long[] pages, int from, int to, ByteBuffer payload) throws IOException {
    checkUsable();
    CheckpointPages.Builder b = CheckpointPages.newBuilder().setCheckpoint(checkpoint).setPayloadBytes(payload.remaining());
    for (int i = from; i < to; i++) b.addPages(pages[i]);
    write(Frame.newBuilder().setCheckpointPages(b).build(), payload);
  }

  /** Blocks of one disk in checkpoint (0 = the initial sync) as one frame; their contents are data's position..limit, not consumed. */
  public synchronized void sendBlocks(long checkpoint, String diskId, long[] blocks, int count, ByteBuffer data)
      throws IOException {
    checkUsable();
    CheckpointBlocks.Builder b = CheckpointBlocks.newBuilder().setCheckpoint(checkpoint).setDiskId(diskId)
        .setPayloadBytes(data.remaining());
    for (int i = 0; i < count; i++) b.addBlocks(blocks[i]);
    write(Frame.newBuilder().setCheckpointBlocks(b).build(), data);
  }

  /** The end of checkpoint: the secondary applies it if pageCount pages arrived, then acknowledges it. */
  public synchronized void sendEnd(long checkpoint, long pageCount, long blockCount, byte[] deviceState, long outputsUpto,
      long steps, long leaseMillis, long ackTimeoutMillis) throws IOException {
    checkUsable();
    write(Frame.newBuilder().setCheckpointEnd(CheckpointEnd.newBuilder().setCheckpoint(checkpoint).setPageCount(pageCount)
        .setBlockCount(blockCount)
        .setDeviceState(com.google.protobuf.ByteString.copyFrom(deviceState)).setOutputsUpto(outputsUpto).setSteps(steps)
        .setLeaseMs((int) Math.min(Integer.MAX_VALUE, leaseMillis))
        .setAckTimeoutMs((int) Math.min(Integer.MAX_VALUE, ackTimeoutMillis))).build(), null);
  }

  private void write(Frame frame, ByteBuffer payload) throws IOException {
    writeStartNanos = System.nanoTime();
    writing = true;
    try {
      if (payload == null) {
        codec.writeMessage(frame);
        return;
      }
      ByteBuffer[] out = {codec.encode(frame), payload.duplicate(), null};
      ByteBuffer trailer = codec.payloadTrailer(out, 1, 2);
      if (trailer != null) out[2] = trailer;
      codec.writeFully(out, 0, trailer != null ? 3 : 2);
    } catch (DataPlaneException e) {
      fail(e.getMessage()); // unless the stall watch failed it first: its reason is the one reported
      synchronized (acks) {
        throw new IOException("checkpoint stream of " + protectionId + ": " + failure, e);
      }
    } finally {
      writing = false;
    }
  }

  /** Waits until the secondary has applied checkpoint; fails the stream if that takes longer than timeout. */
  public void awaitAck(long checkpoint, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (acks) {
      while (acked < checkpoint && failure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail("no acknowledgement of checkpoint " + checkpoint + " within " + timeout.toMillis() + " ms");
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(acks, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted waiting for the secondary's acknowledgement", e);
        }
      }
      if (acked < checkpoint) throw new IOException("checkpoint stream of " + protectionId + ": " + failure);
    }
  }

  /** The last checkpoint the secondary acknowledged (0 = none). */
  public long acked() {
    synchronized (acks) {
      return acked;
    }
  }

  private void readAcks() {
    try {
      while (true) {
        Frame f = codec.readFrame();
        if (!f.hasCheckpointAck()) throw new DataPlaneException("unexpected frame on the checkpoint stream: " + f.getKindCase());
        synchronized (acks) {
          acked = Math.max(acked, f.getCheckpointAck().getCheckpoint());
          acks.notifyAll();
        }
      }
    } catch (RuntimeException e) {
      fail(e.getMessage());
    }
  }

  private void fail(String reason) {
    stall.cancel();
    synchronized (acks) {
      if (failure == null) {
        failure = reason;
        if (link.isOpen()) log.warn("checkpoint stream of {} failed: {}", protectionId, reason);
      }
      acks.notifyAll();
    }
    link.close();
  }

  private void checkUsable() throws IOException {
    synchronized (acks) {
      if (failure != null) throw new IOException("checkpoint stream of " + protectionId + " failed: " + failure);
    }
  }

  /** Closes the channel (the secondary discards a checkpoint it has not seen the end of); a later send or wait fails. */
  @Override
  public void close() {
    stall.cancel();
    synchronized (acks) {
      if (failure == null) failure = "closed";
      acks.notifyAll();
    }
    link.close();
  }
}
