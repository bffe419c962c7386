package org.livemig.config.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * migratectl's config file: "KEY = VALUE" lines, blank lines and lines starting with # ignored.
 * A value is the rest of the line, stripped, taken literally (no quotes, no inline comments).
 * Paths in it are relative to the file's directory, "~/" is $HOME. Every problem is one
 * IllegalArgumentException naming the file and line, found when the file is read, so that a
 * broken file fails every command rather than only the one that reads the broken key.
 */
final class ConfigFile {
  static final String URL = "url";
  static final String TOKEN_FILE = "token-file";
  static final String CA_FILE = "ca-file";
  static final String TIMEOUT = "timeout";
  static final List<String> KEYS = List.of(URL, TOKEN_FILE, CA_FILE, TIMEOUT);

  /** One setting as written, and where: "FILE:LINE". */
  record Entry(String value, String source) {}

  static final ConfigFile NONE = new ConfigFile(Map.of());

  private final Map<String, Entry> entries;

  private ConfigFile(Map<String, Entry> entries) {
    this.entries = entries;
  }

  Optional<Entry> get(String key) {
    return Optional.ofNullable(entries.get(key));
  }

  static ConfigFile read(Path file, Map<String, String> env) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read config file " + file + ": " + Settings.reason(e), e);
    }
    return parse(file, lines, env);
  }

  static ConfigFile parse(Path file, List<String> lines, Map<String, String> env) {
    Map<String, Entry> entries = new LinkedHashMap<>();
    Map<String, Integer> firstLine = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      String at = file + ":" + (i + 1);
      if (line.isEmpty() || line.startsWith("#")) continue;
      int eq = line.indexOf('=');
      if (eq < 0) throw new IllegalArgumentException(at + ": expected KEY = VALUE, found '" + line + "'");
      String key = line.substring(0, eq).strip();
      String value = line.substring(eq + 1).strip();
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException(at + ": unknown key '" + key + "' (known: " + String.join(", ", KEYS) + ")");
      }
      if (firstLine.containsKey(key)) {
        throw new IllegalArgumentException(at + ": " + key + " is set again (first on line " + firstLine.get(key) + ")");
      }
      if (value.isEmpty()) throw new IllegalArgumentException(at + ": " + key + " has no value");
      firstLine.put(key, i + 1);
      entries.put(key, new Entry(check(key, value, file, env, at), at));
    }
    return new ConfigFile(entries);
  }

  /** The value as it will be used (paths made absolute), or the problem with it. */
  private static String check(String key, String value, Path file, Map<String, String> env, String at) {
    try {
      return switch (key) {
        case URL -> Settings.checkUrl(value);
        case TIMEOUT -> {
          Settings.parseTimeout(value);
          yield value;
        }
        default -> path(value, file, env).toString();
      };
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(at + ": " + key + ": " + e.getMessage());
    }
  }

  private static Path path(String value, Path file, Map<String, String> env) {
    if (value.startsWith("~/")) {
      String home = env.get("HOME");
      if (home == null || home.isBlank()) throw new IllegalArgumentException("'" + value + "' starts with ~/ but HOME is not set");
      return Path.of(home, value.substring(2));
    }
    Path p = Path.of(value);
    Path dir = file.toAbsolutePath().getParent();
    return p.isAbsolute() || dir == null ? p : dir.resolve(p);
  }
}
