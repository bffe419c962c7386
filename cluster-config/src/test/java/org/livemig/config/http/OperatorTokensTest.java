package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.config.http.OperatorTokens.Role;

/** The tokens file: created once with owner-only plaintext beside it, hashes only inside, strict to read. */
class OperatorTokensTest {
  @TempDir Path dir;

  /** The ROLE TOKEN lines of a credentials file. */
  static List<String[]> credentials(Path file) throws Exception {
    return Files.readAllLines(file).stream().filter(l -> !l.isBlank() && !l.startsWith("#")).map(l -> l.split(" "))
        .toList();
  }

  @Test
  void aMissingFileIsCreatedWithHashesAndTheTokensGoToAnOwnerOnlyFile() throws Exception {
    Path file = dir.resolve("keys/operator-tokens");
    OperatorTokens.Loaded first = OperatorTokens.loadOrCreate(file);
    Path creds = first.credentials().orElseThrow();
    assertEquals(dir.resolve("keys/operator-credentials"), creds);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(creds)));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));

    List<String[]> lines = credentials(creds);
    assertEquals(List.of("operator", "read-only"), lines.stream().map(l -> l[0]).toList());
    String operator = lines.get(0)[1];
    String readOnly = lines.get(1)[1];
    assertNotEquals(operator, readOnly);
    assertTrue(operator.length() >= 43, "256 random bits: " + operator.length() + " characters");
    String stored = Files.readString(file);
    assertFalse(stored.contains(operator) || stored.contains(readOnly), "the tokens file holds no token: " + stored);
    assertTrue(stored.contains(OperatorTokens.hex(operator)), stored);

    assertEquals(Optional.of(Role.OPERATOR), first.tokens().authenticate(operator).map(OperatorTokens.Caller::role));
    assertEquals(Optional.of(Role.READ_ONLY), first.tokens().authenticate(readOnly).map(OperatorTokens.Caller::role));
    assertEquals(Optional.empty(), first.tokens().authenticate(operator + "x"));
    assertEquals(Optional.empty(), first.tokens().authenticate(OperatorTokens.hex(operator)), "a hash is no token");

    OperatorTokens.Loaded again = OperatorTokens.loadOrCreate(file);
    assertTrue(again.credentials().isEmpty(), "an existing file is only read");
    assertTrue(again.tokens().authenticate(operator).isPresent());
    assertEquals(lines.get(0)[1], credentials(creds).get(0)[1], "the credentials stay as they were");
    try (var left = Files.list(file.getParent())) {
      assertEquals(2, left.count(), "no temporary file is left behind");
    }
  }

  @Test
  void nodesStartingTogetherOnOneDirectoryAgreeOnOneFile() throws Exception {
    Path file = dir.resolve("operator-tokens");
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Callable<OperatorTokens.Loaded>> starts = new ArrayList<>();
      for (int i = 0; i < 8; i++) starts.add(() -> OperatorTokens.loadOrCreate(file));
      List<OperatorTokens.Loaded> all = new ArrayList<>();
      for (Future<OperatorTokens.Loaded> f : pool.invokeAll(starts)) all.add(f.get(30, TimeUnit.SECONDS));
      assertEquals(1, all.stream().filter(l -> l.credentials().isPresent()).count(), "exactly one created the file");
      String operator = credentials(dir.resolve("operator-credentials")).get(0)[1];
      for (OperatorTokens.Loaded l : all) assertTrue(l.tokens().authenticate(operator).isPresent());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aHandWrittenFileIsReadAndMistakesNameTheirLine() throws Exception {
    Path file = dir.resolve("tokens");
    Files.writeString(file, "# ours\n\n" + OperatorTokens.line(Role.READ_ONLY, "monitoring-secret", "grafana") + "\n"
        + OperatorTokens.line(Role.OPERATOR, "alice-secret", "alice@ops") + "\n");
    OperatorTokens tokens = OperatorTokens.load(file);
    assertEquals(Optional.of(new OperatorTokens.Caller("grafana", Role.READ_ONLY)),
        tokens.authenticate("monitoring-secret"));
    assertEquals(Optional.of(new OperatorTokens.Caller("alice@ops", Role.OPERATOR)), tokens.authenticate("alice-secret"));

    String hash = OperatorTokens.hex("t");
    assertRefused("admin " + hash + " bob", "line 1: unknown role 'admin'");
    assertRefused("operator some-plaintext-token bob", "line 1: the second field must be a SHA-256");
    assertRefused("# c\noperator " + hash, "line 2: expected ROLE SHA256HEX NAME, found 2 field(s)");
    assertRefused("operator " + hash + " a\nread-only " + hash + " b", "line 2: the same token hash appears twice");
    assertRefused("operator " + hash + " bad/name", "name 'bad/name'");
    assertRefused("# nothing\n", "holds no token");
  }

  private void assertRefused(String content, String expected) throws Exception {
    Path file = Files.writeString(dir.resolve("bad"), content);
    var e = assertThrows(IllegalArgumentException.class, () -> OperatorTokens.load(file));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    assertFalse(e.getMessage().contains("some-plaintext-token"), "a pasted token is not echoed: " + e.getMessage());
  }
}
