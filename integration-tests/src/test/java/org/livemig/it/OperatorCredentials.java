package org.livemig.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The operator API's tokens of the nodes a test starts: every node of a test uses one tokens file
 * in the test's directory (livemig.http.auth.tokens-file), so the first to serve HTTP creates it
 * and writes the plaintext beside it, as on an operator's first start.
 */
public final class OperatorCredentials {
  private OperatorCredentials() {}

  /** The value of livemig.http.auth.tokens-file for the nodes of a test in dir. */
  public static Path tokensFile(Path dir) {
    return dir.resolve("operator-tokens");
  }

  /** The operator token the first node with HTTP wrote (the credentials file's first line). */
  public static String operator(Path dir) throws IOException {
    return token(dir, "operator");
  }

  public static String readOnly(Path dir) throws IOException {
    return token(dir, "read-only");
  }

  private static String token(Path dir, String role) throws IOException {
    Path file = dir.resolve("operator-credentials");
    return Files.readAllLines(file).stream().filter(l -> l.startsWith(role + " ")).map(l -> l.split(" ")[1])
        .findFirst().orElseThrow(() -> new IllegalStateException("no " + role + " token in " + file));
  }
}
