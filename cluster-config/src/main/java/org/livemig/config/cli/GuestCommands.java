package org.livemig.config.cli;

import static org.livemig.config.cli.Migratectl.EXIT_MIGRATION_FAILED;
import static org.livemig.config.cli.Migratectl.EXIT_NOT_FOUND;
import static org.livemig.config.cli.Migratectl.EXIT_OK;

import java.io.PrintStream;
import java.util.Optional;
import org.livemig.config.cli.Migratectl.Sub;
import org.livemig.config.http.Json;
import org.livemig.messages.DiskMoveRequest;
import org.livemig.messages.DiskMoveStatus;
import org.livemig.messages.GuestCommandResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** migratectl's commands on one guest: its disk moves and power off (/guests/{id}/... of the operator HTTP API). */
final class GuestCommands {
  private GuestCommands() {}

  @Command(name = "move-disk", description = "Move a running guest's disk to another datastore of its host while it "
      + "runs: a bulk copy, a mirror in its write path, then a brief stun to pivot onto the new file, whose old file "
      + "is then deleted. Any failure before the pivot leaves the disk where it was, the guest running on it.")
  static final class MoveDisk extends Sub {
    @Parameters(index = "0", paramLabel = "GUEST", description = "the guest's id") String guest;
    @Parameters(index = "1", paramLabel = "DISK", description = "the disk's id") String disk;
    @Parameters(index = "2", paramLabel = "DATASTORE", description = "the target datastore, on the guest's host")
    String datastore;
    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "write-blocking", description = "write-blocking: "
        + "after the first pass each guest write is acknowledged once durable on both files (converges whatever the "
        + "write rate); background: the copy catches up in passes (converges only if it outruns the writes). "
        + "Default: ${DEFAULT-VALUE}") String mode;
    @Option(names = "--max-bandwidth", paramLabel = "BYTES_PER_SECOND", defaultValue = "0", description = "the copy's "
        + "cap, 0 = none. Default: ${DEFAULT-VALUE}") long maxBandwidth;
    @Option(names = "--manual-pivot", description = "wait in READY until `pivot GUEST DISK`. Default: off")
    boolean manualPivot;
    @Option(names = "--watch", description = "then a progress line until the move ends (exit 0 if it completed, 8 if "
        + "it failed or was cancelled). Default: off") boolean watch;
    @Option(names = "--interval-ms", paramLabel = "MS", defaultValue = "500", description = "how often --watch asks. "
        + "Default: ${DEFAULT-VALUE}") long intervalMs;

    @Override
    int execute(OperatorApi api) throws Exception {
      DiskMoveRequest r = DiskMoveRequest.newBuilder().setDatastore(datastore).setMode(mode)
          .setMaxBandwidthBytesPerSecond(maxBandwidth).setManualPivot(manualPivot).build();
      GuestCommandResult started = result(api.send("POST", "/guests/" + guest + "/disks/" + disk + "/move",
          Json.print(r)));
      Optional<DiskMoveStatus> s = move(started, disk);
      s.ifPresent(m -> root.out.println(line(m)));
      return watch ? watch(api, guest, disk, intervalMs, root.out) : EXIT_OK;
    }
  }

  @Command(name = "moves", description = "A guest's disk moves, running and ended, each with its phase, progress and "
      + "the path its state machine took.")
  static final class Moves extends Sub {
    @Parameters(paramLabel = "GUEST", description = "the guest's id") String guest;
    @Option(names = "--watch", paramLabel = "DISK", description = "a progress line for that disk's move until it "
        + "ends (exit 0 if it completed, 8 if not). Default: none, the moves once") String watchDisk;
    @Option(names = "--interval-ms", paramLabel = "MS", defaultValue = "500", description = "how often --watch asks. "
        + "Default: ${DEFAULT-VALUE}") long intervalMs;

    @Override
    int execute(OperatorApi api) throws Exception {
      if (watchDisk != null) return watch(api, guest, watchDisk, intervalMs, root.out);
      GuestCommandResult r = result(api.get("/guests/" + guest + "/moves"));
      root.out.printf("guest %s: %s%n", guest, r.getGuestState());
      if (r.getMovesCount() == 0) root.out.println("  no disk move");
      for (DiskMoveStatus m : r.getMovesList()) {
        root.out.println("  " + line(m));
        root.out.println("    path: " + String.join(" > ", m.getPhasesList()));
      }
      return EXIT_OK;
    }
  }

  @Command(name = "pivot", description = "Pivot a disk move waiting in READY (started with --manual-pivot): a brief "
      + "stun, the guest continues on the new file.")
  static final class Pivot extends OneDisk {
    @Override
    int execute(OperatorApi api) throws Exception {
      return request(api, "POST", "pivot", "pivot of disk %s of guest %s requested");
    }
  }

  /** A request about one disk's move (pivot, cancel-move). */
  abstract static class OneDisk extends Sub {
    @Parameters(index = "0", paramLabel = "GUEST", description = "the guest's id") String guest;
    @Parameters(index = "1", paramLabel = "DISK", description = "the disk's id") String disk;

    int request(OperatorApi api, String method, String path, String done) throws Exception {
      result(api.send(method, "/guests/" + guest + "/disks/" + disk + "/" + path, null));
      root.out.printf(done + "%n", disk, guest);
      return EXIT_OK;
    }
  }

  @Command(name = "cancel-move", description = "Cancel a disk move before its pivot: the mirror is removed (after a "
      + "stun if it was in the write path) and the new file deleted; the guest runs on as before.")
  static final class CancelMove extends OneDisk {
    @Override
    int execute(OperatorApi api) throws Exception {
      return request(api, "DELETE", "move", "cancel of the move of disk %s of guest %s requested");
    }
  }

  @Command(name = "power-off", description = "Stop a guest for good: its workload and disks stop, its disk files stay. "
      + "During a disk move the move ends CANCELLED (its new file deleted) and nothing resumes. During a migration, "
      + "the migration is cancelled with the guest powered off (it ends CANCELLED, error kind POWERED_OFF: disk "
      + "copies removed, nobody resumes the guest); refused (exit 4) once past its switchover.")
  static final class PowerOff extends Sub {
    @Parameters(paramLabel = "GUEST", description = "the guest's id") String guest;
    @Option(names = "--reason", paramLabel = "TEXT", defaultValue = "powered off by an operator", description = "why, "
        + "recorded with a migration it cancels. Default: ${DEFAULT-VALUE}") String reason;

    @Override
    int execute(OperatorApi api) throws Exception {
      GuestCommandResult r = result(api.send("POST", "/guests/" + guest + "/power-off?reason="
          + java.net.URLEncoder.encode(reason, java.nio.charset.StandardCharsets.UTF_8), null));
      if (r.hasMigration()) {
        root.out.printf("guest %s is being powered off by migration %s, cancelled (%s %s): `migratectl status %s`%n", guest,
            r.getMigrationId(), r.getMigration().getStatus(), r.getMigration().getPhase(), r.getMigrationId());
      } else {
        root.out.printf("guest %s powered off%s%n", guest, r.getMovesCount() == 0 ? ""
            : " (its disk move(s) end with it: `migratectl moves " + guest + "`)");
      }
      return EXIT_OK;
    }
  }

  static int watch(OperatorApi api, String guest, String disk, long intervalMs, PrintStream out) throws Exception {
    while (true) {
      Optional<DiskMoveStatus> s = move(result(api.get("/guests/" + guest + "/moves")), disk);
      if (s.isEmpty()) throw new OperatorApi.Failure(EXIT_NOT_FOUND, "no move of disk " + disk + " of guest " + guest);
      DiskMoveStatus m = s.get();
      out.println(line(m));
      if (!m.getOutcome().equals("RUNNING")) {
        out.println("  path: " + String.join(" > ", m.getPhasesList()));
        return m.getOutcome().equals("COMPLETED") ? EXIT_OK : EXIT_MIGRATION_FAILED;
      }
      Thread.sleep(intervalMs); // the API has no change notification to wait on
    }
  }

  /** One line: where, how far, how fast, and how it ended. */
  static String line(DiskMoveStatus m) {
    double total = Math.max(1, m.getTotalBytes());
    String progress = String.format("%s %3.0f%% | copied %.1f of %.1f MiB | left %.1f MiB | %.1f MB/s | %d mirrored"
        + " write(s) | pass %d", m.getPhase(), 100.0 * Math.min(m.getCopiedBytes(), m.getTotalBytes()) / total,
        m.getCopiedBytes() / ProgressBar.MIB, total / ProgressBar.MIB, m.getRemainingBytes() / ProgressBar.MIB,
        m.getRateBytesPerSecond() / 1e6, m.getMirroredWrites(), m.getPasses());
    String end = switch (m.getOutcome()) {
      case "RUNNING" -> m.getReady() ? " | READY" : "";
      case "COMPLETED" -> String.format(" | COMPLETED: on datastore %s (stun %.1f ms)%s", m.getTargetDatastore(),
          m.getStunUs() / 1000.0, m.getGuestOff() ? ", guest powered off" : "");
      default -> " | " + m.getOutcome() + ": " + m.getReason() + "; the disk stays on " + m.getSourceDatastore()
          + (m.getGuestOff() ? ", guest powered off" : "");
    };
    return String.format("disk %s of guest %s: %s -> %s (%s) %s%s", m.getDiskId(), m.getGuestId(),
        m.getSourceDatastore(), m.getTargetDatastore(), m.getMode(), progress, end);
  }

  private static GuestCommandResult result(String json) {
    return Json.parse(json, GuestCommandResult.newBuilder()).build();
  }

  private static Optional<DiskMoveStatus> move(GuestCommandResult r, String disk) {
    return r.getMovesList().stream().filter(m -> m.getDiskId().equals(disk)).findFirst();
  }
}
