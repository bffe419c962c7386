package org.livemig.config.cli;

import static org.livemig.config.cli.Migratectl.EXIT_MIGRATION_FAILED;
import static org.livemig.config.cli.Migratectl.EXIT_OK;

import java.io.PrintStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.livemig.config.cli.Migratectl.Sub;
import org.livemig.config.http.Json;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationList;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.StartMigration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** migratectl's commands on migrations: /migrations of the operator HTTP API. */
final class MigrationCommands {
  private MigrationCommands() {}

  @Command(name = "start", description = "Start migrating a guest from one host to another; returns once both hosts "
      + "accepted (Begin and Prepare), or with --watch once the migration ended.")
  static final class Start extends Sub {
    @Parameters(paramLabel = "GUEST", description = "the guest to move (migratectl guests lists them)") String guest;
    @Option(names = "--from", paramLabel = "HOST", required = true, description = "the source host, where the guest "
        + "runs now (required)") String from;
    @Option(names = "--to", paramLabel = "HOST", required = true, description = "the destination host (required)")
    String to;
    @Option(names = "--id", paramLabel = "ID", description = "the migration's id. Default: a new UUID") String id = "";
    @Option(names = "--max-bandwidth", paramLabel = "BYTES_PER_S", description = "bandwidth cap in bytes per second. "
        + "Default: 0, the cluster's livemig.migration.max-bandwidth-bytes-per-second (unlimited as shipped)")
    long bandwidth;
    @Option(names = "--downtime-ms", paramLabel = "MS", description = "downtime limit: switch over once the rest "
        + "fits in it. Default: 0, the cluster's livemig.migration.downtime-limit (300 ms as shipped)") long downtimeMs;
    @Option(names = "--channels", paramLabel = "N", description = "data channels. Default: 0, the cluster's "
        + "livemig.migration.channels (2 as shipped)") int channels;
    @Option(names = "--copy-storage", description = "copy the guest's disks to new files in the destination's "
        + "datastores of the same names (storage not shared), before the memory. Default: off (shared storage)")
    boolean copyStorage;
    @Option(names = "--storage-mode", paramLabel = "MODE", description = "with --copy-storage: write-blocking (each "
        + "guest write durable on both hosts before its ack; converges at any write rate) or background (passes; "
        + "converges only if the link outruns the writes). Default: write-blocking") String storageMode = "";
    @Option(names = "--watch", description = "then show its progress like `status --watch` until it ends (exit 0 "
        + "if it completed, 8 if it failed or was cancelled). Default: off") boolean watch;
    @Option(names = "--interval-ms", paramLabel = "MS", defaultValue = "500", description = "how often --watch asks. "
        + "Default: ${DEFAULT-VALUE}") long intervalMs;

    @Override
    int execute(OperatorApi api) throws Exception {
      StartMigration request = StartMigration.newBuilder().setMigrationId(id).setGuestId(guest).setSourceHost(from)
          .setDestinationHost(to).setParameters(MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(bandwidth)
              .setDowntimeLimitMs(downtimeMs).setChannels(channels).setCopyStorage(copyStorage)
              .setStorageMode(storageMode)).build();
      MigrationInfo i = info(api.send("POST", "/migrations", Json.print(request)));
      root.out.println("started " + i.getMigrationId() + ": " + i.getGuestId() + " " + i.getSourceHost() + " -> "
          + i.getDestinationHost() + " (" + i.getStatus() + " " + i.getPhase() + ")");
      return watch ? Status.watch(api, i.getMigrationId(), intervalMs, root.out) : EXIT_OK;
    }
  }

  @Command(name = "list", description = "The migrations, newest first: id, guest, hosts, status, phase, downtime. "
      + "With --limit one page, and the command for the next one if there is more.")
  static final class ListCmd extends Sub {
    @Option(names = "--limit", paramLabel = "N", description = "migrations per page: print one page and how to ask "
        + "for the next. Default: every migration (the node's pages one after another)") Integer limit;
    @Option(names = "--after", paramLabel = "TOKEN", description = "start after this page token (printed at the end "
        + "of the previous page). Default: from the newest") String after = "";

    @Override
    int execute(OperatorApi api) throws Exception {
      String token = after;
      boolean first = true;
      do {
        String query = (limit == null ? "" : "limit=" + limit + "&") + "after="
            + URLEncoder.encode(token, StandardCharsets.UTF_8);
        MigrationList l = Json.parse(api.get("/migrations?" + query), MigrationList.newBuilder()).build();
        if (first) {
          root.out.printf("%-36s  %-16s  %-21s  %-9s  %-7s  %s%n", "ID", "GUEST", "SOURCE -> DESTINATION", "STATUS",
              "PHASE", "DOWNTIME");
          first = false;
        }
        for (MigrationInfo i : l.getMigrationsList()) {
          root.out.printf("%-36s  %-16s  %-21s  %-9s  %-7s  %s%n", i.getMigrationId(), i.getGuestId(),
              i.getSourceHost() + " -> " + i.getDestinationHost(), i.getStatus(), i.getPhase(),
              i.getDowntimeMs() < 0 ? "-" : i.getDowntimeMs() + " ms");
        }
        token = l.getNextPageToken();
        if (limit != null && !token.isEmpty()) {
          root.out.println("more: migratectl list --limit " + limit + " --after " + token);
          return EXIT_OK;
        }
      } while (!token.isEmpty());
      return EXIT_OK;
    }
  }

  @Command(name = "status", description = "A migration's status (QEMU's query-migrate fields).")
  static final class Status extends Sub {
    @Parameters(paramLabel = "ID", description = "the migration's id") String id;
    @Option(names = "--watch", description = "a live progress line until the migration ends, then the status (exit 0 "
        + "if it completed, 8 if it failed or was cancelled). Default: off") boolean watch;
    @Option(names = "--interval-ms", paramLabel = "MS", defaultValue = "500", description = "how often --watch asks. "
        + "Default: ${DEFAULT-VALUE}") long intervalMs;
    @Option(names = "--json", description = "print the status as the API's JSON (MigrationInfo). Default: off")
    boolean json;

    @Override
    int execute(OperatorApi api) throws Exception {
      if (watch) return watch(api, id, intervalMs, root.out);
      String body = api.get("/migrations/" + id);
      if (json) {
        root.out.println(body);
      } else {
        root.out.print(StatusText.of(info(body)));
      }
      return EXIT_OK;
    }

    static int watch(OperatorApi api, String id, long intervalMs, PrintStream out) throws Exception {
      while (true) {
        MigrationInfo i = Json.parse(api.get("/migrations/" + id), MigrationInfo.newBuilder()).build();
        out.println(ProgressBar.line(i));
        switch (i.getStatus()) {
          case COMPLETED -> {
            out.print(StatusText.of(i));
            return EXIT_OK;
          }
          case FAILED, CANCELLED -> {
            out.print(StatusText.of(i));
            return EXIT_MIGRATION_FAILED;
          }
          default -> Thread.sleep(intervalMs); // the API has no change notification to wait on
        }
      }
    }
  }

  @Command(name = "cancel", description = "Cancel a migration before switchover: it rolls back and the source keeps "
      + "running the guest. Refused (exit 4) once the destination may run it.")
  static final class Cancel extends Sub {
    @Parameters(paramLabel = "ID", description = "the migration's id") String id;
    @Option(names = "--reason", paramLabel = "TEXT", defaultValue = "cancelled by an operator", description = "why, "
        + "recorded with the migration. Default: ${DEFAULT-VALUE}") String reason;

    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationInfo i = info(api.send("POST", "/migrations/" + id + "/cancel?reason="
          + URLEncoder.encode(reason, StandardCharsets.UTF_8), null));
      root.out.println("cancelling " + i.getMigrationId() + " (" + i.getStatus() + " " + i.getPhase() + ")");
      return EXIT_OK;
    }
  }

  @Command(name = "set-params", description = "Change the bandwidth cap or the downtime limit of a migration still in "
      + "precopy (exit 4 once past it); prints the new status as JSON.")
  static final class SetParams extends Sub {
    @Parameters(paramLabel = "ID", description = "the migration's id") String id;
    @Option(names = "--max-bandwidth", paramLabel = "BYTES_PER_S", description = "the new bandwidth cap in bytes per "
        + "second. Default: 0, keep the current one") long bandwidth;
    @Option(names = "--downtime-ms", paramLabel = "MS", description = "the new downtime limit. Default: 0, keep the "
        + "current one") long downtimeMs;

    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationParameters p = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(bandwidth)
          .setDowntimeLimitMs(downtimeMs).build();
      root.out.println(api.send("PUT", "/migrations/" + id + "/parameters", Json.print(p)));
      return EXIT_OK;
    }
  }

  @Command(name = "postcopy", description = "Switch a migration in precopy to postcopy at the end of its current "
      + "round: the destination runs the guest and fetches the pages it still misses.")
  static final class Postcopy extends Sub {
    @Parameters(paramLabel = "ID", description = "the migration's id") String id;

    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationInfo i = info(api.send("POST", "/migrations/" + id + "/postcopy", null));
      root.out.println("postcopy requested for " + i.getMigrationId() + " (" + i.getStatus() + " " + i.getPhase() + ")");
      return EXIT_OK;
    }
  }

  @Command(name = "recover", description = "Recover a paused postcopy over a new data channel (exit 4 unless it is "
      + "paused).")
  static final class Recover extends Sub {
    @Parameters(paramLabel = "ID", description = "the migration's id") String id;
    @Option(names = "--data-host", paramLabel = "HOST", description = "another address of the destination's data "
        + "endpoint. Default: the one from Prepare") String host;
    @Option(names = "--data-port", paramLabel = "PORT", description = "its port (with --data-host). Default: the one "
        + "from Prepare") Integer port;

    @Override
    int execute(OperatorApi api) throws Exception {
      String query = host == null && port == null ? "" : "?data_host="
          + URLEncoder.encode(host == null ? "" : host, StandardCharsets.UTF_8) + "&data_port=" + (port == null ? 0 : port);
      MigrationInfo i = info(api.send("POST", "/migrations/" + id + "/recover" + query, null));
      root.out.println("recovering " + i.getMigrationId() + " (" + i.getStatus() + ", recovery " + i.getRecoveries()
          + ")");
      return EXIT_OK;
    }
  }

  @Command(name = "report", description = "Write ID.json (the status) and ID.png (throughput, dirty rate and "
      + "remaining data per precopy round, the switchover and its downtime marked).")
  static final class Report extends Sub {
    @Parameters(paramLabel = "ID", description = "the migration's id") String id;
    @Option(names = "--out", paramLabel = "DIR", defaultValue = ".", description = "the directory to write to. "
        + "Default: the current one") Path out;

    @Override
    int execute(OperatorApi api) throws Exception {
      var files = MigrationReport.write(info(api.get("/migrations/" + id)), out);
      root.out.println("wrote " + files.json() + " and " + files.chart());
      return EXIT_OK;
    }
  }
}
