package org.livemig.engine.guest.disk;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.livemig.messages.DiskDescription;

/**
 * A host's datastores (livemig.host.datastores): named directories that hold guests' disk
 * files. A shared datastore is one directory several hosts see under the same name (NFS, Ceph);
 * a guest whose disks are all on shared datastores migrates without copying them.
 */
public record Datastores(Map<String, Path> directories) {
  public Datastores {
    directories = Map.copyOf(directories);
  }

  public static Datastores none() {
    return new Datastores(Map.of());
  }

  public static Datastores fromConfig(Config datastores) {
    Map<String, Path> m = new TreeMap<>();
    for (String name : datastores.root().keySet()) m.put(name, Path.of(datastores.getString(name)));
    return new Datastores(m);
  }

  /** Where the disk's file lives on this host; IllegalArgumentException naming the datastore if unknown. */
  public Path file(String hostId, String guestId, DiskDescription d) {
    Path dir = directories.get(d.getDatastore());
    if (dir == null) {
      throw new IllegalArgumentException("disk " + d.getDiskId() + ": host " + hostId + " has no datastore '"
          + d.getDatastore() + "' (it has " + (directories.isEmpty() ? "none" : new TreeMap<>(directories).keySet()) + ")");
    }
    return dir.resolve(guestId).resolve(d.getDiskId() + ".img");
  }
}
