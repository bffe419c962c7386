package org.livemig.engine.guest.disk;

import com.typesafe.config.Config;
import java.util.Locale;

/**
 * Faults injected into a disk move on one host (livemig.host.faults.mirror), for tests and
 * operators who want to see each cleanup path: the first write to the target, or the first read
 * of the source, in a phase of the move fails.
 *
 * @param targetWriteError the first target write in this phase fails with an I/O error
 * @param targetFull the first target write in this phase fails with "no space left on device"
 * @param sourceReadError the first source read of the bulk copy in this phase fails
 */
public record MirrorFaults(Phase targetWriteError, Phase targetFull, Phase sourceReadError) {
  /**
   * COPY: the first pass of the bulk copy, before the mirror is in the guest's write path;
   * MIRROR: after the first pass (the write-blocking mirror installed, or background rounds);
   * PIVOT: the pivot's flush of the target (target-write-error only: the disk stunned, nothing else writes).
   */
  public enum Phase { NONE, COPY, MIRROR, PIVOT }

  public static MirrorFaults none() {
    return new MirrorFaults(Phase.NONE, Phase.NONE, Phase.NONE);
  }

  public static MirrorFaults fromConfig(Config c) {
    return new MirrorFaults(phase(c, "target-write-error"), phase(c, "target-full"), phase(c, "source-read-error"));
  }

  private static Phase phase(Config c, String key) {
    String v = c.getString(key);
    try {
      return Phase.valueOf(v.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("livemig.host.faults.mirror." + key + " must be none, copy, mirror or pivot, was '"
          + v + "'", e);
    }
  }
}
