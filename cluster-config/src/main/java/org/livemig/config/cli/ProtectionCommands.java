package org.livemig.config.cli;

import static org.livemig.config.cli.Migratectl.EXIT_MIGRATION_FAILED;
import static org.livemig.config.cli.Migratectl.EXIT_OK;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import org.livemig.config.cli.Migratectl.Sub;
import org.livemig.config.http.Json;
import org.livemig.messages.ProtectGuest;
import org.livemig.messages.ProtectionInfo;
import org.livemig.messages.ProtectionState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** migratectl's commands on a guest's protection (checkpointed replication; /guests/{id}/protection and /failover). */
final class ProtectionCommands {
  private ProtectionCommands() {}

  @Command(name = "protect", description = "Protect a running guest: a copy on the secondary host, filled while the "
      + "guest runs, then a checkpoint every interval (the guest pauses only to harvest it); the guest's output is "
      + "held until the checkpoint that covers it is acknowledged. When the primary's host dies the copy runs from "
      + "its last whole checkpoint. Guests with disks cannot be protected yet.")
  static final class Protect extends Sub {
    @Parameters(index = "0", paramLabel = "GUEST", description = "the guest's id") String guest;
    @Option(names = "--primary", required = true, paramLabel = "HOST", description = "the host the guest runs on")
    String primary;
    @Option(names = "--secondary", required = true, paramLabel = "HOST", description = "the host that keeps the copy")
    String secondary;
    @Option(names = "--interval-ms", paramLabel = "MS", defaultValue = "0", description = "from one checkpoint to the "
        + "next, 5..60000; 0 = the hosts' livemig.host.replication.checkpoint-interval (100 ms). Default: ${DEFAULT-VALUE}")
    int intervalMs;
    @Option(names = "--manual-failover", description = "when the primary is lost, wait for `failover GUEST` instead of "
        + "failing over at once. Default: off") boolean manualFailover;

    @Override
    int execute(OperatorApi api) throws Exception {
      ProtectGuest r = ProtectGuest.newBuilder().setPrimaryHost(primary).setSecondaryHost(secondary)
          .setIntervalMs(intervalMs).setManualFailover(manualFailover).build();
      root.out.println(line(protection(api.send("POST", "/guests/" + guest + "/protection", Json.print(r)))));
      return EXIT_OK;
    }
  }

  @Command(name = "protection", description = "A guest's protection: its state (SYNCING, REPLICATING, DEGRADED, "
      + "FAILOVER_WAITING, FAILING_OVER, FAILED_OVER, UNPROTECTED, LOST), checkpoints, the age of the secondary's "
      + "state, pause times, and after a failover what the copy resumed from.")
  static final class Status extends Sub {
    @Parameters(paramLabel = "GUEST", description = "the guest's id") String guest;
    @Option(names = "--json", description = "the status as JSON. Default: off") boolean json;

    @Override
    int execute(OperatorApi api) throws Exception {
      String body = api.get("/guests/" + guest + "/protection");
      ProtectionInfo i = protection(body);
      root.out.println(json ? body : line(i));
      return i.getState() == ProtectionState.LOST ? EXIT_MIGRATION_FAILED : EXIT_OK;
    }
  }

  @Command(name = "unprotect", description = "End a guest's protection: replication stops, the guest runs on its "
      + "primary with its held output released, the secondary's copy is destroyed. Refused (exit 4) while a failover "
      + "is under way or waits for an operator.")
  static final class Unprotect extends WithReason {
    @Parameters(paramLabel = "GUEST", description = "the guest's id") String guest;
    @Option(names = "--reason", paramLabel = "TEXT", defaultValue = "unprotected by an operator",
        description = "why. Default: ${DEFAULT-VALUE}") String reason;

    @Override
    int execute(OperatorApi api) throws Exception {
      return answer(api, "DELETE", "/guests/" + guest + "/protection", reason);
    }
  }

  @Command(name = "failover", description = "Run a protected guest's copy from its last whole checkpoint now: a live "
      + "primary is stopped for good first (so one copy runs at a time). Refused (exit 4) before the first "
      + "checkpoint is acknowledged.")
  static final class Failover extends WithReason {
    @Parameters(paramLabel = "GUEST", description = "the guest's id") String guest;
    @Option(names = "--reason", paramLabel = "TEXT", defaultValue = "failover requested by an operator",
        description = "why, recorded with the decision. Default: ${DEFAULT-VALUE}") String reason;

    @Override
    int execute(OperatorApi api) throws Exception {
      return answer(api, "POST", "/guests/" + guest + "/failover", reason);
    }
  }

  /** A command that changes the protection, with a reason: prints the status it answers with. */
  abstract static class WithReason extends Sub {
    int answer(OperatorApi api, String method, String path, String reason) throws Exception {
      root.out.println(line(protection(api.send(method, path + "?reason=" + URLEncoder.encode(reason,
          StandardCharsets.UTF_8), null))));
      return EXIT_OK;
    }
  }

  private static ProtectionInfo protection(String json) {
    return Json.parse(json, ProtectionInfo.newBuilder()).build();
  }

  /** One line an operator reads. */
  static String line(ProtectionInfo i) {
    StringBuilder b = new StringBuilder(String.format("%s %s %s -> %s (generation %d)", i.getGuestId(), i.getState(),
        i.getPrimaryHost(), i.getSecondaryHost(), i.getGeneration()));
    if (i.getCheckpoints() > 0 || i.getSyncBytes() > 0) {
      b.append(String.format(" | %d checkpoints, last %d ms ago, %.1f KiB, pause %.2f ms (p50 %.2f, p99 %.2f)",
          i.getCheckpoints(), i.getLastCheckpointAgeMs(), i.getLastCheckpointBytes() / 1024.0, i.getLastPauseUs() / 1000.0,
          i.getP50PauseUs() / 1000.0, i.getP99PauseUs() / 1000.0));
    }
    if (i.getState() == ProtectionState.FAILED_OVER) {
      b.append(String.format(" | runs on %s from checkpoint %d (step %d, outputs up to %d)", i.getSecondaryHost(),
          i.getFailoverCheckpoint(), i.getFailoverSteps(), i.getFailoverOutputsUpto()));
    }
    if (i.getPrimaryFenced()) b.append(" | the primary's host fenced itself: the guest is paused (unprotect runs it again)");
    if (i.getPrimaryLeaseStopped()) b.append(" | no checkpoint acknowledged within the primary's lease: the guest is paused");
    if (!i.getReason().isEmpty()) b.append(" | ").append(i.getReason());
    return b.toString();
  }
}
