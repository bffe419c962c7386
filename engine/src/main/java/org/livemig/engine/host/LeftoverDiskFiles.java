package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.ActorContext;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.stream.Collectors;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.engine.guest.disk.OtherDiskException;
import org.livemig.messages.DiskDescription;
import org.livemig.messages.DiskFilesCreated;
import org.livemig.messages.HostReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The disk files a destination creates for a migration with copy_storage (and a secondary for its
 * copy of a protected guest), across the host's restart. Prepare records them in the host ledger
 * before it answers; a host that starts again
 * (every migration it took part in ended with the old process) settles each record once:
 *
 * <ul>
 *   <li>no Finish answered with the copy whole: a half-made copy that is nobody's disk (the guest
 *       stayed on its source, or resumes there) is deleted, each file only if its superblock is
 *       still the one created here;
 *   <li>a Finish answered with the copy whole (the guest ran here, or the coordinator may have made
 *       this host its owner): kept, it may be the guest's only current disk;
 *   <li>a file that is the disk of a guest the ledger says this host owns: kept, whatever else.
 * </ul>
 *
 * A file that could not be deleted keeps its record, tried again at the next start; a file that is
 * another disk now (the guest came back by a later migration) is left alone.
 */
final class LeftoverDiskFiles {
  private static final Logger log = LoggerFactory.getLogger(LeftoverDiskFiles.class);

  private static final String COPY = "copy:";

  private LeftoverDiskFiles() {}

  /** The record of the files Prepare created (the description with their identities, each disk's path). */
  static DiskFilesCreated created(String migrationId, GuestDisks.Created c) {
    return DiskFilesCreated.newBuilder().setMigrationId(migrationId).setGuest(c.description())
        .addAllPaths(c.disks().files().stream().map(f -> f.path().toString()).toList()).build();
  }

  /**
   * The record of a protection's copy's files (its description with their identities), under
   * "copy:", the copy's stream id and a key of this creation (a copy of the same generation made
   * again after a restart has a record of its own): never a migration's id (no ':' in those), so
   * no answer keeps them. The secondary settles it once their fate is known (SecondaryCopies).
   */
  static DiskFilesCreated created(String copyId, org.livemig.engine.guest.MigratableGuest copy) {
    return DiskFilesCreated.newBuilder().setMigrationId(COPY + copyId + "/" + java.util.UUID.randomUUID())
        .setGuest(copy.description())
        .addAllPaths(GuestDiskFiles.of(copy).stream().map(Path::toString).toList()).build();
  }

  /** What a record's files were made for, as the log says it (a copy's record from before the creation key has no '/'). */
  static String madeFor(String recordId) {
    if (!recordId.startsWith(COPY)) return "migration " + recordId;
    int key = recordId.lastIndexOf('/');
    return "the protection copy " + recordId.substring(COPY.length(), key < 0 ? recordId.length() : key);
  }

  /** What a restarted host does with a migration's created files. */
  enum Fate { DELETE, KEEP_WHOLE_COPY, KEEP_OWNED_GUESTS_DISK }

  static Fate fate(HostLedger.State s, DiskFilesCreated files) {
    Set<String> owned = s.owned().values().stream().flatMap(g -> g.getDisksList().stream())
        .map(DiskDescription::getIdentity).filter(i -> !i.isEmpty()).collect(Collectors.toSet());
    if (files.getGuest().getDisksList().stream().anyMatch(d -> owned.contains(d.getIdentity()))) {
      return Fate.KEEP_OWNED_GUESTS_DISK;
    }
    for (HostReply r : s.answered().getOrDefault(files.getMigrationId(), Map.of()).values()) {
      if (r.getOk() && (r.hasActivate() || (r.hasFinish() && r.getFinish().getComplete()))) return Fate.KEEP_WHOLE_COPY;
    }
    return Fate.DELETE;
  }

  /**
   * At start-up, from the ledger as loaded: settles every record on the blocking-io dispatcher
   * (deleting takes I/O), logging each file's fate, and tells the ledger which records are settled.
   */
  static void settle(ActorContext<?> ctx, String hostId, HostLedger.State state, ActorRef<HostLedger.Command> ledger) {
    if (state.createdFiles().isEmpty()) return;
    Map<DiskFilesCreated, Fate> fates = new LinkedHashMap<>();
    state.createdFiles().values().forEach(f -> fates.put(f, fate(state, f)));
    Executor io = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig("livemig.blocking-io-dispatcher"));
    CompletableFuture.runAsync(() -> fates.forEach((files, fate) -> {
      if (fate != Fate.DELETE || deleteAll(hostId, files)) {
        if (fate != Fate.DELETE) {
          log.info("host {}: keeps the disk files it created for migration {} ({}): {}", hostId,
              files.getMigrationId(), fate == Fate.KEEP_WHOLE_COPY ? "the copy was whole" : "a guest it owns",
              files.getPathsList());
        }
        ledger.tell(new HostLedger.Record(HostLedger.filesSettled(files.getMigrationId())));
      }
    }), io).exceptionally(e -> {
      log.error("host {}: settling the disk files of earlier migrations failed", hostId, e);
      return null;
    });
  }

  /** Deletes the record's files that are still the ones created here; false if one could not be. */
  private static boolean deleteAll(String hostId, DiskFilesCreated files) {
    boolean all = true;
    for (int i = 0; i < files.getPathsCount(); i++) {
      Path path = Path.of(files.getPaths(i));
      DiskDescription disk = files.getGuest().getDisks(i);
      try {
        if (GuestDisks.deleteIfCreatedAs(path, files.getGuest().getGuestId(), disk)) {
          log.warn("host {} restarted: deleted disk file {}, made for {} (guest {}), which never finished here",
              hostId, path, madeFor(files.getMigrationId()), files.getGuest().getGuestId());
        }
      } catch (OtherDiskException e) {
        // Another file of that name since (the guest came back by a later migration): not ours to delete.
        log.info("host {}: {} is another disk now; left in place", hostId, path);
      } catch (IOException e) {
        // Unreadable or not deletable: never deleted blindly; the record stays, so the next start tries again.
        log.error("host {}: the disk file {} of migration {} is left in place: {}", hostId, path,
            files.getMigrationId(), e.getMessage());
        all = false;
      }
    }
    return all;
  }
}
