package org.livemig.engine.guest;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.nio.ByteBuffer;
import java.util.List;
import org.livemig.engine.common.EpochMicros;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.engine.guest.disk.VirtualDisk;
import org.livemig.messages.DiskSummary;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;

/**
 * A guest whose "CPU" is a deterministic workload: step k overwrites page {@code pageAt(k)} with
 * content derived from (seed, k). Its whole memory is therefore a function of (description,
 * steps), which is what lets {@link GuestOracle} check a migrated copy page by page.
 *
 * <p>State transitions are synchronized on the guest (callers are actor threads). The workload
 * thread reads {@link #state} and {@link #pendingStop} between steps, so a pause takes effect
 * after at most one page write; it completes the pause future once it has stopped.
 *
 * <p>In postcopy ({@link #setPostcopyPages}) a step whose page has not arrived yet waits for it,
 * and is not done at all if a pause or destroy ends the wait, so memory stays a function of
 * (description, steps) for every page present.
 *
 * <p>Its disks ({@link GuestDisks}) run their own I/O workload while the guest runs: a pause
 * stops new requests, and {@link #drain} completes once the ones in flight have.
 */
public final class SyntheticGuest implements MigratableGuest {
  /** Pacing granularity: at high rates the thread wakes about once per millisecond. */
  private static final long BATCH_NANOS = 1_000_000L;
  /** Backlog forgiven after a stall (GC, descheduling) instead of bursting to catch up. */
  private static final long MAX_BACKLOG_NANOS = 20_000_000L;

  private final GuestDescription description;
  private final PageContent content;
  private final GuestMemory memory;
  private final DirtyBitmap dirty;
  /** Postcopy page presence while pages are missing; the workload clears it once none is. */
  private final AtomicReference<PostcopyPages> postcopy = new AtomicReference<>();
  private final RunStateListener runStates;
  private final GuestDisks disks;
  /** Told after every step: the workload's external output (replication's output commit) hangs here. */
  private volatile StepListener stepListener = StepListener.NONE;

  // Guarded by this.
  private String ownerToken;
  private Thread workload;
  // Written under this, read by the workload thread between steps.
  private volatile RunState state = RunState.CREATED;
  /** Set by pause/destroy, completed and cleared by the workload thread once it has stopped. */
  private volatile CompletableFuture<Void> pendingStop;
  private final CompletableFuture<Void> destroyed = new CompletableFuture<>(); // destroy() has finished
  private volatile int throttlePercent;
  /** Written only by the workload thread while running, or under this while it is stopped. */
  private volatile long steps;
  /** The device state went out: if this copy runs again, its writes are a new ownership generation. */
  private boolean stateHandedOut; // guarded by this

  private SyntheticGuest(GuestDescription d, String ownerToken, RunStateListener runStates, GuestDisks disks) {
    if (d.getDisksCount() > 0 && disks.isEmpty()) {
      throw new IllegalArgumentException("guest " + d.getGuestId() + " has disks: open them on a host first");
    }
    this.description = d;
    this.runStates = runStates;
    this.disks = disks;
    this.content = new PageContent(d); // validates d
    this.memory = new GuestMemory(d.getPageSize(), d.getPageCount());
    this.dirty = new DirtyBitmap(d.getPageCount());
    this.ownerToken = ownerToken;
  }

  /** A fresh source guest: memory in its initial fill, never run, step 0. */
  public static SyntheticGuest create(GuestDescription d, String ownerToken) {
    return create(d, ownerToken, RunStateListener.NONE);
  }

  /** A fresh source guest whose run-state changes are told to runStates. */
  public static SyntheticGuest create(GuestDescription d, String ownerToken, RunStateListener runStates) {
    return create(d, ownerToken, runStates, GuestDisks.none());
  }

  /** A fresh source guest with its disks (created on its host, see {@link GuestDisks#create}). */
  public static SyntheticGuest create(GuestDescription d, String ownerToken, RunStateListener runStates,
      GuestDisks disks) {
    SyntheticGuest g = new SyntheticGuest(d, ownerToken, runStates, disks);
    g.content.writeInitialFill(g.memory);
    return g;
  }

  /** A destination copy: zero memory, no owner; pages and device state arrive by migration. */
  public static SyntheticGuest empty(GuestDescription d) {
    return empty(d, RunStateListener.NONE);
  }

  /** A destination copy whose run-state changes are told to runStates. */
  public static SyntheticGuest empty(GuestDescription d, RunStateListener runStates) {
    return new SyntheticGuest(d, null, runStates, GuestDisks.none());
  }

  /** A destination copy on shared storage: its disks are the source's files, opened here. */
  public static SyntheticGuest empty(GuestDescription d, RunStateListener runStates, GuestDisks disks) {
    return new SyntheticGuest(d, null, runStates, disks);
  }

  /** As created, with each disk where it is now (a storage move may have moved one). */
  @Override public GuestDescription description() { return disks.describe(description); }

  @Override public GuestMemory memory() { return memory; }

  @Override public DirtyBitmap dirtyBitmap() { return dirty; }

  @Override public RunState state() { return state; }

  @Override public synchronized String ownerToken() { return ownerToken; }

  @Override public long steps() { return steps; }

  @Override public int throttlePercent() { return throttlePercent; }

  /** Set while the guest is stopped: the workload thread reads it at every step. */
  public void setStepListener(StepListener listener) { stepListener = listener == null ? StepListener.NONE : listener; }

  @Override
  public synchronized void assignOwner(String token) {
    if (state == RunState.RUNNING || state == RunState.DESTROYED) {
      throw new IllegalStateException("cannot change the owner of guest " + id() + " while it is " + state);
    }
    ownerToken = token;
  }

  @Override
  public synchronized void run(String token) {
    if (state == RunState.DESTROYED) throw new IllegalStateException("guest " + id() + " is destroyed and cannot run");
    if (token == null) throw new IllegalStateException("guest " + id() + " cannot run without an owner token");
    if (!token.equals(ownerToken)) {
      throw new IllegalStateException("token does not own guest " + id() + " (owner is "
          + (ownerToken == null ? "nobody" : "another token") + ")");
    }
    if (state == RunState.RUNNING) return;
    if (stateHandedOut) {
      disks.handedTo();
      stateHandedOut = false;
    }
    state = RunState.RUNNING;
    runStates.changed(id(), RunState.RUNNING, EpochMicros.now()); // before the workload can take a step
    if (workload == null) {
      workload = new Thread(this::workloadLoop, "guest-" + id() + "-workload");
      workload.setDaemon(true);
      workload.start();
    }
    disks.start();
    notifyAll(); // an idle workload thread waits on this
  }

  @Override
  public synchronized void holdPaused(String token) {
    if (token == null || !token.equals(ownerToken)) {
      throw new IllegalStateException("token does not own guest " + id());
    }
    if (state == RunState.CREATED) {
      state = RunState.PAUSED;
      runStates.changed(id(), RunState.PAUSED, EpochMicros.now());
    }
  }

  @Override
  public CompletionStage<Void> pause() {
    CompletableFuture<Void> stop;
    Thread t;
    synchronized (this) {
      if (state != RunState.RUNNING) {
        // Not running, but a pause may still be in flight: hand out that one so the caller still waits for it.
        CompletableFuture<Void> inFlight = pendingStop;
        return inFlight != null ? inFlight : CompletableFuture.completedFuture(null);
      }
      state = RunState.PAUSED;
      disks.stopIssuing(); // the ones in flight complete on their own: see drain()
      stop = requestStop();
      t = workload;
      notifyAll();
    }
    LockSupport.unpark(t); // cut a pacing sleep short
    wakePostcopyWaiters(); // and a wait for a missing page
    return stop;
  }

  /** "No more writes ever" holds when destroy returns, for every caller (a disk move and a cleanup may race). */
  @Override
  public void destroy() {
    Thread t;
    boolean first;
    synchronized (this) {
      first = state != RunState.DESTROYED;
      t = workload;
      if (first) {
        state = RunState.DESTROYED;
        if (t != null) requestStop();
        else runStates.changed(id(), RunState.DESTROYED, EpochMicros.now()); // never ran: nothing to wait for
        notifyAll();
      }
    }
    if (!first) {
      if (t != Thread.currentThread()) destroyed.join(); // the first caller's close and join
      return;
    }
    try {
      disks.close(); // no request issued from here on; the file handles go
      if (t == null || t == Thread.currentThread()) return;
      LockSupport.unpark(t); // wait for the (at most one) step in progress
      wakePostcopyWaiters();
      Threads.joinUninterruptibly(t);
    } finally {
      destroyed.complete(null);
    }
  }

  @Override
  public void setPostcopyPages(PostcopyPages pages) {
    postcopy.set(pages);
  }

  private void wakePostcopyWaiters() {
    PostcopyPages pc = postcopy.get();
    if (pc != null) pc.wakeAll();
  }

  private CompletableFuture<Void> requestStop() {
    if (pendingStop == null) pendingStop = new CompletableFuture<>();
    return pendingStop;
  }

  @Override
  public synchronized byte[] deviceState() {
    requireStopped("read the device state of");
    byte[] diskStates = disks.encodeStates(); // throws while a request is in flight: drain first
    stateHandedOut = !disks.isEmpty();
    return new DeviceState(steps, throttlePercent, diskStates).encode(description, content);
  }

  @Override
  public synchronized void loadDeviceState(byte[] blob) {
    requireStopped("load device state into");
    DeviceState s = DeviceState.decode(blob, description, content);
    if (s.disks().length > 0) {
      disks.restoreStates(ByteBuffer.wrap(s.disks()));
      disks.handedTo(); // this copy's writes, once it runs, are this host's
    }
    // The workload resumes at step s.steps(), continuing the source's deterministic history.
    // The throttle is not restored: auto-converge belongs to the migration, not to the guest.
    steps = s.steps();
  }

  private void requireStopped(String action) {
    if (state == RunState.RUNNING) throw new IllegalStateException("cannot " + action + " running guest " + id());
    if (pendingStop != null) {
      throw new IllegalStateException("cannot " + action + " guest " + id() + " before its pause has completed");
    }
  }

  @Override public CompletionStage<Void> drain() { return disks.drain(); }

  @Override public long expectedDrainNanos() { return disks.expectedDrainNanos(); }

  @Override public int diskRequestsInFlight() { return disks.inFlight(); }

  @Override public List<DiskSummary> disks() { return disks.summaries(); }

  @Override public List<DiskVerification> verifyDisks() { return disks.verify(); }
  @Override public VirtualDisk disk(String diskId) { return disks.disk(diskId); }

  @Override
  public void setThrottlePercent(int percent) {
    if (percent < 0 || percent > 99) throw new IllegalArgumentException("throttle percent must be 0..99, was " + percent);
    throttlePercent = percent;
    Thread t;
    synchronized (this) {
      t = workload;
    }
    if (t != null) LockSupport.unpark(t); // re-pace now rather than after a long sleep
  }

  private String id() { return description.getGuestId(); }

  private boolean mayStep() { return state == RunState.RUNNING && pendingStop == null; }

  /** The workload thread: idles while stopped, acknowledges stops, steps while running. */
  private void workloadLoop() {
    while (true) {
      CompletableFuture<Void> stop;
      boolean exit;
      synchronized (this) {
        while (state != RunState.RUNNING && state != RunState.DESTROYED && pendingStop == null) {
          try {
            wait();
          } catch (InterruptedException e) {
            // Nobody but destroy() should stop this thread; treat an interrupt like one.
            state = RunState.DESTROYED;
          }
        }
        stop = pendingStop;
        pendingStop = null;
        exit = state == RunState.DESTROYED;
        // The workload has taken its last step: this, not the pause request, ends the run.
        if ((stop != null || exit) && state != RunState.RUNNING) runStates.changed(id(), state, EpochMicros.now());
      }
      // Completed outside the lock: dependents run here and may call back into the guest.
      if (stop != null) stop.complete(null);
      if (exit) return;
      if (stop == null) runSteps();
    }
  }

  /** Steps at the configured (throttled) rate until a pause or destroy is requested. */
  private void runSteps() {
    long k = steps;
    int pacedThrottle = -1;
    double pagesPerNano = 0;
    long t0 = 0;
    long credited = 0; // steps accounted for since t0
    byte[] scratch = content.newPageBuffer();
    while (mayStep()) {
      int throttle = throttlePercent;
      if (throttle != pacedThrottle) { // (re)start pacing from now at the new rate
        pacedThrottle = throttle;
        pagesPerNano = description.getDirtyPagesPerSecond() * (100 - throttle) / 100.0 / 1e9;
        t0 = System.nanoTime();
        credited = 0;
      }
      if (pagesPerNano == 0) { // idle guest: wait for the next state change, no spinning
        idleWhileRunning();
        continue;
      }
      long elapsed = System.nanoTime() - t0;
      long due = (long) (elapsed * pagesPerNano) - credited;
      if (due <= 0) {
        long untilNext = (long) ((credited + 1) / pagesPerNano) - elapsed;
        LockSupport.parkNanos(Math.max(untilNext, BATCH_NANOS));
        continue;
      }
      long maxBacklog = Math.max(1, (long) (MAX_BACKLOG_NANOS * pagesPerNano));
      if (due > maxBacklog) {
        credited += due - maxBacklog;
        due = maxBacklog;
      }
      for (long i = 0; i < due && mayStep(); i++) {
        long page = content.pageAt(k);
        if (!awaitPostcopyPage(page)) return; // paused or destroyed while waiting: the step is retried on the next run
        content.writeStep(memory, page, k, scratch); // write first,
        dirty.mark(page);                            // then mark, so a sync never misses the new content,
        steps = ++k;                                 // then count the step,
        stepListener.stepped(k);                     // then its output (a checkpoint at this count has it)
        credited++;
      }
    }
  }

  /** Postcopy: waits until the page is present; false if the wait ended without it (stop requested). */
  private boolean awaitPostcopyPage(long page) {
    PostcopyPages pc = postcopy.get();
    if (pc == null) return true;
    if (pc.missingCount() == 0) { // everything arrived: no more checks per step
      postcopy.compareAndSet(pc, null);
      return true;
    }
    if (pc.awaitPresent(page, this::mayStep)) return true;
    if (Thread.interrupted()) { // like the workload's other waits: an interrupt means destroy
      synchronized (this) {
        state = RunState.DESTROYED;
      }
    }
    return false;
  }

  private synchronized void idleWhileRunning() {
    while (mayStep()) {
      try {
        wait();
      } catch (InterruptedException e) {
        state = RunState.DESTROYED;
      }
    }
  }
}
