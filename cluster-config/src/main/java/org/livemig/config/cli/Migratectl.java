package org.livemig.config.cli;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import org.livemig.config.http.Json;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationList;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.StartMigration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** The operator's command line over a node's HTTP API (livemig.http.port). Exit codes in EXIT_*. */
@Command(name = "migratectl", mixinStandardHelpOptions = true, version = "migratectl 0.1",
    description = "Start, watch and cancel live migrations of a livemig cluster over HTTP.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:ok (status --watch: the migration completed)", "1:unexpected error", "2:bad command line",
        "3:not found (migration, guest)", "4:conflict (guest already migrating, migration ended, id taken)",
        "5:unreachable (node, host or coordinator did not answer)", "6:invalid request (the message names the field)",
        "7:not supported yet", "8:the watched migration ended FAILED or CANCELLED",
        "9:verify: the guest's memory does not match its oracle",
        "10:not authenticated (no or an unknown token) or not allowed (the token's role is too small)"},
    subcommands = {Migratectl.Start.class, Migratectl.ListCmd.class, Migratectl.Status.class, Migratectl.Cancel.class,
        Migratectl.SetParams.class, Migratectl.Postcopy.class, Migratectl.Recover.class, Migratectl.Hosts.class, Migratectl.Guests.class, Migratectl.Verify.class,
        Migratectl.Report.class})
public final class Migratectl {
  public static final int EXIT_OK = 0;
  public static final int EXIT_ERROR = 1;
  public static final int EXIT_USAGE = 2;
  public static final int EXIT_NOT_FOUND = 3;
  public static final int EXIT_CONFLICT = 4;
  public static final int EXIT_UNREACHABLE = 5;
  public static final int EXIT_INVALID = 6;
  public static final int EXIT_NOT_SUPPORTED = 7;
  public static final int EXIT_MIGRATION_FAILED = 8;
  public static final int EXIT_VERIFY_MISMATCH = 9;
  public static final int EXIT_AUTH = 10;

  @Option(names = "--url", description = "a node's HTTP address (default: $MIGRATECTL_URL or ${DEFAULT-VALUE})",
      defaultValue = "${env:MIGRATECTL_URL:-https://127.0.0.1:8558}")
  String url;

  @Option(names = "--timeout", description = "per request, e.g. 60s (default ${DEFAULT-VALUE})", defaultValue = "60s")
  String timeout;

  @Option(names = "--token-file", paramLabel = "FILE", description = "the bearer token: alone on a line, or ROLE TOKEN "
      + "lines as a node writes them (the first is used). Default: $LIVEMIG_TOKEN, else ./data/operator-credentials "
      + "if it exists (what a node started here with the shipped configs wrote)")
  Path tokenFile;

  @Option(names = "--ca-file", paramLabel = "FILE", description = "for https: the CA certificate (PEM) to trust. Default: "
      + "$LIVEMIG_CA_FILE, else ./data/keys/ca.crt if it exists (the development CA of nodes started here), else "
      + "the JDK's trusted CAs")
  Path caFile;

  static final String CA_ENV = "LIVEMIG_CA_FILE";
  static final Path DEFAULT_CA = Path.of("data", "keys", "ca.crt");

  PrintStream out;
  PrintStream err;
  Map<String, String> env;
  Path defaultCredentials;

  public static void main(String[] args) {
    System.exit(run(System.out, System.err, args));
  }

  /** Runs one command; the exit code is returned (tests call this in-process). */
  public static int run(PrintStream out, PrintStream err, String... args) {
    return run(out, err, System.getenv(), Credentials.DEFAULT_FILE, args);
  }

  /** With the environment and the default credentials file given (tests). */
  public static int run(PrintStream out, PrintStream err, Map<String, String> env, Path defaultCredentials,
      String... args) {
    Migratectl root = new Migratectl();
    root.out = out;
    root.err = err;
    root.env = env;
    root.defaultCredentials = defaultCredentials;
    CommandLine cl = new CommandLine(root);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  OperatorApi api() {
    return new OperatorApi(url, Duration.parse("PT" + timeout.toUpperCase()),
        Credentials.find(tokenFile, env, defaultCredentials), trust());
  }

  /** The CA an https URL is checked against; empty = the JDK's. IllegalArgumentException for a bad file. */
  private Optional<SSLContext> trust() {
    if (!url.startsWith("https:")) return Optional.empty();
    Path ca = caFile != null ? caFile : env.get(CA_ENV) != null ? Path.of(env.get(CA_ENV))
        : Files.isRegularFile(DEFAULT_CA) ? DEFAULT_CA : null;
    if (ca == null) return Optional.empty();
    try {
      return Optional.of(TlsCredentials.trusting(ca));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot use CA file " + ca + ": " + e.getMessage(), e);
    }
  }

  /** Runs a command body: a failed request prints its reason and gives its exit code. */
  abstract static class Sub implements Callable<Integer> {
    @ParentCommand Migratectl root;

    abstract int execute(OperatorApi api) throws Exception;

    @Override
    public Integer call() throws Exception {
      OperatorApi api;
      try {
        api = root.api();
      } catch (IllegalArgumentException badTokenFile) {
        root.err.println("migratectl: " + badTokenFile.getMessage());
        return EXIT_USAGE;
      }
      try {
        return execute(api);
      } catch (OperatorApi.Failure f) {
        root.err.println("migratectl: " + f.getMessage());
        return f.exitCode;
      }
    }

    MigrationInfo info(String json) {
      return Json.parse(json, MigrationInfo.newBuilder()).build();
    }
  }

  @Command(name = "start", description = "Start migrating a guest; returns once both hosts accepted.")
  static final class Start extends Sub {
    @Parameters(paramLabel = "GUEST") String guest;
    @Option(names = "--from", required = true, description = "source host") String from;
    @Option(names = "--to", required = true, description = "destination host") String to;
    @Option(names = "--id", description = "migration id (default: a new UUID)") String id = "";
    @Option(names = "--max-bandwidth", description = "bytes per second, 0 = the configured default") long bandwidth;
    @Option(names = "--downtime-ms", description = "downtime limit, 0 = the configured default") long downtimeMs;
    @Option(names = "--channels", description = "data channels, 0 = the configured default") int channels;
    @Option(names = "--watch", description = "then watch it like `status --watch`") boolean watch;
    @Option(names = "--interval-ms", defaultValue = "500", description = "--watch polling interval") long intervalMs;

    @Override
    int execute(OperatorApi api) throws Exception {
      StartMigration request = StartMigration.newBuilder().setMigrationId(id).setGuestId(guest).setSourceHost(from)
          .setDestinationHost(to).setParameters(MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(bandwidth)
              .setDowntimeLimitMs(downtimeMs).setChannels(channels)).build();
      MigrationInfo i = info(api.send("POST", "/migrations", Json.print(request)));
      root.out.println("started " + i.getMigrationId() + ": " + i.getGuestId() + " " + i.getSourceHost() + " -> "
          + i.getDestinationHost() + " (" + i.getStatus() + " " + i.getPhase() + ")");
      return watch ? Status.watch(api, i.getMigrationId(), intervalMs, root.out) : EXIT_OK;
    }
  }

  @Command(name = "list", description = "Every migration, newest first.")
  static final class ListCmd extends Sub {
    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationList l = Json.parse(api.get("/migrations"), MigrationList.newBuilder()).build();
      root.out.printf("%-36s  %-16s  %-21s  %-9s  %-7s  %s%n", "ID", "GUEST", "SOURCE -> DESTINATION", "STATUS", "PHASE",
          "DOWNTIME");
      for (MigrationInfo i : l.getMigrationsList()) {
        root.out.printf("%-36s  %-16s  %-21s  %-9s  %-7s  %s%n", i.getMigrationId(), i.getGuestId(),
            i.getSourceHost() + " -> " + i.getDestinationHost(), i.getStatus(), i.getPhase(),
            i.getDowntimeMs() < 0 ? "-" : i.getDowntimeMs() + " ms");
      }
      return EXIT_OK;
    }
  }

  @Command(name = "status", description = "A migration's status (QEMU's query-migrate fields).")
  static final class Status extends Sub {
    @Parameters(paramLabel = "ID") String id;
    @Option(names = "--watch", description = "a live progress line until the migration ends") boolean watch;
    @Option(names = "--interval-ms", defaultValue = "500") long intervalMs;
    @Option(names = "--json", description = "print the status as JSON") boolean json;

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
          default -> Thread.sleep(intervalMs);
        }
      }
    }
  }

  @Command(name = "cancel", description = "Cancel a migration before switchover; the source keeps the guest.")
  static final class Cancel extends Sub {
    @Parameters(paramLabel = "ID") String id;
    @Option(names = "--reason", defaultValue = "cancelled by an operator") String reason;

    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationInfo i = info(api.send("POST", "/migrations/" + id + "/cancel?reason="
          + java.net.URLEncoder.encode(reason, java.nio.charset.StandardCharsets.UTF_8), null));
      root.out.println("cancelling " + i.getMigrationId() + " (" + i.getStatus() + " " + i.getPhase() + ")");
      return EXIT_OK;
    }
  }

  @Command(name = "set-params", description = "Change the bandwidth cap (bytes/s) or downtime limit of a migration still in precopy.")
  static final class SetParams extends Sub {
    @Parameters(paramLabel = "ID") String id;
    @Option(names = "--max-bandwidth") long bandwidth;
    @Option(names = "--downtime-ms") long downtimeMs;

    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationParameters p = MigrationParameters.newBuilder().setMaxBandwidthBytesPerSecond(bandwidth)
          .setDowntimeLimitMs(downtimeMs).build();
      root.out.println(api.send("PUT", "/migrations/" + id + "/parameters", Json.print(p)));
      return EXIT_OK;
    }
  }

  @Command(name = "postcopy", description = "Switch a migration in precopy to postcopy at the end of its current round.")
  static final class Postcopy extends Sub {
    @Parameters(paramLabel = "ID") String id;

    @Override
    int execute(OperatorApi api) throws Exception {
      MigrationInfo i = info(api.send("POST", "/migrations/" + id + "/postcopy", null));
      root.out.println("postcopy requested for " + i.getMigrationId() + " (" + i.getStatus() + " " + i.getPhase() + ")");
      return EXIT_OK;
    }
  }

  @Command(name = "recover", description = "Recover a paused postcopy over a new channel (default: the destination's "
      + "data endpoint from Prepare).")
  static final class Recover extends Sub {
    @Parameters(paramLabel = "ID") String id;
    @Option(names = "--data-host", description = "another address of the destination's data endpoint") String host;
    @Option(names = "--data-port", description = "its port (with --data-host)") Integer port;

    @Override
    int execute(OperatorApi api) throws Exception {
      String query = host == null && port == null ? "" : "?data_host="
          + java.net.URLEncoder.encode(host == null ? "" : host, java.nio.charset.StandardCharsets.UTF_8)
          + "&data_port=" + (port == null ? 0 : port);
      MigrationInfo i = info(api.send("POST", "/migrations/" + id + "/recover" + query, null));
      root.out.println("recovering " + i.getMigrationId() + " (" + i.getStatus() + ", recovery " + i.getRecoveries()
          + ")");
      return EXIT_OK;
    }
  }

  @Command(name = "hosts", description = "Cluster members with their roles and status, then every host.")
  static final class Hosts extends Sub {
    @Override
    int execute(OperatorApi api) throws Exception {
      Struct s = Json.parse(api.get("/hosts"), Struct.newBuilder()).build();
      for (Value m : s.getFieldsOrThrow("members").getListValue().getValuesList()) {
        var f = m.getStructValue().getFieldsMap();
        root.out.printf("%-40s  %-8s  %s%n", f.get("address").getStringValue(), f.get("status").getStringValue(),
            String.join(",", f.get("roles").getListValue().getValuesList().stream().map(Value::getStringValue).toList()));
      }
      for (Value h : s.getFieldsOrThrow("hosts").getListValue().getValuesList()) {
        var f = h.getStructValue().getFieldsMap();
        root.out.printf("host %-12s  data %-21s  %2.0f guest(s)  %s%n", f.get("host_id").getStringValue(),
            f.get("data_endpoint").getStringValue(), f.get("guests").getNumberValue(), f.get("address").getStringValue());
      }
      return EXIT_OK;
    }
  }

  @Command(name = "guests", description = "Guests on every host of the cluster.")
  static final class Guests extends Sub {
    @Override
    int execute(OperatorApi api) throws Exception {
      Struct s = Json.parse(api.get("/guests"), Struct.newBuilder()).build();
      root.out.printf("%-20s  %-12s  %-10s  %10s  %s%n", "GUEST", "HOST", "STATE", "SIZE MiB", "STEPS");
      for (Value g : s.getFieldsOrThrow("guests").getListValue().getValuesList()) {
        var f = g.getStructValue().getFieldsMap();
        root.out.printf("%-20s  %-12s  %-10s  %10.0f  %.0f%n", f.get("guest_id").getStringValue(),
            f.get("host").getStringValue(), f.get("state").getStringValue(),
            f.get("size_bytes").getNumberValue() / ProgressBar.MIB, f.get("steps").getNumberValue());
      }
      return EXIT_OK;
    }
  }

  @Command(name = "verify", description = "Check a guest's memory against its oracle on the host that holds it "
      + "(the guest is paused while it is checked).")
  static final class Verify extends Sub {
    @Parameters(paramLabel = "GUEST") String guest;

    @Override
    int execute(OperatorApi api) throws Exception {
      var v = Json.parse(api.get("/guests/" + guest + "/verify"), org.livemig.messages.GuestVerification.newBuilder())
          .build();
      root.out.printf("guest %s on %s: %d pages checked after %d steps, %d mismatch(es)%s; %s (held %d ms)%n",
          v.getGuestId(), v.getHost(), v.getPagesChecked(), v.getSteps(), v.getMismatches(),
          v.getFirstMismatchesCount() == 0 ? "" : " (first pages " + v.getFirstMismatchesList() + ")",
          v.getVerified() ? "verified" : "DOES NOT MATCH", v.getCheckMs());
      return v.getVerified() ? EXIT_OK : EXIT_VERIFY_MISMATCH;
    }
  }

  @Command(name = "report", description = "Write ID.json (the status) and ID.png (throughput, dirty rate, remaining per round).")
  static final class Report extends Sub {
    @Parameters(paramLabel = "ID") String id;
    @Option(names = "--out", defaultValue = ".", description = "directory (default: the current one)") Path out;

    @Override
    int execute(OperatorApi api) throws Exception {
      var files = MigrationReport.write(info(api.get("/migrations/" + id)), out);
      root.out.println("wrote " + files.json() + " and " + files.chart());
      return EXIT_OK;
    }
  }
}
