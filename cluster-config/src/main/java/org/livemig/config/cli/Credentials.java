package org.livemig.config.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * migratectl's bearer token and where it came from (Settings decides which source wins). Never
 * from a command-line value: it would sit in the shell history and in every process listing.
 *
 * A token file holds the token alone on a line, or "ROLE TOKEN" lines as the node writes them;
 * the first line that is not blank or a # comment is used.
 */
record Credentials(String token, String source) {
  static final String ENV = "LIVEMIG_TOKEN";
  static final Path DEFAULT_FILE = Path.of("data", "operator-credentials");

  static Credentials read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read token file " + file + ": " + Settings.reason(e), e);
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
