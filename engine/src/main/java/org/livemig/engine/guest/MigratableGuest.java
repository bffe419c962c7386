package org.livemig.engine.guest;

import java.util.List;
import java.util.concurrent.CompletionStage;
import org.livemig.messages.DiskSummary;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;

/**
 * A guest the migration engine can move: its memory with a dirty bitmap, its small device
 * state, and a run/pause lifecycle guarded by an owner token so that at most one host (the
 * one holding the durable resume decision) can ever run it.
 */
public interface MigratableGuest {
  GuestDescription description();

  GuestMemory memory();

  /** Pages written since the last {@link DirtyBitmap#syncAndClear()}. */
  DirtyBitmap dirtyBitmap();

  RunState state();

  /** The token that may run this guest, or null when none. */
  String ownerToken();

  /**
   * Hands the guest to a new owner (null clears it).
   *
   * @throws IllegalStateException while RUNNING or once DESTROYED
   */
  void assignOwner(String token);

  /**
   * Starts or resumes the workload; no-op if already RUNNING.
   *
   * @throws IllegalStateException if token is null or not the owner token, or the guest is DESTROYED
   */
  void run(String token);

  /**
   * Takes a built guest over without running it (a domain migrated while paused arrives
   * paused): CREATED becomes PAUSED; nothing changes in any other state.
   *
   * @throws IllegalStateException if token is not the owner token
   */
  void holdPaused(String token);

  /**
   * Stops the workload. The stage completes once the workload has finished its current step and
   * will not write again until {@link #run}; immediately if not running. Never blocks the caller.
   */
  CompletionStage<Void> pause();

  /**
   * Disks: completes once no request is in flight (at once without disks). Meant after
   * {@link #pause}, which stops new requests; the device state can be taken only after both.
   */
  CompletionStage<Void> drain();

  /** How long a drain would take if the guest stopped now (0 without disks): part of the expected downtime. */
  long expectedDrainNanos();

  /** Disk requests issued and not yet completed. */
  int diskRequestsInFlight();

  List<DiskSummary> disks();

  /** Each disk checked against its oracle; only while stopped (writes in flight count as not landed). */
  List<DiskVerification> verifyDisks();

  /** The disk of that id (for a storage move), or null if the guest has none. */
  org.livemig.engine.guest.disk.VirtualDisk disk(String diskId);

  /** Stops the workload for good (no more writes ever, disk handles closed); idempotent. */
  void destroy();

  /**
   * Encodes the device state.
   *
   * @throws IllegalStateException while RUNNING (or while a pause has not completed)
   */
  byte[] deviceState();

  /**
   * Restores device state produced by {@link #deviceState()} of the same guest.
   *
   * @throws IllegalStateException while RUNNING (or while a pause has not completed)
   * @throws IllegalArgumentException if the state is malformed or belongs to another guest
   */
  void loadDeviceState(byte[] state);

  /**
   * Postcopy on the destination: the workload waits for every missing page before touching it
   * (null = no postcopy, every page is valid). The guest drops the reference once nothing is missing.
   */
  void setPostcopyPages(PostcopyPages pages);

  /** Workload steps completed so far. */
  long steps();

  /** Auto-converge: the guest runs at (100 - percent)% of its configured rate; 0..99. */
  void setThrottlePercent(int percent);

  int throttlePercent();
}
