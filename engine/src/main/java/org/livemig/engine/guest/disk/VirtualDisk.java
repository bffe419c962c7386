package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskSummary;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running virtual disk: the guest's I/O workload on it (writes paced at the configured
 * rate, reads in between), up to queue-depth requests in flight completing asynchronously on
 * I/O threads, a write acknowledged only once durable. Stopping the guest stops issuing;
 * {@link #drain} completes when the last request in flight has completed.
 *
 * <p>Two requests never touch one block at once (a write waits for the block's request in
 * flight), so a block's content is always the last landed write of it: what makes the oracle
 * exact with out-of-order completion. State is guarded by this; the file I/O runs outside it.
 */
public final class VirtualDisk {
  private static final Logger log = LoggerFactory.getLogger(VirtualDisk.class);

  private final String guestId;
  private final String diskId;
  private final int hostHash;
  private final BlockContent content;
  private final int queueDepth;
  private final FaultPlan faultPlan;
  private final ExecutorService io;
  private final DiskRequests requests;

  // Guarded by this.
  /** The disk's description and file: another datastore's after a storage move pivoted. */
  private DiskDescription description;
  private DiskFile file;
  private DiskMirror mirror; // a storage move's, in the write path; null when none
  private boolean guestRunning;
  private boolean stunned; // by a storage move: no request issued even while the guest runs
  /** Who wrote from which write number on; the rest of a disk's state is in the fields below. */
  private List<DiskState.Owner> owners;
  private long writeSeq;
  private long reads;
  private long readSeq;
  private long readMismatches;
  private long writeErrors;
  private boolean full;
  private final List<Long> failed = new ArrayList<>();
  private final Map<Long, Long> writesInFlight = new HashMap<>(); // write number -> block
  private final BitSet busyBlocks = new BitSet(); // by block number: no object per request
  private int inFlight;
  private boolean issuing;
  private boolean closed;
  private Thread workload;
  private final List<CompletableFuture<Void>> drainWaiters = new ArrayList<>();
  private final ServiceTimes serviceTimes = new ServiceTimes();

  VirtualDisk(String guestId, int diskIndex, long seed, DiskDescription d, DiskFile file, DiskFaults faults,
      String hostId, DiskState state) {
    this.guestId = guestId;
    this.diskId = d.getDiskId();
    this.hostHash = BlockContent.hostHash(hostId);
    this.description = d;
    this.content = new BlockContent(seed, diskIndex, d);
    this.file = file;
    this.queueDepth = Math.max(1, d.getQueueDepth());
    this.faultPlan = new FaultPlan(faults, System.nanoTime());
    this.io = Executors.newFixedThreadPool(Math.min(queueDepth, 64), r -> {
      Thread t = new Thread(r, "guest-" + guestId + "-disk-" + d.getDiskId() + "-io");
      t.setDaemon(true);
      return t;
    });
    this.requests = new DiskRequests(this, guestId, d.getDiskId(), content, faults, hostHash);
    restore(state);
  }

  public String diskId() { return diskId; }
  public WriteLatency writeLatency() { return requests.latency(); }
  public synchronized DiskDescription description() { return description; }
  public synchronized DiskFile file() { return file; }

  /** Continues from a state (the guest's own at creation, or one arrived by migration). */
  synchronized void restore(DiskState s) {
    requireIdle("restore the state of");
    owners = s.owners();
    writeSeq = s.writeSeq();
    reads = s.reads();
    readMismatches = s.readMismatches();
    writeErrors = s.writeErrors();
    full = s.full();
    failed.clear();
    failed.addAll(s.failed());
  }

  /** The disk's state for the device state: nothing may be in flight (drain first). */
  synchronized DiskState state() {
    requireIdle("take the state of");
    return current();
  }

  private DiskState current() {
    List<Long> sorted = new ArrayList<>(failed); // completed in any order, listed in write order
    sorted.sort(null);
    return new DiskState(writeSeq, reads, readMismatches, writeErrors, full, owners, sorted);
  }

  private void requireIdle(String action) {
    if (issuing || inFlight > 0) {
      throw new IllegalStateException("cannot " + action + " disk " + diskId + " of guest " + guestId
          + " with " + inFlight + " request(s) in flight" + (issuing ? " while it runs" : ""));
    }
  }

  synchronized void start() {
    if (closed) throw new IllegalStateException("disk " + diskId + " of guest " + guestId + " is closed");
    guestRunning = true;
    issuing = !stunned;
    if (workload == null) {
      workload = new Thread(new DiskWorkload(this, description, queueDepth), "guest-" + guestId + "-disk-" + diskId);
      workload.setDaemon(true);
      workload.start();
    }
    notifyAll();
  }

  /** The guest stopped: no new request; the ones in flight complete on their own (see {@link #drain}). */
  synchronized void stopIssuing() {
    guestRunning = false;
    issuing = false;
    notifyAll();
  }

  /** A storage move stuns the disk: no new request, even while the guest runs; drain for the rest. */
  public synchronized void stun() {
    stunned = true;
    issuing = false;
    notifyAll();
  }

  /** The disk issues again if the guest runs (a guest paused meanwhile stays paused). */
  public synchronized void unstun() {
    stunned = false;
    issuing = guestRunning && !closed;
    notifyAll();
  }

  /** Puts a storage move's mirror in the write path (tracking first; see {@link DiskMirror}). */
  public synchronized void attach(DiskMirror m) {
    if (closed || mirror != null) {
      throw new IllegalStateException("disk " + diskId + " of guest " + guestId + (closed ? " is closed" : " is being moved already"));
    }
    mirror = m;
  }

  /**
   * Takes the mirror out of the write path. A write still in flight with it (a stun whose drain
   * timed out) no longer touches the target: the guest's writes never depended on it.
   */
  public synchronized void detach(DiskMirror m) {
    m.retire();
    if (mirror == m) mirror = null;
  }

  /**
   * The move's pivot: the disk continues on the target (another datastore), which holds every
   * block; returns the source file, no longer the disk's. Only stunned and drained.
   */
  public synchronized DiskFile pivot(DiskMirror m, DiskFile target, DiskDescription moved) {
    requireIdle("pivot");
    if (mirror != m) throw new IllegalStateException("disk " + diskId + " of guest " + guestId + " has another mirror");
    DiskFile source = file;
    file = target;
    description = moved;
    detach(m);
    return source;
  }

  /** Holds block for the bulk copy once no request touches it (see releaseBlocks); false if closed or to stop. */
  synchronized boolean holdBlock(long block, java.util.function.BooleanSupplier stop) throws InterruptedException {
    while (!closed && busyBlocks.get((int) block) && !stop.getAsBoolean()) wait(50);
    if (closed || busyBlocks.get((int) block)) return false;
    busyBlocks.set((int) block);
    return true;
  }

  synchronized void releaseBlocks(long[] blocks, int n) { // a batch of the copy's: one wake-up
    for (int i = 0; i < n; i++) busyBlocks.clear((int) blocks[i]);
    notifyAll();
  }

  /** Completes when no request is in flight (at once if none is). */
  public synchronized CompletableFuture<Void> drain() {
    if (inFlight == 0) return CompletableFuture.completedFuture(null);
    CompletableFuture<Void> f = new CompletableFuture<>();
    drainWaiters.add(f);
    return f;
  }

  public synchronized int inFlight() { return inFlight; }

  /** What a drain would take if the guest stopped now (see {@link ServiceTimes}); 0 when idle. */
  synchronized long expectedDrainNanos() {
    return inFlight == 0 && !issuing ? 0 : serviceTimes.longestNanos();
  }

  /** The state with the writes in flight counted as failed: what an oracle check may assume landed. */
  synchronized DiskState stateForCheck() {
    DiskState s = current();
    List<Long> notLanded = new ArrayList<>(s.failed());
    notLanded.addAll(writesInFlight.keySet());
    notLanded.sort(null);
    return new DiskState(s.writeSeq(), s.reads(), s.readMismatches(), s.writeErrors(), s.full(), s.owners(), notLanded);
  }

  synchronized DiskSummary summary() {
    return DiskSummary.newBuilder().setDiskId(diskId).setDatastore(description.getDatastore())
        .setSizeBytes(file.sizeBytes()).setWrites(writeSeq - failed.size() - writesInFlight.size()).setReads(reads)
        .setInFlight(inFlight).setWriteErrors(writeErrors).setFull(full).setReadMismatches(readMismatches).build();
  }

  /** The guest is handed to this host: its writes from now on are this host's generation. */
  synchronized void handedTo() {
    owners = current().handedTo(hostHash).owners(); // from the next write on
  }

  /** Stops the workload for good, aborts a hung request, waits for the rest, closes the file. */
  void close() {
    Thread t;
    synchronized (this) {
      if (closed) return;
      closed = true;
      issuing = false;
      t = workload;
      notifyAll();
    }
    requests.closing(); // aborts a hung request and cuts a slow one's delay short
    if (t != null) LockSupport.unpark(t); // a pacing sleep
    io.shutdown();
    boolean interrupted = false;
    try {
      while (!io.awaitTermination(1, TimeUnit.SECONDS)) {
        log.info("disk {} of guest {}: waiting for {} request(s) in flight to close", diskId, guestId, inFlight());
      }
      if (t != null && t != Thread.currentThread()) t.join();
    } catch (InterruptedException e) {
      interrupted = true;
    }
    List<CompletableFuture<Void>> waiting;
    DiskFile closing;
    synchronized (this) {
      waiting = List.copyOf(drainWaiters);
      drainWaiters.clear();
      closing = file;
    }
    try {
      closing.close();
    } catch (IOException e) {
      log.warn("disk {} of guest {}: closing {} failed: {}", diskId, guestId, closing.path(), e.toString());
    }
    // Not drained: closed. A switchover waiting for it must not take a device state now.
    waiting.forEach(f -> f.completeExceptionally(new IllegalStateException("disk " + diskId
        + " of guest " + guestId + " was closed while requests were in flight")));
    if (interrupted) Thread.currentThread().interrupt();
  }

  synchronized boolean awaitIssuing() {
    while (!issuing && !closed) waitUninterruptibly();
    return !closed;
  }

  synchronized boolean isIssuing() { return issuing && !closed; }

  synchronized void idle() {
    while (issuing && !closed) waitUninterruptibly();
  }

  private void waitUninterruptibly() {
    try {
      wait();
    } catch (InterruptedException e) {
      closed = true; // nobody but close() should stop this thread: treat an interrupt as one
    }
  }

  /** Issues the next write once a queue slot and its block are free; false when stopped meanwhile. */
  synchronized boolean issueWrite() {
    if (full || failed.size() >= DiskState.MAX_FAILED) { // read-only now, as a guest file system would go
      idle();
      return false;
    }
    long k = writeSeq;
    long block = content.blockAt(k);
    while (issuing && !closed && (inFlight >= queueDepth || busyBlocks.get((int) block))) waitUninterruptibly();
    if (!issuing || closed) return false;
    FaultPlan.Fault fault = faultPlan.nextWrite(System.nanoTime());
    if (fault == FaultPlan.Fault.FULL) {
      full = true; // "no space left on device": nothing lands, the guest stops writing
      writeErrors++;
      log.warn("disk {} of guest {}: write {} failed: no space left on device (fault injected); the guest stops writing",
          diskId, guestId, k);
      return false;
    }
    boolean hang = fault == FaultPlan.Fault.HANG;
    boolean fail = fault == FaultPlan.Fault.FAIL;
    DiskMirror mirrored = mirror != null && mirror.writeIssued(block) ? mirror : null;
    DiskFile f = file;
    writeSeq = k + 1;
    writesInFlight.put(k, block);
    busyBlocks.set((int) block);
    inFlight++;
    int generation = owners.get(owners.size() - 1).generation();
    long issuedAt = System.nanoTime();
    try {
      io.execute(() -> requests.write(f, mirrored, k, block, generation, hang, fail, issuedAt));
    } catch (RuntimeException e) { // no I/O thread to run it: the write fails as the guest sees it
      writeDone(k, block, "not issued: " + e, 0);
    }
    return true;
  }

  void writeDone(long k, long block, String error, long issuedAt) {
    completeDrains(writeCompleted(k, block, error, issuedAt));
  }

  private synchronized List<CompletableFuture<Void>> writeCompleted(long k, long block, String error, long issuedAt) {
    writesInFlight.remove(k);
    if (error != null) {
      // The guest sees the error; the block keeps what it held (or may hold this write: the oracle accepts either).
      writeErrors++;
      failed.add(k);
      if (closed && error.startsWith("aborted")) log.info("disk {} of guest {}: write {} {}", diskId, guestId, k, error);
      else log.warn("disk {} of guest {}: write {} failed: {}", diskId, guestId, k, error);
    }
    return completed(block, issuedAt);
  }

  /** Issues a read of the next read block unless a request holds it; false when none was issued. */
  synchronized boolean issueRead() {
    long block = content.readBlockAt(readSeq++);
    if (busyBlocks.get((int) block)) return false;
    while (issuing && !closed && inFlight >= queueDepth) waitUninterruptibly();
    if (!issuing || closed || busyBlocks.get((int) block)) return false;
    busyBlocks.set((int) block);
    inFlight++;
    long writesIssued = writeSeq;
    long issuedAt = System.nanoTime();
    DiskFile f = file;
    try {
      io.execute(() -> requests.read(f, block, writesIssued, issuedAt));
    } catch (RuntimeException e) {
      log.warn("disk {} of guest {}: read of block {} not issued: {}", diskId, guestId, block, e.toString());
      readDone(block, false, 0);
    }
    return true;
  }

  void readDone(long block, boolean mismatch, long issuedAt) {
    completeDrains(readCompleted(block, mismatch, issuedAt));
  }

  private synchronized List<CompletableFuture<Void>> readCompleted(long block, boolean mismatch, long issuedAt) {
    reads++;
    if (mismatch) readMismatches++;
    return completed(block, issuedAt);
  }

  synchronized boolean isClosed() { return closed; }

  /**
   * A request is done; returns the drains it completes, to be completed outside the lock.
   * issuedAt 0: a request that says nothing about the disk's speed (a hung one aborted).
   */
  private List<CompletableFuture<Void>> completed(long block, long issuedAt) {
    if (issuedAt != 0) serviceTimes.add(System.nanoTime() - issuedAt);
    busyBlocks.clear((int) block);
    inFlight--;
    notifyAll();
    if (inFlight > 0 || drainWaiters.isEmpty()) return List.of();
    List<CompletableFuture<Void>> done = List.copyOf(drainWaiters);
    drainWaiters.clear();
    return done;
  }

  /** Dependents run on the I/O thread, with no lock of this disk held. */
  private static void completeDrains(List<CompletableFuture<Void>> done) { done.forEach(f -> f.complete(null)); }

  /** The oracle's view of this disk's history. */
  BlockContent content() { return content; }
}
