package org.livemig.config.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where migratectl's settings come from: command line > environment > config file > default, and bad files. */
class SettingsTest {
  @TempDir Path dir;

  static final Settings.CommandLine NOTHING = new Settings.CommandLine(null, null, null, null, null);

  Path write(String name, String... lines) throws Exception {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    return Files.writeString(p, String.join("\n", lines) + "\n");
  }

  Settings resolve(Settings.CommandLine cli, Map<String, String> env) {
    return Settings.resolve(cli, env, dir.resolve("no-credentials-here"));
  }

  /** The one-line message a bad setting gives. */
  String problem(Settings.CommandLine cli, Map<String, String> env) {
    String m = assertThrows(IllegalArgumentException.class, () -> resolve(cli, env)).getMessage();
    assertFalse(m.contains("\n"), "one line: " + m);
    return m;
  }

  @Test
  void urlFromTheCommandLineThenTheEnvironmentThenTheConfigFileThenTheDefault() throws Exception {
    Path conf = write("migratectl.conf", "# mine", "url = https://from-file:1");
    var env = new HashMap<>(Map.of("LIVEMIG_CONFIG", conf.toString(), "LIVEMIG_URL", "https://from-env:2",
        "MIGRATECTL_URL", "https://from-old-env:3"));
    var cli = new Settings.CommandLine("https://from-cli:4", null, null, null, null);
    assertEquals("https://from-cli:4", resolve(cli, env).url());
    assertEquals("https://from-env:2", resolve(NOTHING, env).url());
    env.remove("LIVEMIG_URL");
    assertEquals("https://from-old-env:3", resolve(NOTHING, env).url(), "the older name still counts");
    env.remove("MIGRATECTL_URL");
    assertEquals("https://from-file:1", resolve(NOTHING, env).url());
    env.remove("LIVEMIG_CONFIG");
    assertEquals("https://127.0.0.1:8558", resolve(NOTHING, env).url());
  }

  @Test
  void tokenFromTheCommandLineThenTheEnvironmentThenTheConfigFileThenTheNodesCredentials() throws Exception {
    Path cliToken = write("cli.token", "from-cli");
    write("node/operator-credentials", "operator from-node", "read-only other");
    write("conf/file.token", "# a comment first", "read-only from-config");
    Path conf = write("conf/migratectl.conf", "token-file = file.token");
    var env = new HashMap<>(Map.of("LIVEMIG_CONFIG", conf.toString(), "LIVEMIG_TOKEN", " from-env "));
    Path nodeCredentials = dir.resolve("node/operator-credentials");

    var cli = new Settings.CommandLine(null, null, cliToken, null, null);
    assertEquals("from-cli", Settings.resolve(cli, env, nodeCredentials).credentials().orElseThrow().token());
    Credentials fromEnv = Settings.resolve(NOTHING, env, nodeCredentials).credentials().orElseThrow();
    assertEquals("from-env", fromEnv.token());
    assertEquals("$LIVEMIG_TOKEN", fromEnv.source());
    env.remove("LIVEMIG_TOKEN");
    Credentials fromConfig = Settings.resolve(NOTHING, env, nodeCredentials).credentials().orElseThrow();
    assertEquals("from-config", fromConfig.token(), "token-file is relative to the config file's directory");
    assertEquals(dir.resolve("conf/file.token").toString(), fromConfig.source());
    env.remove("LIVEMIG_CONFIG");
    assertEquals("from-node", Settings.resolve(NOTHING, env, nodeCredentials).credentials().orElseThrow().token());
    assertEquals(Optional.empty(), resolve(NOTHING, env).credentials());
  }

  @Test
  void caFileAndTimeoutFollowTheSameOrder() throws Exception {
    Path conf = write("migratectl.conf", "ca-file = /etc/livemig/ca.crt", "timeout = 2m");
    var env = new HashMap<>(Map.of("LIVEMIG_CONFIG", conf.toString(), "LIVEMIG_CA_FILE", "/env/ca.crt"));
    var cli = new Settings.CommandLine(null, "5s", null, Path.of("/cli/ca.crt"), null);
    assertEquals(Optional.of(Path.of("/cli/ca.crt")), resolve(cli, env).caFile());
    assertEquals(Duration.ofSeconds(5), resolve(cli, env).timeout());
    assertEquals(Optional.of(Path.of("/env/ca.crt")), resolve(NOTHING, env).caFile());
    assertEquals(Duration.ofMinutes(2), resolve(NOTHING, env).timeout());
    env.remove("LIVEMIG_CA_FILE");
    assertEquals(Optional.of(Path.of("/etc/livemig/ca.crt")), resolve(NOTHING, env).caFile());
    env.remove("LIVEMIG_CONFIG");
    assertEquals(Duration.ofSeconds(60), resolve(NOTHING, env).timeout());
  }

  @Test
  void theConfigFileIsTheOptionThenLivemigConfigThenTheXdgPlace() throws Exception {
    Path option = write("option.conf", "url = http://option:1");
    Path named = write("named.conf", "url = http://named:1");
    write("xdg/livemig/migratectl.conf", "url = http://xdg:1");
    write("home/.config/livemig/migratectl.conf", "url = http://home:1");
    var env = new HashMap<>(Map.of("LIVEMIG_CONFIG", named.toString(), "XDG_CONFIG_HOME", dir.resolve("xdg").toString(),
        "HOME", dir.resolve("home").toString()));
    assertEquals("http://option:1", resolve(new Settings.CommandLine(null, null, null, null, option), env).url());
    assertEquals("http://named:1", resolve(NOTHING, env).url());
    env.remove("LIVEMIG_CONFIG");
    assertEquals("http://xdg:1", resolve(NOTHING, env).url());
    env.remove("XDG_CONFIG_HOME");
    assertEquals("http://home:1", resolve(NOTHING, env).url());
    assertEquals(Settings.DEFAULT_URL, resolve(NOTHING, Map.of("HOME", dir.resolve("nobody").toString())).url(),
        "no file in the usual place is no config");
  }

  @Test
  void aNamedConfigFileMustExistAndBeText() throws Exception {
    Path missing = dir.resolve("missing.conf");
    assertEquals("cannot read config file " + missing + ": no such file",
        problem(new Settings.CommandLine(null, null, null, null, missing), Map.of()));
    assertEquals("cannot read config file " + missing + ": no such file",
        problem(NOTHING, Map.of("LIVEMIG_CONFIG", missing.toString())));
    Path binary = Files.write(dir.resolve("binary.conf"), new byte[] {'u', 'r', 'l', '=', (byte) 0xff, (byte) 0xfe});
    assertEquals("cannot read config file " + binary + ": not UTF-8 text",
        problem(NOTHING, Map.of("LIVEMIG_CONFIG", binary.toString())));
  }

  @Test
  void aBadConfigFileNamesItsFileAndLine() throws Exception {
    assertEquals(at("unknown.conf", 2) + ": unknown key 'tokenfile' (known: url, token-file, ca-file, timeout)",
        badFile("unknown.conf", "url = https://n:1", "tokenfile = x"));
    assertEquals(at("noequals.conf", 3) + ": expected KEY = VALUE, found 'url https://n:1'",
        badFile("noequals.conf", "# comment", "", "url https://n:1"));
    assertEquals(at("twice.conf", 3) + ": url is set again (first on line 1)",
        badFile("twice.conf", "url = https://n:1", "timeout = 5s", "url = https://m:1"));
    assertEquals(at("empty.conf", 1) + ": ca-file has no value", badFile("empty.conf", "ca-file ="));
    assertEquals(at("scheme.conf", 1) + ": url: 'n:8558' is not an http:// or https:// address",
        badFile("scheme.conf", "url = n:8558"));
    assertEquals(at("timeout.conf", 1) + ": timeout: '5 seconds' is not a duration like 60s, 2m or 1m30s",
        badFile("timeout.conf", "timeout = 5 seconds"));
    // Found when the file is read, even where the command line overrides the key.
    Path conf = write("overridden.conf", "timeout = soon");
    String m = problem(new Settings.CommandLine(null, "5s", null, null, conf), Map.of());
    assertTrue(m.startsWith(conf + ":1: timeout:"), m);
  }

  @Test
  void aConfiguredTokenFileThatCannotBeReadNamesTheConfigLine() throws Exception {
    Path conf = write("migratectl.conf", "url = https://n:1", "token-file = ~/gone.token");
    String m = problem(NOTHING, Map.of("LIVEMIG_CONFIG", conf.toString(), "HOME", dir.toString()));
    assertEquals(conf + ":2: token-file: cannot read token file " + dir.resolve("gone.token") + ": no such file", m);
    Path hashes = write("operator-tokens", "operator 1f3870be274f6c49b3e31a0c6728957f alice");
    Path conf2 = write("hashes.conf", "token-file = operator-tokens");
    assertTrue(problem(NOTHING, Map.of("LIVEMIG_CONFIG", conf2.toString())).startsWith(conf2 + ":1: token-file: token file "
        + hashes + ": expected TOKEN or ROLE TOKEN"));
  }

  @Test
  void badValuesFromTheCommandLineOrTheEnvironmentNameWhereTheyCameFrom() {
    assertEquals("--url: 'ftp://n' is not an http:// or https:// address",
        problem(new Settings.CommandLine("ftp://n", null, null, null, null), Map.of()));
    assertEquals("$LIVEMIG_URL: '127.0.0.1:8558' is not an http:// or https:// address",
        problem(NOTHING, Map.of("LIVEMIG_URL", "127.0.0.1:8558")));
    assertEquals("--timeout: '0s' is not a duration like 60s, 2m or 1m30s",
        problem(new Settings.CommandLine(null, "0s", null, null, null), Map.of()));
  }

  /** Through migratectl itself: the error and exit 2 come before any request is made. */
  @Test
  void migratectlStopsOnABadConfigFileWithOneLine() throws Exception {
    Path conf = write("migratectl.conf", "url = https://127.0.0.1:1", "colour = blue");
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    int exit = Migratectl.run(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true,
        StandardCharsets.UTF_8), Map.of("LIVEMIG_CONFIG", conf.toString()), dir.resolve("none"), "list");
    assertEquals(Migratectl.EXIT_USAGE, exit);
    assertEquals("migratectl: " + conf + ":2: unknown key 'colour' (known: url, token-file, ca-file, timeout)\n",
        err.toString(StandardCharsets.UTF_8));
    assertEquals("", out.toString(StandardCharsets.UTF_8));
  }

  String at(String name, int line) {
    return dir.resolve(name) + ":" + line;
  }

  String badFile(String name, String... lines) throws Exception {
    Path conf = write(name, lines);
    return problem(new Settings.CommandLine(null, null, null, null, conf), Map.of());
  }
}
