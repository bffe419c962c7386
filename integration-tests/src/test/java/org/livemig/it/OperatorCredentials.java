package org.livemig.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.http.HttpClient;
import java.time.Duration;
import org.livemig.engine.security.TlsCredentials;

/**
 * The operator API's tokens of the nodes a test starts: every node of a test uses one tokens file
 * in the test's directory (livemig.http.auth.tokens-file), so the first to serve HTTP creates it
 * and writes the plaintext beside it, as on an operator's first start.
 */
public final class OperatorCredentials {
  private OperatorCredentials() {}

  /**
   * An HTTPS client trusting the CA of the nodes this test run starts: their default key
   * directory, ./data/keys, which subprocess hosts share (same working directory). Call it once a
   * node has started: the first one creates the CA.
   */
  public static HttpClient https(Duration connectTimeout) {
    try {
      return HttpClient.newBuilder().connectTimeout(connectTimeout)
          .sslContext(TlsCredentials.trusting(Path.of("data", "keys", "ca.crt"))).build();
    } catch (IOException e) {
      throw new IllegalStateException("no development CA yet: " + e.getMessage(), e);
    }
  }

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
