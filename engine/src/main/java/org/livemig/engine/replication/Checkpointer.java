package org.livemig.engine.replication;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.dataplane.DataPlaneException;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary of a protected guest (Remus/COLO's checkpointed stream): an initial live sync of
 * every page while the guest runs, then every interval one checkpoint. A checkpoint pauses the
 * guest only to harvest its dirty bitmap, copy those pages into a staging buffer and take its
 * device state and output counter; the guest runs again before anything is sent. Then the pages,
 * the end record, and a wait for the secondary's ack (at most one checkpoint is unacknowledged);
 * the ack releases the outputs the checkpoint covers ({@link OutputGate}). Any failure (link,
 * missing ack, a checkpoint over the bound) ends replication as FAILED: the guest runs on here
 * until its lease ends (below), its unreleased outputs held, for the coordinator to decide
 * (degrade: stop() runs it on unprotected; or fail over).
 *
 * <p>The lease: from checkpoint 1 on the guest runs only until one interval plus half the lease
 * past the pause of the newest acknowledged checkpoint (checkpoint 1's own pause before its ack),
 * while each checkpoint's end tells the secondary one interval plus the whole lease. Past
 * that it is paused until an ack or {@link #stop} (the coordinator's word that no copy runs
 * elsewhere). So a secondary whose stream ended knows, from the lease in each checkpoint's end and
 * the arrival of the last one it acknowledged, by when its primary has stopped the guest, and may
 * take over without waiting for the cluster to remove the primary's host.
 *
 * <p>Runs on a thread of its own; {@link #status} may be read from anywhere.
 */
public final class Checkpointer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Checkpointer.class);

  private final String protectionId;
  private final MigratableGuest guest;
  private final String ownerToken;
  private final GuestOutput output;
  private final OutputGate gate;
  private final CheckpointStream stream;
  private final CheckpointSettings settings;
  private final int batchPages;
  private final int pageSize;
  private final CheckpointStats stats = new CheckpointStats();
  private final Thread thread;
  private final CompletableFuture<ReplicationStatus> ended = new CompletableFuture<>();
  private volatile boolean stopping;
  private volatile CheckpointFault fault = CheckpointFault.NONE;
  private final Object holdLock = new Object();
  private boolean held; // guarded by holdLock
  private boolean inPause; // guarded by holdLock: a checkpoint paused the running guest and has not resumed it
  // The lease (guarded by holdLock): from checkpoint 1 on, the guest runs only until leaseUntil,
  // which each ack moves to its checkpoint's pause + interval + half the lease; past it the lease
  // has the guest stopped until the next ack, or until stop() (the coordinator's word) ends it.
  private boolean leased;
  private long leaseUntil;
  private boolean leaseStopped;
  private java.util.concurrent.ScheduledFuture<?> leaseCheck;
  private long leaseStops; // times the lease stopped the guest (guarded by holdLock)
  private long lastLeaseWarning = System.nanoTime() - LEASE_WARNING_EVERY; // a slow link: warned once a minute, not per checkpoint
  private static final long LEASE_WARNING_EVERY = TimeUnit.MINUTES.toNanos(1);
  private ByteBuffer staging = ByteBuffer.allocateDirect(0); // the checkpointer thread only
  private final CheckpointDisks disks; // the checkpointer thread only

  /**
   * @param output the guest's external output (its counter goes in each checkpoint), or null
   * @param gate where the guest's output is held until acknowledged, or null
   * @param batchPages pages per CheckpointPages frame
   */
  public Checkpointer(String protectionId, MigratableGuest guest, String ownerToken, GuestOutput output, OutputGate gate,
      CheckpointStream stream, CheckpointSettings settings, int batchPages) {
    this.protectionId = protectionId;
    this.guest = guest;
    this.ownerToken = ownerToken;
    this.output = output;
    this.gate = gate;
    this.stream = stream;
    this.settings = settings;
    this.batchPages = batchPages;
    this.pageSize = guest.description().getPageSize();
    this.disks = new CheckpointDisks(guest, stream, protectionId);
    this.thread = new Thread(this::run, "replication-primary-" + protectionId);
    this.thread.setDaemon(true);
  }

  public void start() {
    thread.start();
  }

  /**
   * From now on a checkpoint does not run the guest again after its pause: whoever holds it (the
   * host fencing itself, the agent stopping) pauses it for good and must not be undone by a
   * checkpoint that was in its pause at that moment. Once it returns no checkpoint resumes it.
   *
   * @return whether a checkpoint has the running guest paused right now (it stays paused): the
   *     holder counts it as stopped by it, although it found it PAUSED
   */
  public boolean hold() {
    synchronized (holdLock) {
      held = true;
      return inPause || leaseStopped;
    }
  }

  /** Whether the lease has the guest stopped right now (no ack in time, and no word yet to go on). */
  public boolean leaseStopped() {
    synchronized (holdLock) {
      return leaseStopped;
    }
  }

  /** Chaos: halt this JVM at a point of one checkpoint (set before start). */
  public void haltAt(CheckpointFault f) {
    this.fault = f;
  }

  public ReplicationStatus status() {
    return stats.snapshot(System.nanoTime());
  }

  /** Completes with the final status (STOPPED or FAILED) once replication has ended: an actor pipes it to itself. */
  public CompletionStage<ReplicationStatus> ended() {
    return ended;
  }

  /**
   * Ends replication after the checkpoint in progress (STOPPED) and closes the stream; the guest
   * runs on, at once if its lease had stopped it (the wait for that checkpoint's ack is no reason
   * to keep it paused).
   */
  public void stop() throws InterruptedException {
    stopping = true;
    try {
      endLease();
    } finally {
      LockSupport.unpark(thread);
      if (thread.isAlive() && thread != Thread.currentThread()) thread.join();
      stream.close();
    }
  }

  /**
   * Whoever stops replication has the coordinator's word that no copy runs elsewhere (the
   * protection ended, or a failover stops this one after holding it): the lease no longer
   * applies, and a guest it had stopped runs again unless held.
   */
  private void endLease() {
    synchronized (holdLock) {
      leased = false;
      if (leaseCheck != null) leaseCheck.cancel(false);
      boolean resume = leaseStopped && !held && !inPause; // in a pause: the checkpoint resumes it (not leased now)
      leaseStopped = false;
      if (resume) {
        guest.run(ownerToken);
        log.info("replication of {} ended: the guest its lease had stopped runs again", protectionId);
      }
    }
  }

  /** Checkpoint 1 (before its end can be acknowledged) and every ack: the guest may run until pausedAt + lease. */
  private void renewLease(long checkpoint, long pausedAt) {
    synchronized (holdLock) {
      if (stopping) return; // stop() ended the lease for good
      leased = true;
      // Kept to half the lease the secondary is told: the other half absorbs a late timer, a slow
      // pause, and clocks that run at slightly different rates.
      leaseUntil = Math.max(leaseUntil, pausedAt + settings.interval().toNanos() + settings.lease().toNanos() / 2);
      long left = leaseUntil - System.nanoTime();
      if (leaseStopped && left > 0) {
        leaseStopped = false;
        if (!held) {
          guest.run(ownerToken);
          if (log.isDebugEnabled()) {
            log.debug("replication of {}: checkpoint {} acknowledged, the guest its lease had stopped runs again",
                protectionId, checkpoint);
          }
        }
      }
      if (leaseCheck != null) leaseCheck.cancel(false);
      leaseCheck = LEASES.schedule(this::leaseCheck, Math.max(0, left), TimeUnit.NANOSECONDS);
    }
  }

  /** At the lease's end: no ack moved it, so the guest stops (the secondary may take over from now on). */
  private void leaseCheck() {
    long stops;
    synchronized (holdLock) {
      long now = System.nanoTime();
      if (!leased || leaseStopped || now < leaseUntil) return;
      leaseStopped = true;
      stops = ++leaseStops;
      if (!inPause && !held) guest.pause(); // else paused already: the checkpoint sees leaseStopped and does not resume it
      if (now - lastLeaseWarning < LEASE_WARNING_EVERY) {
        if (log.isDebugEnabled()) log.debug("replication of {}: lease stop {}", protectionId, stops);
        return;
      }
      lastLeaseWarning = now;
    }
    log.warn("replication of {}: no checkpoint acknowledged within its lease: the guest is paused until an ack or the "
        + "coordinator's word ({} such stops so far; said at most once a minute)", protectionId, stops);
  }

  /** One thread for every primary's lease timer; a renewal cancels the last (removed, not left queued). */
  private static final java.util.concurrent.ScheduledThreadPoolExecutor LEASES = leaseTimers();

  private static java.util.concurrent.ScheduledThreadPoolExecutor leaseTimers() {
    var timers = new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "replication-lease");
      t.setDaemon(true);
      return t;
    });
    timers.setRemoveOnCancelPolicy(true);
    return timers;
  }

  /** As stop, for try-with-resources. */
  @Override
  public void close() {
    try {
      stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    String failure = null;
    try {
      disks.attach(); // before the sync: every write from here on is tracked
      sync();
      stats.replicating();
      long interval = settings.interval().toNanos();
      long due = System.nanoTime() + interval;
      for (long c = 1; !stopping; c++) {
        for (long left = due - System.nanoTime(); left > 0 && !stopping; left = due - System.nanoTime()) LockSupport.parkNanos(left);
        if (stopping) break;
        // From pause to pause; a checkpoint that took longer than the interval is followed by the next at once, not a burst.
        due = System.nanoTime() + interval;
        checkpoint(c);
      }
    } catch (IOException | RuntimeException | ExecutionException | TimeoutException e) {
      failure = e.getMessage() != null ? e.getMessage() : e.toString();
    } catch (InterruptedException e) {
      failure = "interrupted";
    } catch (Error e) { // e.g. no direct memory for the staging buffer: the protection fails, said so
      failure = e.toString();
    } finally {
      stream.close();
      disks.detach();
    }
    if (stopping && failure != null) failure = null; // stop closes the stream under a checkpoint in flight
    stats.ended(failure);
    if (failure != null) log.warn("replication of {} failed: {}; the guest runs on unprotected", protectionId, failure);
    else log.info("replication of {} stopped", protectionId);
    ended.complete(status());
  }

  /** Every page while the guest runs, then rounds of what it dirtied meanwhile; all written straight into the secondary. */
  private void sync() throws IOException {
    DirtyBitmap dirty = guest.dirtyBitmap();
    dirty.syncAndClear(); // from here on every write is marked: a page torn by the copy below goes again
    DirtyBitmap all = new DirtyBitmap(guest.memory().pageCount());
    all.markAll();
    long[] pages = send(0, all.syncAndClear());
    stats.synced((long) pages.length * pageSize);
    for (int round = 0; round < settings.syncRounds() && !stopping; round++) {
      if (dirty.count() * pageSize <= settings.maxCheckpointBytes() / 2) break;
      stats.synced((long) send(0, dirty.syncAndClear()).length * pageSize);
    }
    try {
      stats.synced(disks.sync(() -> stopping, settings.syncRounds(), settings.maxCheckpointBytes() / 2));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted in the initial sync of the disks");
    }
    log.info("replication of {}: initial sync of {} pages sent", protectionId, pages.length);
  }

  /** One checkpoint: stop, harvest, copy, resume; then send it and wait for its ack. */
  private void checkpoint(long c) throws IOException, InterruptedException, ExecutionException, TimeoutException {
    long pausedAt = System.nanoTime();
    boolean wasRunning;
    synchronized (holdLock) { // held: whoever holds it has the guest stopped, and it stays so
      wasRunning = !held && (guest.state() == RunState.RUNNING || leaseStopped);
      inPause = wasRunning;
    }
    // From checkpoint 1's end on, the secondary holds a copy that may take over: the lease applies.
    if (c == 1) renewLease(c, pausedAt);
    long[] pages;
    byte[] device;
    long steps;
    long upto;
    long blocks = 0;
    try {
      guest.pause().toCompletableFuture().get(settings.pauseTimeout().toMillis(), TimeUnit.MILLISECONDS);
      // Its disk requests in flight land first: the checkpoint holds every write the guest was told is done.
      if (!disks.isEmpty()) guest.drain().toCompletableFuture().get(settings.pauseTimeout().toMillis(), TimeUnit.MILLISECONDS);
      long[] dirty = guest.dirtyBitmap().syncAndClear();
      long bytes = DirtyBitmap.count(dirty) * pageSize;
      if (bytes > settings.maxCheckpointBytes()) {
        guest.dirtyBitmap().orIn(dirty);
        throw new DataPlaneException("checkpoint " + c + " of " + bytes + " bytes exceeds max-checkpoint-bytes "
            + settings.maxCheckpointBytes() + ": the guest dirties memory faster than it can be checkpointed");
      }
      pages = stage(dirty, (int) (bytes / pageSize));
      if (!disks.isEmpty()) blocks = disks.stage(c, settings.maxCheckpointBytes() - bytes);
      device = guest.deviceState();
      steps = guest.steps();
      upto = output == null ? 0 : output.emitted(); // exact: the workload has stopped
    } finally {
      synchronized (holdLock) {
        if (wasRunning && !held) {
          if (leased && System.nanoTime() >= leaseUntil) leaseStopped = true; // runs again once this one is acknowledged
          else guest.run(ownerToken);
        }
        inPause = inPause && held; // held in its pause: the guest stays paused for the holder
      }
    }
    long pause = System.nanoTime() - pausedAt;
    fault.at(CheckpointFault.Point.BEFORE_SEND, c);
    for (int from = 0; from < pages.length; from += batchPages) {
      int to = Math.min(pages.length, from + batchPages);
      stream.sendPages(c, pages, from, to, staging.duplicate().limit(to * pageSize).position(from * pageSize));
      if (to >= pages.length / 2) fault.at(CheckpointFault.Point.MID_SEND, c);
    }
    disks.sendStaged();
    fault.at(CheckpointFault.Point.MID_SEND, c); // a checkpoint without pages: its end unsent
    stream.sendEnd(c, pages.length, blocks, device, upto, steps, settings.leaseFromPause().toMillis(),
        settings.ackTimeout().toMillis());
    fault.at(CheckpointFault.Point.SENT, c);
    stream.awaitAck(c, settings.ackTimeout());
    renewLease(c, pausedAt);
    fault.at(CheckpointFault.Point.ACKNOWLEDGED, c);
    if (gate != null) gate.release(upto);
    stats.acknowledged(c, (long) pages.length * pageSize + disks.stagedBytes(), pausedAt, pause);
    if (log.isDebugEnabled()) log.debug("checkpoint {} of {}: {} pages, paused {} us", c, protectionId, pages.length, pause / 1000);
  }

  /** Copies the harvested pages into the staging buffer (grown as needed); returns their indices in order. */
  private long[] stage(long[] dirty, int count) {
    if (staging.capacity() < count * pageSize) {
      staging = ByteBuffer.allocateDirect((int) Math.min(settings.maxCheckpointBytes(), Math.max((long) count * pageSize, 2L * staging.capacity())));
    }
    long[] pages = new long[count];
    ByteBuffer dst = staging.clear();
    GuestMemory memory = guest.memory();
    int[] i = {0};
    DirtyBitmap.forEachSet(dirty, page -> {
      pages[i[0]++] = page;
      memory.readPage(page, dst);
    });
    return pages;
  }

  /** Sync pages straight from memory, one batch at a time; returns the pages sent. */
  private long[] send(long checkpoint, long[] bits) throws IOException {
    int count = (int) DirtyBitmap.count(bits);
    long[] pages = new long[count];
    int[] i = {0};
    DirtyBitmap.forEachSet(bits, page -> pages[i[0]++] = page);
    ByteBuffer batch = ByteBuffer.allocateDirect(batchPages * pageSize);
    for (int from = 0; from < count && !stopping; from += batchPages) {
      int to = Math.min(count, from + batchPages);
      batch.clear();
      for (int k = from; k < to; k++) guest.memory().readPage(pages[k], batch);
      stream.sendPages(checkpoint, pages, from, to, batch.flip());
    }
    return pages;
  }
}
