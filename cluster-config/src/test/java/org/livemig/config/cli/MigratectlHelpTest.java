package org.livemig.config.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** migratectl's help is complete: every command, option and parameter says what it is and its default. */
class MigratectlHelpTest {
  record Run(int exit, String out, String err) {}

  static Run ctl(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    int exit = Migratectl.run(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), Map.of(), java.nio.file.Path.of("none"), args);
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  static CommandLine commandLine() {
    return new CommandLine(new Migratectl());
  }

  @Test
  void everyOptionAndParameterSaysWhatItIsAndItsDefault() {
    List<String> missing = new ArrayList<>();
    CommandLine root = commandLine();
    List<CommandSpec> commands = new ArrayList<>(List.of(root.getCommandSpec()));
    root.getSubcommands().values().forEach(c -> commands.add(c.getCommandSpec()));
    for (CommandSpec c : commands) {
      if (c.name().equals("help")) continue; // picocli's own
      if (String.join("", c.usageMessage().description()).isBlank()) missing.add(c.name() + ": no description");
      for (OptionSpec o : c.options()) {
        String text = String.join(" ", o.description());
        if (text.isBlank()) missing.add(c.name() + " " + o.longestName() + ": no description");
        boolean saysDefault = text.contains("Default") || o.required() || o.usageHelp() || o.versionHelp();
        if (!saysDefault) missing.add(c.name() + " " + o.longestName() + ": no default named");
      }
      c.positionalParameters().forEach(p -> {
        if (String.join("", p.description()).isBlank()) missing.add(c.name() + " " + p.paramLabel() + ": no description");
      });
    }
    assertEquals(List.of(), missing);
  }

  @Test
  void everyCommandHasHelpBothWays() {
    for (String name : commandLine().getSubcommands().keySet()) {
      if (name.equals("help")) continue;
      Run viaHelp = ctl("help", name);
      Run viaOption = ctl(name, "--help");
      assertEquals(0, viaHelp.exit(), name + ": " + viaHelp.err());
      assertEquals(0, viaOption.exit(), name + ": " + viaOption.err());
      assertTrue(viaHelp.out().startsWith("Usage: migratectl " + name), viaHelp.out());
      assertEquals(viaHelp.out(), viaOption.out(), name);
      assertTrue(viaHelp.out().contains("--url=URL") && viaHelp.out().contains("--token-file=FILE"),
          name + " lists the options it inherits: " + viaHelp.out());
    }
  }

  @Test
  void topLevelHelpNamesEveryCommandTheSettingsOrderAndTheExitCodes() {
    Run help = ctl("--help");
    assertEquals(0, help.exit());
    for (String name : commandLine().getSubcommands().keySet()) {
      assertTrue(help.out().contains("\n  " + name + " "), name + " listed: " + help.out());
    }
    assertTrue(help.out().contains("1. the command line"), help.out());
    assertTrue(help.out().contains("2. the environment: LIVEMIG_URL"), help.out());
    assertTrue(help.out().contains("3. the config file: --config FILE, else $LIVEMIG_CONFIG"), help.out());
    assertTrue(help.out().contains("\n  10   not authenticated"), help.out());
  }

  @Test
  void noCommandIsABadCommandLine() {
    Run none = ctl();
    assertEquals(Migratectl.EXIT_USAGE, none.exit());
    assertTrue(none.err().startsWith("migratectl: a command is needed\nUsage: migratectl"), none.err());
    assertFalse(none.err().contains("Exception"), none.err());
  }
}
