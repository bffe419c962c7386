package org.livemig.engine.dataplane;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.messages.CheckpointAck;
import org.livemig.messages.CheckpointPages;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.Frame;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The secondary's end of a protected guest's CHECKPOINT stream. The initial sync's pages
 * (checkpoint 0) go straight into the guest's memory: before its first whole checkpoint the
 * secondary has no state worth keeping. From checkpoint 1 on, every checkpoint is buffered
 * ({@link CheckpointBuffer}) and applied only when its end arrives whole, then acknowledged. A
 * stream that breaks, goes silent for the stall timeout or carries a corrupt payload discards the
 * checkpoint in progress: the guest stays exactly at {@link #lastApplied()}. The guest never runs
 * while this receives; {@link #takeOver()} ends receiving for a failover.
 *
 * <p>One stream per protection: a broken one is not replaced (the primary cannot know which
 * checkpoint the secondary holds; re-protecting starts over).
 */
public final class CheckpointReceiver implements StreamHandler {
  private static final Logger log = LoggerFactory.getLogger(CheckpointReceiver.class);

  /** Told on the receiving thread; must not block. */
  public interface Listener {
    Listener NONE = new Listener() {};

    default void applied(AppliedCheckpoint checkpoint) {}

    /** The stream ended (peer gone, silent, corrupt, closed); last is what a failover resumes from (null = nothing). */
    default void streamEnded(String reason, AppliedCheckpoint last) {}
  }

  private final String protectionId;
  private final MigratableGuest guest;
  private final DataPlaneSettings settings;
  private final int pageSize;
  private final CheckpointBuffer buffer; // the receiving thread only
  private ByteBuffer syncBlocks = ByteBuffer.allocate(0); // the receiving thread only: reused for the sync's blocks
  private final Listener listener;
  // Guarded by this: applying a checkpoint and taking over exclude each other.
  private DataChannel open;
  private boolean admitted;
  private boolean ended; // forgotten or taken over: nothing more is applied
  private AppliedCheckpoint last;
  private long leaseEndsAt; // nanoTime by which a silent primary has the guest stopped (its lease, from `last`)
  private int leaseMillis;
  private int ackTimeoutMillis;
  private boolean endedSilent; // the stream ended by the stall timeout, not closed
  private boolean synced; // a sync page arrived
  private volatile String failure;

  public CheckpointReceiver(String protectionId, MigratableGuest guest, long maxCheckpointBytes, DataPlaneSettings settings,
      Listener listener) {
    this.protectionId = protectionId;
    this.guest = guest;
    this.settings = settings;
    this.pageSize = guest.description().getPageSize();
    this.buffer = new CheckpointBuffer(guest.description().getPageSize(), guest.description().getPageCount(), maxCheckpointBytes);
    this.listener = listener;
  }

  /** The last whole checkpoint applied, or null before the first. */
  public synchronized AppliedCheckpoint lastApplied() {
    return last;
  }

  /**
   * When a primary that stopped sending has its guest stopped: the lease the last acknowledged
   * checkpoint carried, counted from that checkpoint end's arrival here (which came after the
   * primary's pause the lease runs from). Meaningful once the stream ended; no ack is sent after
   * that, so no later lease can exist. Long.MAX_VALUE when no checkpoint with a lease was applied.
   */
  public synchronized long leaseEndsAtNanos() {
    return last == null || leaseMillis == 0 ? Long.MAX_VALUE : leaseEndsAt;
  }

  /**
   * From when this copy may claim the guest once the stream ended: the lease's end, and if the
   * stream went silent rather than closed (the link hung; the primary may be alive and waiting for
   * an ack) the primary's ack timeout beyond it too, so that a live primary reports its failure
   * (and keeps the guest) first. Long.MAX_VALUE when no checkpoint with a lease was applied.
   */
  public synchronized long claimFromNanos() {
    long lease = leaseEndsAtNanos();
    if (lease == Long.MAX_VALUE || !endedSilent) return lease;
    return lease + TimeUnit.MILLISECONDS.toNanos(ackTimeoutMillis);
  }

  /** The lease the last applied checkpoint carried, in ms (0 = none). */
  public synchronized int leaseMillis() {
    return last == null ? 0 : leaseMillis;
  }

  /** Why the stream failed (a checkpoint in progress was discarded, or the stream broke the protocol), or null. */
  public String failure() {
    return failure;
  }

  /**
   * Failover: ends receiving (a checkpoint in progress is discarded, none is applied from now on)
   * and returns the last whole checkpoint, which the guest's memory and device state now hold
   * exactly (null = none: there is nothing to fail over to).
   */
  public AppliedCheckpoint takeOver() {
    DataChannel c;
    AppliedCheckpoint result;
    synchronized (this) {
      ended = true;
      c = open;
      result = last;
    }
    if (c != null) c.close();
    log.info("secondary of {} taken over at checkpoint {}", protectionId, result == null ? "none" : result.checkpoint());
    return result;
  }

  @Override
  public synchronized Admission admit(ChannelHeader header, DataChannel channel) {
    if (ended) return Admission.refuse("protection " + protectionId + " is no longer replicated here");
    if (admitted) return Admission.refuse("protection " + protectionId + " has had its checkpoint stream");
    if (guest.state() == RunState.RUNNING) return Admission.refuse("the secondary guest of " + protectionId + " runs");
    admitted = true;
    open = channel;
    return Admission.serve(() -> {
      Thread.currentThread().setName("dataplane-checkpoint-rx-" + protectionId);
      log.info("accepted the checkpoint stream of {} from {}", protectionId, channel.remoteAddress());
      receive(channel);
    });
  }

  private void receive(DataChannel channel) {
    FrameCodec codec = channel.codec();
    // A silent primary is a dead one: close, and with that discard what it half-sent.
    AtomicBoolean silent = new AtomicBoolean();
    Watchdog.Watch silence = Watchdog.shared().watch(codec::lastReadNanos, settings.stallTimeout().toNanos(), idle -> {
      silent.set(true);
      channel.close();
    });
    ByteBuffer sync = ByteBuffer.allocateDirect(pageSize * settings.batchPages());
    String reason;
    try {
      while (true) {
        Frame f = codec.readFrame();
        if (f.hasCheckpointPages()) {
          pages(codec, f.getCheckpointPages(), sync);
        } else if (f.hasCheckpointBlocks()) {
          blocks(codec, f.getCheckpointBlocks());
        } else if (f.hasCheckpointEnd()) {
          long arrived = System.nanoTime(); // after the primary's pause, from which its lease runs
          AppliedCheckpoint applied;
          synchronized (this) {
            if (ended) throw new DataPlaneException("taken over");
            try {
              applied = buffer.apply(f.getCheckpointEnd(), next(), guest);
            } catch (CheckpointBuffer.TornCopyException e) {
              last = null; // no checkpoint's state any more: nothing to fail over to
              log.error("secondary of {}: {}; the copy is torn and cannot take over", protectionId, e.getMessage());
              throw e;
            }
            last = applied;
            leaseMillis = f.getCheckpointEnd().getLeaseMs();
            ackTimeoutMillis = f.getCheckpointEnd().getAckTimeoutMs();
            leaseEndsAt = arrived + TimeUnit.MILLISECONDS.toNanos(leaseMillis);
          }
          listener.applied(applied);
          codec.writeMessage(Frame.newBuilder().setCheckpointAck(CheckpointAck.newBuilder().setCheckpoint(applied.checkpoint())).build());
        } else {
          throw new DataPlaneException("unexpected frame on the checkpoint stream: " + f.getKindCase());
        }
      }
    } catch (RuntimeException e) {
      reason = silent.get() ? "the primary was silent for " + settings.stallTimeout().toMillis() + " ms"
          : e.getMessage() != null ? e.getMessage() : e.toString();
    } finally {
      silence.cancel();
    }
    long partial = buffer.checkpoint();
    buffer.discard();
    AppliedCheckpoint at;
    synchronized (this) {
      open = null;
      at = last;
      endedSilent = silent.get();
      if (!ended && (partial != -1 || !reason.startsWith("connection closed by peer"))) failure = reason;
    }
    if (partial != -1) {
      log.warn("checkpoint stream of {} ended mid-checkpoint {} ({}): discarded, the secondary stays at checkpoint {}",
          protectionId, partial, reason, at == null ? "none" : at.checkpoint());
    } else {
      log.info("checkpoint stream of {} ended at checkpoint {}: {}", protectionId, at == null ? "none" : at.checkpoint(), reason);
    }
    listener.streamEnded(reason, at);
  }

  private synchronized long next() {
    return last == null ? 1 : last.checkpoint() + 1;
  }

  /** One CheckpointPages frame: sync pages into memory, a checkpoint's into the buffer. */
  private void pages(FrameCodec codec, CheckpointPages p, ByteBuffer sync) {
    int n = p.getPagesCount();
    if ((long) n * pageSize != p.getPayloadBytes()) {
      throw new DataPlaneException(n + " pages in a checkpoint payload of " + p.getPayloadBytes() + " bytes");
    }
    long[] indices = new long[n];
    for (int i = 0; i < n; i++) indices[i] = p.getPages(i);
    if (p.getCheckpoint() != 0) {
      requireDue(p.getCheckpoint(), "pages");
      codec.readPayloadInto(buffer.reserve(p.getCheckpoint(), n));
      requireIntact(codec, "checkpoint " + p.getCheckpoint() + " failed its checksum");
      buffer.commit(indices);
      return;
    }
    ByteBuffer payload = n * pageSize <= sync.capacity() ? sync : ByteBuffer.allocate(n * pageSize);
    codec.readPayload(payload, n * pageSize);
    requireIntact(codec, "sync pages failed their checksum");
    synchronized (this) {
      for (long page : indices) {
        if (page < 0 || page >= guest.memory().pageCount()) throw new DataPlaneException("sync page " + page + " outside the guest");
      }
      requireSyncable("pages");
      for (long page : indices) guest.memory().writePage(page, payload);
      synced = true;
    }
  }

  /** One CheckpointBlocks frame: the sync's straight into the copy's disk file, a checkpoint's into the buffer. */
  private void blocks(FrameCodec codec, org.livemig.messages.CheckpointBlocks b) {
    var disk = guest.disk(b.getDiskId());
    if (disk == null) throw new DataPlaneException("blocks of disk " + b.getDiskId() + ", which the copy does not have");
    int blockSize = disk.file().blockSize();
    int n = b.getBlocksCount();
    if ((long) n * blockSize != b.getPayloadBytes()) {
      throw new DataPlaneException(n + " blocks in a payload of " + b.getPayloadBytes() + " bytes");
    }
    long[] indices = new long[n];
    for (int i = 0; i < n; i++) {
      indices[i] = b.getBlocks(i);
      if (indices[i] < 0 || indices[i] >= disk.file().blockCount()) {
        throw new DataPlaneException("block " + indices[i] + " outside disk " + b.getDiskId());
      }
    }
    if (b.getCheckpoint() != 0) {
      requireDue(b.getCheckpoint(), "blocks");
      ByteBuffer data = buffer.reserveBlocks(b.getCheckpoint(), n, blockSize);
      codec.readPayloadInto(data);
      requireIntact(codec, "checkpoint " + b.getCheckpoint() + " failed its checksum");
      buffer.commitBlocks(b.getDiskId(), indices, data);
      return;
    }
    if (syncBlocks.capacity() < n * blockSize) syncBlocks = ByteBuffer.allocate(n * blockSize);
    ByteBuffer data = syncBlocks.clear().limit(n * blockSize);
    codec.readPayloadInto(data);
    requireIntact(codec, "sync blocks failed their checksum");
    synchronized (this) {
      requireSyncable("blocks");
      try {
        disk.file().writeBlocks(indices, n, data.flip()); // forced by a failover, before the copy runs
      } catch (java.io.IOException e) {
        throw new DataPlaneException("sync blocks of disk " + b.getDiskId() + " could not be written: " + e.getMessage(), e);
      }
      synced = true;
    }
  }

  /** A checkpoint's pages or blocks belong to the checkpoint after the last one applied. */
  private void requireDue(long checkpoint, String what) {
    if (checkpoint != next()) throw new DataPlaneException(what + " of checkpoint " + checkpoint + " where " + next() + " was due");
  }

  /** The payload just read passed its checksum (always, on a link that protects integrity itself). */
  private static void requireIntact(FrameCodec codec, String what) {
    if (!codec.payloadIntact()) throw new DataPlaneException(what + ": the link corrupts data");
  }

  /** Under this: the sync's pages or blocks may still go straight into the copy. */
  private void requireSyncable(String what) {
    if (ended) throw new DataPlaneException("taken over");
    if (last != null) throw new DataPlaneException("sync " + what + " after checkpoint " + last.checkpoint() + " was applied");
    if (guest.state() == RunState.RUNNING) throw new DataPlaneException("the secondary's guest runs");
  }

  /** Whether any sync page arrived (the secondary's memory is no longer its empty start). */
  public synchronized boolean synced() {
    return synced;
  }

  @Override
  public void forget() {
    DataChannel c;
    synchronized (this) {
      ended = true;
      c = open;
    }
    if (c != null) c.close();
  }
}
