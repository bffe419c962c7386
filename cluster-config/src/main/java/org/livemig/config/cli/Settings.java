package org.livemig.config.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where migratectl's settings come from. Each is the first found of: the command line, the
 * environment, the config file, the default. The config file is --config FILE, else
 * $LIVEMIG_CONFIG, else $XDG_CONFIG_HOME/livemig/migratectl.conf (XDG_CONFIG_HOME defaults to
 * $HOME/.config) if it exists; the first two must exist. A plain function of its inputs (tests
 * call it with an environment of their own).
 */
record Settings(String url, Duration timeout, Optional<Credentials> credentials, Optional<Path> caFile) {
  static final String URL_ENV = "LIVEMIG_URL";
  /** The name LIVEMIG_URL had before; still read, after it. */
  static final String OLD_URL_ENV = "MIGRATECTL_URL";
  static final String CA_ENV = "LIVEMIG_CA_FILE";
  static final String CONFIG_ENV = "LIVEMIG_CONFIG";
  static final String DEFAULT_URL = "https://127.0.0.1:8558";
  static final String DEFAULT_TIMEOUT = "60s";
  static final Path DEFAULT_CA = Path.of("data", "keys", "ca.crt");
  static final String DEFAULT_CONFIG = "livemig/migratectl.conf";

  /** What the command line gave; null where it gave nothing. */
  record CommandLine(String url, String timeout, Path tokenFile, Path caFile, Path configFile) {}

  /** A value and where it came from, for the error that names it. */
  private record Found(String value, String source) {}

  /**
   * IllegalArgumentException, one line naming the file and line (or the option or variable), for
   * a bad config file, a bad value or an unreadable token file.
   */
  static Settings resolve(CommandLine cli, Map<String, String> env, Path defaultCredentials) {
    ConfigFile file = configFile(cli.configFile(), env);
    Found url = first(option("--url", cli.url()), variable(env, URL_ENV), variable(env, OLD_URL_ENV),
        inFile(file, ConfigFile.URL)).orElse(new Found(DEFAULT_URL, "the default"));
    Found timeout = first(option("--timeout", cli.timeout()), inFile(file, ConfigFile.TIMEOUT))
        .orElse(new Found(DEFAULT_TIMEOUT, "the default"));
    return new Settings(checked(url, Settings::checkUrl), checked(timeout, Settings::parseTimeout),
        credentials(cli, env, file, defaultCredentials), caFile(cli, env, file));
  }

  /** The token: --token-file, $LIVEMIG_TOKEN, the config file's token-file, the node's credentials file here. */
  private static Optional<Credentials> credentials(CommandLine cli, Map<String, String> env, ConfigFile file,
      Path defaultCredentials) {
    if (cli.tokenFile() != null) return Optional.of(Credentials.read(cli.tokenFile()));
    Optional<Found> fromEnv = variable(env, Credentials.ENV);
    if (fromEnv.isPresent()) return Optional.of(new Credentials(fromEnv.get().value(), fromEnv.get().source()));
    Optional<ConfigFile.Entry> configured = file.get(ConfigFile.TOKEN_FILE);
    if (configured.isPresent()) {
      try {
        return Optional.of(Credentials.read(Path.of(configured.get().value())));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(configured.get().source() + ": token-file: " + e.getMessage());
      }
    }
    if (Files.isRegularFile(defaultCredentials)) return Optional.of(Credentials.read(defaultCredentials));
    return Optional.empty();
  }

  /** The CA to trust for https: --ca-file, $LIVEMIG_CA_FILE, the config file's ca-file, ./data/keys/ca.crt; else the JDK's. */
  private static Optional<Path> caFile(CommandLine cli, Map<String, String> env, ConfigFile file) {
    return first(option("--ca-file", cli.caFile() == null ? null : cli.caFile().toString()), variable(env, CA_ENV),
        inFile(file, ConfigFile.CA_FILE)).map(f -> Path.of(f.value()))
        .or(() -> Files.isRegularFile(DEFAULT_CA) ? Optional.of(DEFAULT_CA) : Optional.empty());
  }

  /** The config file to read, or NONE. */
  static ConfigFile configFile(Path option, Map<String, String> env) {
    if (option != null) return ConfigFile.read(option, env);
    String named = env.get(CONFIG_ENV);
    if (named != null && !named.isBlank()) return ConfigFile.read(Path.of(named), env);
    Optional<Path> standard = defaultConfigFile(env);
    return standard.isPresent() && Files.exists(standard.get()) ? ConfigFile.read(standard.get(), env) : ConfigFile.NONE;
  }

  /** $XDG_CONFIG_HOME/livemig/migratectl.conf, or $HOME/.config/...; empty without either variable. */
  static Optional<Path> defaultConfigFile(Map<String, String> env) {
    String xdg = env.get("XDG_CONFIG_HOME");
    if (xdg != null && !xdg.isBlank()) return Optional.of(Path.of(xdg, DEFAULT_CONFIG));
    String home = env.get("HOME");
    if (home != null && !home.isBlank()) return Optional.of(Path.of(home, ".config", DEFAULT_CONFIG));
    return Optional.empty();
  }

  static String checkUrl(String url) {
    if (!url.startsWith("http://") && !url.startsWith("https://") || url.contains(" ")) {
      throw new IllegalArgumentException("'" + url + "' is not an http:// or https:// address");
    }
    return url;
  }

  /** "60s", "2m", "1m30s": seconds, minutes, hours. */
  static Duration parseTimeout(String text) {
    try {
      Duration d = Duration.parse("PT" + text.toUpperCase(java.util.Locale.ROOT));
      if (!d.isNegative() && !d.isZero()) return d;
    } catch (DateTimeParseException e) {
      // the message below says what is expected
    }
    throw new IllegalArgumentException("'" + text + "' is not a duration like 60s, 2m or 1m30s");
  }

  /** An I/O failure in words: NoSuchFileException's message is the bare path. */
  static String reason(java.io.IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) return "no such file";
    if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
    if (e instanceof java.nio.charset.CharacterCodingException) return "not UTF-8 text";
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  private static <T> T checked(Found found, java.util.function.Function<String, T> check) {
    try {
      return check.apply(found.value());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(found.source() + ": " + e.getMessage());
    }
  }

  @SafeVarargs
  private static Optional<Found> first(Optional<Found>... candidates) {
    return Stream.of(candidates).flatMap(Optional::stream).findFirst();
  }

  private static Optional<Found> option(String name, String value) {
    return value == null ? Optional.empty() : Optional.of(new Found(value, name));
  }

  private static Optional<Found> variable(Map<String, String> env, String name) {
    String v = env.get(name);
    return v == null || v.isBlank() ? Optional.empty() : Optional.of(new Found(v.strip(), "$" + name));
  }

  private static Optional<Found> inFile(ConfigFile file, String key) {
    return file.get(key).map(e -> new Found(e.value(), e.source()));
  }
}
