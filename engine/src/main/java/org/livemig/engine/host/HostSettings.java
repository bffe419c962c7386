package org.livemig.engine.host;

import com.typesafe.config.Config;
import java.time.Duration;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.guest.disk.Datastores;
import org.livemig.engine.guest.disk.DiskFaults;
import org.livemig.engine.guest.disk.MirrorFaults;
import org.livemig.engine.storage.MoveSettings;
import org.livemig.messages.MigrationParameters;

/** A host's configuration (livemig.host), read once at start. */
public record HostSettings(
    String hostId,
    String dataBindHost,
    int dataPort,
    String advertisedHost,
    int advertisedPort,
    long memoryCapacityBytes,
    DataPlaneSettings dataPlane,
    Faults faults,
    Duration finishWait,
    Duration cleanupStopTimeout,
    Duration ledgerLoadTimeout,
    Duration defaultPostcopyKeepalive,
    Duration defaultDrainTimeout,
    Duration fenceLease,
    String runStateLog,
    Datastores datastores,
    long maxBandwidthBytesPerSecond,
    MoveSettings storageMove) {

  /** These settings with the faults in force now (set at run time through HostAgent.SetFaults). */
  HostSettings withFaults(Faults now) {
    return new HostSettings(hostId, dataBindHost, dataPort, advertisedHost, advertisedPort, memoryCapacityBytes, dataPlane,
        now, finishWait, cleanupStopTimeout, ledgerLoadTimeout, defaultPostcopyKeepalive, defaultDrainTimeout, fenceLease,
        runStateLog, datastores, maxBandwidthBytesPerSecond, storageMove);
  }

  /** The data endpoint a peer dials: the advertised host and port where set, else the bound ones. */
  public String dataEndpointHost() {
    return advertisedHost.isEmpty() ? dataBindHost : advertisedHost;
  }

  /** boundPort: the data port this host listens on (a port of 0 in the settings binds any). */
  public int dataEndpointPort(int boundPort) {
    return advertisedPort == 0 ? boundPort : advertisedPort;
  }

  /** The migration's drain timeout, or livemig.migration.drain-timeout if it has none (journalled before it existed). */
  public Duration drainTimeout(MigrationParameters params) {
    return params.getDrainTimeoutMs() > 0 ? Duration.ofMillis(params.getDrainTimeoutMs()) : defaultDrainTimeout;
  }

  /** The migration's postcopy keepalive, or livemig.migration.postcopy-keepalive if it has none. */
  public Duration postcopyKeepalive(MigrationParameters params) {
    return params.getPostcopyKeepaliveMs() > 0 ? Duration.ofMillis(params.getPostcopyKeepaliveMs())
        : defaultPostcopyKeepalive;
  }

  /**
   * Chaos hooks (livemig.host.faults): hold a phase's answer so a test or an operator can act
   * while the phase is pending, or make Finish report an incomplete copy; and the faults of the
   * disks this host opens from now on.
   */
  public record Faults(String holdPhase, Duration holdFor, boolean failFinish, DiskFaults disk, MirrorFaults mirror) {
    public static Faults hold(String phase, Duration holdFor) {
      return new Faults(phase.toUpperCase(), holdFor, false, DiskFaults.none(), MirrorFaults.none());
    }

    public static Faults failingFinish() {
      return new Faults("", Duration.ZERO, true, DiskFaults.none(), MirrorFaults.none());
    }

    public static Faults none() {
      return new Faults("", Duration.ZERO, false, DiskFaults.none(), MirrorFaults.none());
    }

    public static Faults disk(DiskFaults disk) {
      return new Faults("", Duration.ZERO, false, disk, MirrorFaults.none());
    }

    public static Faults mirror(MirrorFaults mirror) {
      return new Faults("", Duration.ZERO, false, DiskFaults.none(), mirror);
    }
  }

  public static HostSettings fromConfig(Config config) {
    Config h = config.getConfig("livemig.host");
    String id = h.getString("id");
    if (id.isBlank()) throw new IllegalArgumentException("livemig.host.id must name this host");
    Config d = h.getConfig("data-plane");
    Config f = h.getConfig("faults");
    long maxBandwidth = h.getBytes("max-bandwidth");
    if (maxBandwidth < 0) throw new IllegalArgumentException("livemig.host.max-bandwidth must be 0 (no limit) or more");
    return new HostSettings(
        id,
        d.getString("bind-host"),
        d.getInt("port"),
        d.getString("advertised-host"),
        d.getInt("advertised-port"),
        h.getBytes("memory-capacity").longValue(),
        DataPlaneSettings.fromConfig(d, config.getConfig("livemig.migration"), id),
        new Faults(f.getString("hold-phase").toUpperCase(), f.getDuration("hold-for"), f.getBoolean("fail-finish"),
            DiskFaults.fromConfig(f.getConfig("disk")), MirrorFaults.fromConfig(f.getConfig("mirror"))),
        h.getDuration("finish-wait"),
        h.getDuration("cleanup-stop-timeout"),
        h.getDuration("ledger-load-timeout"),
        config.getDuration("livemig.migration.postcopy-keepalive"),
        config.getDuration("livemig.migration.drain-timeout"),
        h.getDuration("fence-lease"),
        h.getString("run-state-log"),
        Datastores.fromConfig(h.getConfig("datastores")),
        maxBandwidth,
        MoveSettings.fromConfig(h.getConfig("storage-move")));
  }
}
