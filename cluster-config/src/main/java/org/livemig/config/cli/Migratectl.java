package org.livemig.config.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import org.livemig.config.http.Json;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.messages.MigrationInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;

/**
 * The operator's command line over a node's HTTP API (livemig.http.port). Exit codes in EXIT_*;
 * where its settings come from in Settings; the commands in MigrationCommands and ClusterCommands.
 */
@Command(name = "migratectl", mixinStandardHelpOptions = true, version = "migratectl 0.1",
    description = "Start, watch and cancel live migrations of a livemig cluster over a node's operator HTTP API.",
    optionListHeading = "Options (also after the command):%n", commandListHeading = "%nCommands:%n",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:ok (start/status --watch: the migration completed)", "1:unexpected error",
        "2:bad command line, config file, token file or CA file",
        "3:not found (migration, guest)", "4:conflict (guest already migrating, migration ended, id taken)",
        "5:unreachable (node, host or coordinator did not answer)", "6:invalid request (the message names the field)",
        "7:not supported yet (e.g. create-guest on a node that is not a host)",
        "8:the watched migration (or disk move) ended FAILED or CANCELLED",
        "9:verify: the guest's memory does not match its oracle",
        "10:not authenticated (no or an unknown token) or not allowed (the token's role is too small)"},
    subcommands = {MigrationCommands.Start.class, MigrationCommands.ListCmd.class, MigrationCommands.Status.class,
        MigrationCommands.Cancel.class, MigrationCommands.SetParams.class, MigrationCommands.Postcopy.class,
        MigrationCommands.Recover.class, MigrationCommands.Report.class, ClusterCommands.Hosts.class,
        ClusterCommands.Guests.class, ClusterCommands.CreateGuest.class, ClusterCommands.Verify.class,
        GuestCommands.MoveDisk.class, GuestCommands.Moves.class, GuestCommands.Pivot.class,
        GuestCommands.CancelMove.class, GuestCommands.PowerOff.class, ProtectionCommands.Protect.class,
        ProtectionCommands.Status.class, ProtectionCommands.Unprotect.class, ProtectionCommands.Failover.class,
        CommandLine.HelpCommand.class})
public final class Migratectl implements Callable<Integer> {
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

  // Inherited: given before or after the command, they land here. No picocli defaults: Settings
  // tells a value given from one left out.
  @Option(names = "--url", paramLabel = "URL", scope = ScopeType.INHERIT, description = HelpText.URL)
  String url;

  @Option(names = "--timeout", paramLabel = "DURATION", scope = ScopeType.INHERIT, description = HelpText.TIMEOUT)
  String timeout;

  @Option(names = "--token-file", paramLabel = "FILE", scope = ScopeType.INHERIT, description = HelpText.TOKEN_FILE)
  Path tokenFile;

  @Option(names = "--ca-file", paramLabel = "FILE", scope = ScopeType.INHERIT, description = HelpText.CA_FILE)
  Path caFile;

  @Option(names = "--config", paramLabel = "FILE", scope = ScopeType.INHERIT, description = HelpText.CONFIG)
  Path configFile;

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
    // Wide enough that few option names, paths or URLs break inside.
    CommandLine cl = new CommandLine(root).setUsageHelpWidth(100);
    cl.getCommandSpec().usageMessage().footer(HelpText.SETTINGS);
    cl.getSubcommands().values().stream().filter(c -> c.getCommand() instanceof Sub)
        .forEach(c -> c.getCommandSpec().usageMessage().footer(HelpText.SUBCOMMAND_FOOTER));
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  /** Without a command: the usage, as for any other bad command line. */
  @Override
  public Integer call() {
    err.println("migratectl: a command is needed");
    new CommandLine(this).setUsageHelpWidth(100).usage(err);
    return EXIT_USAGE;
  }

  /** IllegalArgumentException, naming the file and line or the option, for anything it cannot use. */
  OperatorApi api() {
    Settings s = Settings.resolve(new Settings.CommandLine(url, timeout, tokenFile, caFile, configFile), env,
        defaultCredentials);
    return new OperatorApi(s.url(), s.timeout(), s.credentials(), trust(s));
  }

  /** The CA an https URL is checked against; empty = the JDK's. */
  private static Optional<SSLContext> trust(Settings s) {
    if (!s.url().startsWith("https:") || s.caFile().isEmpty()) return Optional.empty();
    Path ca = s.caFile().get();
    try {
      return Optional.of(TlsCredentials.trusting(ca));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot use CA file " + ca + ": " + Settings.reason(e), e);
    }
  }

  /** Runs a command body: a failed request prints its reason and gives its exit code. */
  abstract static class Sub implements Callable<Integer> {
    @ParentCommand Migratectl root;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    abstract int execute(OperatorApi api) throws Exception;

    @Override
    public Integer call() throws Exception {
      OperatorApi api;
      try {
        api = root.api();
      } catch (IllegalArgumentException badSetting) {
        root.err.println("migratectl: " + badSetting.getMessage());
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
}
