package org.livemig.config.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where migratectl's bearer token comes from, first found wins: --token-file FILE, the
 * LIVEMIG_TOKEN environment variable, or the credentials file a node wrote at its first start
 * (./data/operator-credentials with the shipped configs). Never from a command-line value: it
 * would sit in the shell history and in every process listing.
 *
 * A token file holds the token alone on a line, or "ROLE TOKEN" lines as the node writes them;
 * the first line that is not blank or a # comment is used.
 */
record Credentials(String token, String source) {
  static final String ENV = "LIVEMIG_TOKEN";
  static final Path DEFAULT_FILE = Path.of("data", "operator-credentials");

  /** Empty when none is given and the default file does not exist; IllegalArgumentException for a bad file. */
  static Optional<Credentials> find(Path tokenFile, Map<String, String> env, Path defaultFile) {
    if (tokenFile != null) return Optional.of(read(tokenFile));
    String fromEnv = env.get(ENV);
    if (fromEnv != null && !fromEnv.isBlank()) return Optional.of(new Credentials(fromEnv.strip(), "$" + ENV));
    if (Files.isRegularFile(defaultFile)) return Optional.of(read(defaultFile));
    return Optional.empty();
  }

  static Credentials read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read token file " + file + ": " + e.getMessage(), e);
    }
    for (String line : text.split("\n")) {
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) continue;
      String[] f = l.split("\\s+");
      if (f.length > 2) {
        throw new IllegalArgumentException("token file " + file + ": expected TOKEN or ROLE TOKEN on a line, found "
            + f.length + " fields (is it the node's tokens file of hashes? use operator-credentials)");
      }
      return new Credentials(f[f.length - 1], file.toString());
    }
    throw new IllegalArgumentException("token file " + file + " holds no token");
  }
}
