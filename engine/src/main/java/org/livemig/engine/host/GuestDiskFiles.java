package org.livemig.engine.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.livemig.engine.guest.MigratableGuest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The disk files of a guest copy this host destroys: taken before it is destroyed, deleted after. */
final class GuestDiskFiles {
  private static final Logger log = LoggerFactory.getLogger(GuestDiskFiles.class);

  private GuestDiskFiles() {}

  /** The files of the guest's disks (taken before it is destroyed: they are deleted after). */
  static List<Path> of(MigratableGuest guest) {
    return guest.description().getDisksList().stream().map(d -> guest.disk(d.getDiskId()))
        .filter(Objects::nonNull).map(d -> d.file().path()).toList();
  }

  /**
   * Deletes each file (every one is tried), logging each as whose; off an actor's thread.
   * Returns whether every one is gone.
   */
  static boolean deleteEach(List<Path> files, String whose) {
    boolean all = true;
    for (Path f : files) {
      try {
        Files.deleteIfExists(f);
        log.info("{}: deleted disk file {}", whose, f);
      } catch (IOException | RuntimeException e) {
        log.error("{}: could not delete disk file {}: {}", whose, f, e.toString());
        all = false;
      }
    }
    return all;
  }
}
