package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.livemig.engine.common.Ids;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskSummary;
import org.livemig.messages.DiskVerification;
import org.livemig.messages.GuestDescription;

/** The virtual disks of one guest on one host, started, stopped and drained together. */
public final class GuestDisks {
  private final List<VirtualDisk> disks;

  private GuestDisks(List<VirtualDisk> disks) {
    this.disks = List.copyOf(disks);
  }

  public static GuestDisks none() {
    return new GuestDisks(List.of());
  }

  /**
   * Creates the guest's disk files (refusing existing ones) and returns the disks with the
   * description to keep: each disk's identity filled in, the one its file carries.
   */
  public static Created create(GuestDescription d, String hostId, Datastores datastores, DiskFaults faults) {
    validate(d);
    GuestDescription.Builder described = d.toBuilder();
    for (int i = 0; i < d.getDisksCount(); i++) {
      described.setDisks(i, d.getDisks(i).toBuilder().setIdentity(UUID.randomUUID().toString()));
    }
    GuestDescription withIds = described.build();
    return new Created(withIds, openEach(withIds, hostId, faults, "create", true,
        disk -> DiskFile.create(datastores.file(hostId, withIds.getGuestId(), disk), withIds.getGuestId(),
            disk.getDiskId(), disk.getIdentity(), BlockContent.blockSize(disk), disk.getBlockCount())));
  }

  public record Created(GuestDescription description, GuestDisks disks) {}

  /**
   * Opens the disk files a migrating guest uses on shared storage: each must exist on this host
   * with the identity its source wrote. Nothing is written until the guest runs here.
   */
  public static GuestDisks open(GuestDescription d, String hostId, Datastores datastores, DiskFaults faults) {
    validate(d);
    for (DiskDescription disk : d.getDisksList()) {
      if (disk.getIdentity().isEmpty()) throw new IllegalArgumentException("disk " + disk.getDiskId() + " has no identity");
    }
    return openEach(d, hostId, faults, "open", false,
        disk -> DiskFile.open(datastores.file(hostId, d.getGuestId(), disk), d.getGuestId(), disk.getDiskId(),
            disk.getIdentity(), BlockContent.blockSize(disk), disk.getBlockCount()));
  }

  private interface FileOpener {
    DiskFile open(DiskDescription disk) throws IOException;
  }

  /**
   * A disk on each file: on any failure none stays open, and files this call created are deleted
   * (a retry of the same guest must not find them "already existing").
   */
  private static GuestDisks openEach(GuestDescription d, String hostId, DiskFaults faults, String verb, boolean created,
      FileOpener files) {
    List<VirtualDisk> opened = new ArrayList<>();
    DiskFile pending = null;
    try {
      for (int i = 0; i < d.getDisksCount(); i++) {
        DiskDescription disk = d.getDisks(i);
        pending = files.open(disk);
        opened.add(new VirtualDisk(d.getGuestId(), i, d.getSeed(), disk, pending, faults, hostId,
            DiskState.fresh(BlockContent.hostHash(hostId))));
        pending = null;
      }
      return new GuestDisks(opened);
    } catch (IOException | RuntimeException | Error e) {
      GuestDisks made = new GuestDisks(opened);
      made.close();
      List<DiskFile> left = new ArrayList<>(made.disks.stream().map(VirtualDisk::file).toList());
      if (pending != null) {
        left.add(pending);
        try {
          pending.close();
        } catch (IOException closing) {
          e.addSuppressed(closing);
        }
      }
      if (created) left.forEach(f -> deleteQuietly(f.path(), e));
      if (e instanceof RuntimeException r) throw r;
      if (e instanceof Error err) throw err;
      throw new IllegalArgumentException("cannot " + verb + " the disks of guest " + d.getGuestId() + " on " + hostId
          + ": " + e.getMessage(), e);
    }
  }

  /** Deletes the files of disks this host created for a guest that will not be (closed first); failures join cause. */
  public void deleteFiles(Throwable cause) {
    files().forEach(f -> deleteQuietly(f.path(), cause));
  }

  /**
   * Deletes the file at path if it is the disk file this host created for the guest's disk (its
   * superblock: guest, disk, the identity in the description, shape); true if it deleted it, false
   * if there is no file. OtherDiskException for a file that is another (left in place).
   */
  public static boolean deleteIfCreatedAs(java.nio.file.Path path, String guestId, DiskDescription disk)
      throws IOException {
    if (!java.nio.file.Files.exists(path)) return false;
    DiskFile.open(path, guestId, disk.getDiskId(), disk.getIdentity(), BlockContent.blockSize(disk),
        disk.getBlockCount()).close();
    return java.nio.file.Files.deleteIfExists(path);
  }

  /** Deletes a file this host just created; a failure to is added to the error that made it go. */
  private static void deleteQuietly(java.nio.file.Path file, Throwable cause) {
    try {
      java.nio.file.Files.deleteIfExists(file);
    } catch (IOException e) {
      cause.addSuppressed(e);
    }
  }

  /** Rejects disk lists the workload cannot honour. */
  public static void validate(GuestDescription d) {
    Set<String> ids = new HashSet<>();
    for (DiskDescription disk : d.getDisksList()) {
      String invalid = Ids.problem("disk_id", disk.getDiskId());
      if (invalid != null) throw new IllegalArgumentException(invalid);
      if (!ids.add(disk.getDiskId())) throw new IllegalArgumentException("disk_id " + disk.getDiskId() + " appears twice");
      String ds = Ids.problem("datastore", disk.getDatastore());
      if (ds != null) throw new IllegalArgumentException("disk " + disk.getDiskId() + ": " + ds);
      BlockContent.validate(disk);
    }
  }

  public boolean isEmpty() { return disks.isEmpty(); }

  /** Each disk's file, in the description's order. */
  public List<DiskFile> files() { return disks.stream().map(VirtualDisk::file).toList(); }

  /** The disk of that id, or null. */
  public VirtualDisk disk(String diskId) {
    return disks.stream().filter(d -> d.diskId().equals(diskId)).findFirst().orElse(null);
  }

  /** d with each disk's description as it is now (datastore and identity change when a move pivots). */
  public GuestDescription describe(GuestDescription d) {
    boolean moved = false;
    for (int i = 0; i < disks.size(); i++) moved |= disks.get(i).description() != d.getDisks(i);
    if (!moved) return d;
    GuestDescription.Builder b = d.toBuilder().clearDisks();
    disks.forEach(disk -> b.addDisks(disk.description()));
    return b.build();
  }

  public void start() { disks.forEach(VirtualDisk::start); }

  public void stopIssuing() { disks.forEach(VirtualDisk::stopIssuing); }

  /** Completes when no disk has a request in flight. */
  public CompletableFuture<Void> drain() {
    return CompletableFuture.allOf(disks.stream().map(VirtualDisk::drain).toArray(CompletableFuture[]::new));
  }

  /** The longest expected drain of the guest's disks (see {@link VirtualDisk#expectedDrainNanos}). */
  public long expectedDrainNanos() {
    return disks.stream().mapToLong(VirtualDisk::expectedDrainNanos).max().orElse(0);
  }

  public int inFlight() {
    return disks.stream().mapToInt(VirtualDisk::inFlight).sum();
  }

  /** The guest now runs on this host: its next writes are this host's generation. */
  public void handedTo() { disks.forEach(VirtualDisk::handedTo); }

  public void close() { disks.forEach(VirtualDisk::close); }

  public List<DiskSummary> summaries() {
    return disks.stream().map(VirtualDisk::summary).toList();
  }

  /** Each disk's state, encoded after one another (nothing may be in flight). */
  public byte[] encodeStates() {
    List<DiskState> states = disks.stream().map(VirtualDisk::state).toList();
    ByteBuffer b = ByteBuffer.allocate(states.stream().mapToInt(DiskState::encodedLength).sum());
    states.forEach(s -> s.encode(b));
    return b.array();
  }

  /** Decodes every disk's state from b (checked before any disk changes), then restores them. */
  public void restoreStates(ByteBuffer b) {
    List<DiskState> states = new ArrayList<>();
    for (VirtualDisk disk : disks) states.add(DiskState.decode(b, disk.diskId()));
    if (b.hasRemaining()) throw new IllegalArgumentException("device state has " + b.remaining() + " bytes after the disks");
    for (int i = 0; i < disks.size(); i++) disks.get(i).restore(states.get(i));
  }

  /**
   * Checks every disk against its oracle; the guest must be stopped (writes in flight count as not
   * landed). A closed disk (its guest powered off) is read through the file opened again.
   */
  public List<DiskVerification> verify() {
    List<DiskVerification> out = new ArrayList<>();
    for (VirtualDisk disk : disks) {
      DiskFile file = disk.file();
      try (DiskFile reopened = file.isOpen() ? null : file.reopenForReading()) {
        out.add(DiskOracle.verify(disk.diskId(), disk.content(), reopened == null ? file : reopened,
            disk.stateForCheck()));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read disk " + disk.diskId() + " to verify it", e);
      }
    }
    return out;
  }
}
