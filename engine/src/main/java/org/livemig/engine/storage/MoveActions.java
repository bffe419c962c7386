package org.livemig.engine.storage;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.livemig.engine.guest.disk.BlockContent;
import org.livemig.engine.guest.disk.BulkCopy;
import org.livemig.engine.guest.disk.DiskMirror;
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.guest.disk.VirtualDisk;
import org.livemig.engine.guest.disk.WriteLatency;
import org.livemig.engine.storage.StorageMove.Flag;
import org.livemig.engine.storage.StorageMove.Phase;
import org.livemig.engine.storage.StorageMove.State;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.LatencySummary;
import org.slf4j.Logger;

/**
 * What each phase of a disk move does, blocking, on the move's own thread; each returns null
 * when it did what it should, or why not. Cleanup steps never throw: each does what it can and
 * says what it could not, so the state machine can go on to the next.
 */
final class MoveActions {
  private final StorageMoveActor.Request request;
  private final MoveSettings settings;
  private final MirrorFaults faults;
  /** Not the actor's logger: the actions run on the move's own thread. */
  private static final Logger log = org.slf4j.LoggerFactory.getLogger(MoveActions.class);
  private final Consumer<String> mirrorFailed;
  private final VirtualDisk disk;
  private final MoveTarget target;
  private final DiskDescription source;
  private final long startedMs = System.currentTimeMillis();

  // Written by the move's thread, read for status by the actor.
  private volatile DiskMirror mirror;
  /** The copy's reader (one block buffer), made with the mirror: every pass of the move reuses it. */
  private BulkCopy copy;
  private volatile long passes;
  private volatile long copyNanos;
  /** When the pass in progress began (0: none in progress), so the rate shows during a long first pass. */
  private volatile long passStartedNanos;
  private volatile long stunMicros;
  private volatile long endedMs;
  /** The guest's write latencies when the move began: the move's own are those since. */
  private final WriteLatency.Snapshot latencyBefore;

  MoveActions(StorageMoveActor.Request request, MoveSettings settings, MirrorFaults faults,
      Consumer<String> mirrorFailed) {
    this.request = request;
    this.settings = settings;
    this.faults = faults;
    this.mirrorFailed = mirrorFailed;
    this.disk = request.disk();
    this.target = request.target();
    this.source = disk.description();
    this.latencyBefore = disk.writeLatency().snapshot();
  }

  String modeName() {
    return request.mode() == DiskMirror.Mode.WRITE_BLOCKING ? "write-blocking" : "background";
  }

  /** Runs the phase's action; null when done, else why not. */
  String run(Phase phase, CompletableFuture<Void> stop) {
    try {
      return switch (phase) {
        case CREATE_TARGET -> createTarget();
        case BULK_COPY -> bulkCopy(stop);
        case INSTALL_MIRROR -> {
          mirror.install();
          yield null;
        }
        case SYNC -> sync(stop);
        case READY -> ready(stop);
        case STUN -> stun(true);
        case PIVOT -> pivot();
        case UNSTUN -> {
          disk.unstun();
          yield null;
        }
        case AWAIT_COMMIT -> awaitCommit(stop);
        case CLOSE_SOURCE -> target.closeSource();
        case STUN_FOR_CLEANUP -> stun(false);
        case REMOVE_MIRROR -> {
          if (mirror != null) disk.detach(mirror);
          yield null;
        }
        case CLOSE_TARGET -> target.closeTarget();
        case POWER_OFF -> {
          request.guest().destroy(); // the disks close: nothing is issued, the writes in flight end
          yield null;
        }
        case DONE -> null;
      };
    } catch (IOException | RuntimeException e) {
      return e.toString();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    } finally {
      if (phase == Phase.CLOSE_SOURCE || phase == Phase.CLOSE_TARGET) endedMs = System.currentTimeMillis();
    }
  }

  private String createTarget() throws IOException {
    DiskMirror m = new DiskMirror(target.create(disk), request.mode(), faults);
    mirror = m; // from here on CLOSE_TARGET closes it, whatever happens next
    copy = new BulkCopy(disk, m);
    disk.attach(m);
    m.failure().thenAccept(mirrorFailed);
    return null;
  }

  private String bulkCopy(CompletableFuture<Void> stop) throws IOException, InterruptedException {
    copyPass(stop);
    mirror.firstPassDone();
    return stop.isDone() ? "stopped" : null;
  }

  /** Passes until what is left is small enough to pivot on (write-blocking: nothing). */
  private String sync(CompletableFuture<Void> stop) throws IOException, InterruptedException {
    while (!stop.isDone()) {
      if (inSync()) return null;
      if (passes >= settings.maxPasses()) {
        return "does not converge: " + remainingBytes() + " bytes still to copy after " + passes + " passes (the guest"
            + " writes faster than the copy" + (request.mode() == DiskMirror.Mode.BACKGROUND
                ? "; a write-blocking mirror converges whatever the write rate)" : ")");
      }
      copyPass(stop);
    }
    return "stopped";
  }

  private boolean inSync() {
    long left = remainingBytes();
    return request.mode() == DiskMirror.Mode.WRITE_BLOCKING ? left == 0 : left <= settings.readyThresholdBytes();
  }

  /** In sync until the pivot: a background mirror keeps copying what the guest dirties. */
  private String ready(CompletableFuture<Void> stop) throws IOException, InterruptedException {
    while (!stop.isDone()) {
      if (request.mode() == DiskMirror.Mode.BACKGROUND && mirror.dirtyBlocks() > 0) {
        copyPass(stop);
      } else {
        waitFor(stop, 50); // and look again: the guest may have written meanwhile
      }
    }
    return null;
  }

  /** Remote: the pivot is done; the migration's Confirm commits the move, a rollback ends it. */
  private String awaitCommit(CompletableFuture<Void> stop) throws InterruptedException {
    CompletableFuture.anyOf(stop, target.commit()).join();
    return target.commit().isDone() ? null : "the migration did not complete";
  }

  private static void waitFor(CompletableFuture<Void> stop, long ms) throws InterruptedException {
    try {
      stop.get(ms, TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // not stopped yet
    }
  }

  private void copyPass(CompletableFuture<Void> stop) throws IOException, InterruptedException {
    copyPass(stop, request.bytesPerSecond());
  }

  private void copyPass(CompletableFuture<Void> stop, long bytesPerSecond) throws IOException, InterruptedException {
    passStartedNanos = System.nanoTime();
    try {
      BulkCopy.Pass p = copy.pass(stop::isDone, bytesPerSecond);
      passes++;
      copyNanos += p.nanos();
    } finally {
      passStartedNanos = 0;
    }
  }

  /**
   * The disk issues nothing more; waits for its requests in flight. For the pivot a drain beyond
   * drain-timeout fails the move; for cleanup it is logged and cleanup goes on (the guest's writes
   * never depended on the target, and a write still in flight leaves a retired mirror alone).
   */
  private String stun(boolean forPivot) throws InterruptedException {
    long t0 = System.nanoTime();
    disk.stun();
    try {
      disk.drain().get(settings.drainTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      String why = disk.inFlight() + " request(s) still in flight after " + settings.drainTimeout();
      if (forPivot) return why;
      log.warn("disk {}: stunned for cleanup with {}; cleaning up anyway", disk.diskId(), why);
    } catch (ExecutionException e) {
      return "drain failed: " + e.getCause();
    } finally {
      if (forPivot) stunMicros = (System.nanoTime() - t0) / 1000;
    }
    return null;
  }

  /** Copies what is left (background), makes the target durable and switches the disk to it. */
  private String pivot() throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    while (mirror.dirtyBlocks() > 0) copyPass(new CompletableFuture<>(), 0); // in the stun: not paced
    mirror.injectPivotFault();
    mirror.flush();
    target.pivot(disk, mirror);
    stunMicros += (System.nanoTime() - t0) / 1000;
    return null;
  }

  /** The move's actor stopped before the end: the disk issues again and no mirror stays attached. */
  void abandon() {
    DiskMirror m = mirror;
    if (m != null) disk.detach(m);
    disk.unstun();
  }

  long remainingBytes() {
    DiskMirror m = mirror;
    return m == null ? source.getBlockCount() * BlockContent.blockSize(source)
        : m.dirtyBlocks() * BlockContent.blockSize(source);
  }

  DiskMoveStatus status(State s, List<String> phases) {
    DiskMirror m = mirror;
    long total = source.getBlockCount() * BlockContent.blockSize(source);
    long copied = m == null ? 0 : m.copiedBytes();
    long started = passStartedNanos;
    long nanos = copyNanos + (started == 0 ? 0 : System.nanoTime() - started);
    WriteLatency.Snapshot during = disk.writeLatency().snapshot().since(latencyBefore);
    return DiskMoveStatus.newBuilder().setGuestId(request.guest().description().getGuestId()).setDiskId(disk.diskId())
        .setSourceDatastore(source.getDatastore()).setTargetDatastore(target.datastore()).setMode(modeName())
        .setPhase(s.phase().name()).setOutcome(s.ended() ? s.outcome().name() : "RUNNING")
        .setReason(s.end() == null ? "" : s.end().reason()).setReady(s.phase() == Phase.READY)
        .setTotalBytes(total).setCopiedBytes(copied).setRemainingBytes(remainingBytes()).setPasses(passes)
        .setMirroredWrites(m == null ? 0 : m.mirroredWrites())
        .setRateBytesPerSecond(nanos == 0 ? 0 : copied * 1_000_000_000L / nanos)
        .setDiskFile(s.has(Flag.COMMITTED) ? "target" : "source").setGuestOff(s.has(Flag.POWERED_OFF))
        .setStartedAtEpochMs(startedMs).setEndedAtEpochMs(s.ended() ? endedMs : 0).setStunUs(stunMicros)
        .addAllPhases(phases).setWritesBefore(summary(latencyBefore.unmirrored()))
        .setWritesTracked(summary(during.unmirrored())).setWritesMirrored(summary(during.mirrored())).build();
  }

  private static LatencySummary summary(long[] buckets) {
    return LatencySummary.newBuilder().setCount(WriteLatency.Snapshot.count(buckets))
        .setP50Us(WriteLatency.Snapshot.quantileMicros(buckets, 0.5))
        .setP99Us(WriteLatency.Snapshot.quantileMicros(buckets, 0.99)).build();
  }
}
