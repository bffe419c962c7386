package org.livemig.engine.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.livemig.engine.dataplane.BlockStream;
import org.livemig.engine.guest.disk.BlockContent;
import org.livemig.engine.guest.disk.DiskFile;
import org.livemig.engine.guest.disk.DiskMirror;
import org.livemig.engine.guest.disk.MirrorTarget;
import org.livemig.engine.guest.disk.VirtualDisk;
import org.livemig.messages.DiskDescription;

/** What the phases of a move do that depends on where the disk goes: another datastore here, or another host. */
public sealed interface MoveTarget permits MoveTarget.Local, MoveTarget.Remote {
  /** CREATE_TARGET: what the mirror writes to. */
  MirrorTarget create(VirtualDisk disk) throws IOException;

  /** PIVOT, the disk stunned and drained, its copy flushed and whole: the switch to the target. */
  void pivot(VirtualDisk disk, DiskMirror mirror) throws IOException;

  /** CLOSE_TARGET: the target is not wanted any more. Null when done, else why not. */
  String closeTarget();

  /** CLOSE_SOURCE, once committed: the disk's old file goes. Null when done, else why not. */
  String closeSource();

  /** The datastore the disk goes to (for status). */
  String datastore();

  /** Completes when the move may commit (remote: the migration's Confirm succeeded). */
  CompletableFuture<Void> commit();

  /** Another datastore of this host: a new file; the pivot swaps the disk onto it. */
  final class Local implements MoveTarget {
    private final String guestId;
    private final String datastore;
    private final Path path;
    private final String identity;
    private DiskFile file; // the move's thread only
    private DiskFile source;

    public Local(String guestId, String datastore, Path path, String identity) {
      this.guestId = guestId;
      this.datastore = datastore;
      this.path = path;
      this.identity = identity;
    }

    @Override
    public MirrorTarget create(VirtualDisk disk) throws IOException {
      DiskDescription d = disk.description();
      file = DiskFile.create(path, guestId, disk.diskId(), identity, BlockContent.blockSize(d), d.getBlockCount());
      return file;
    }

    @Override
    public void pivot(VirtualDisk disk, DiskMirror mirror) {
      DiskDescription moved = disk.description().toBuilder().setDatastore(datastore).setIdentity(identity).build();
      source = disk.pivot(mirror, file, moved);
    }

    @Override
    public String closeTarget() {
      return file == null ? null : closeAndDelete(file, "target");
    }

    @Override
    public String closeSource() {
      return source == null ? null : closeAndDelete(source, "source");
    }

    @Override public String datastore() { return datastore; }

    @Override public CompletableFuture<Void> commit() { return CompletableFuture.completedFuture(null); }
  }

  /**
   * The destination host's new file, written over the migration's disk stream; it was created in
   * Prepare. The pivot sends the last blocks; the destination's copy is the disk only once the
   * migration's Confirm committed it (then the source's file is deleted). On a rollback the
   * destination deletes its file in its own cleanup.
   */
  final class Remote implements MoveTarget {
    private final BlockStream stream;
    private final int diskIndex;
    private final String datastore;
    private final CompletableFuture<Void> commit;

    public Remote(BlockStream stream, int diskIndex, String datastore, CompletableFuture<Void> commit) {
      this.stream = stream;
      this.diskIndex = diskIndex;
      this.datastore = datastore;
      this.commit = commit;
    }

    @Override
    public MirrorTarget create(VirtualDisk disk) {
      return new RemoteDisk(stream, diskIndex, disk.file().blockSize(), disk.file().blockCount());
    }

    @Override
    public void pivot(VirtualDisk disk, DiskMirror mirror) throws IOException {
      stream.sync(diskIndex, true); // this disk is whole on the destination
      disk.detach(mirror);
    }

    @Override public String closeTarget() { return null; } // the destination's cleanup deletes its file

    /** Nothing here: Confirm's cleanup deletes the source's file after it destroyed the guest (closing it). */
    @Override public String closeSource() { return null; }

    @Override public String datastore() { return datastore; }

    @Override public CompletableFuture<Void> commit() { return commit; }
  }

  private static String closeAndDelete(DiskFile f, String which) {
    try {
      f.close();
      Files.deleteIfExists(f.path());
      return null;
    } catch (IOException e) {
      return "could not delete the " + which + " file " + f.path() + ": " + e;
    }
  }
}
