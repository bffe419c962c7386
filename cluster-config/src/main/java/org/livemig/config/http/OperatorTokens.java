package org.livemig.config.http;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The bearer tokens the operator HTTP API accepts, read from the tokens file
 * (livemig.http.auth.tokens-file). The file holds no token, only its SHA-256, one per line:
 *
 * <pre>
 * # comment
 * ROLE SHA256HEX NAME      e.g.  operator 9f86d0...0f00a08 alice
 * </pre>
 *
 * ROLE is {@code read-only} or {@code operator}; SHA256HEX is the SHA-256 of the token's UTF-8
 * bytes in 64 hex digits ({@code printf %s "$TOKEN" | sha256sum}); NAME says whose token it is (it
 * appears in the audit log, the token never does). A missing file is created on first start
 * ({@link #loadOrCreate}) together with the plaintext credentials file next to it.
 */
public final class OperatorTokens {
  /** What a token may do: read-only answers GET routes, operator everything. */
  public enum Role {
    READ_ONLY("read-only"), OPERATOR("operator");

    public final String label;

    Role(String label) {
      this.label = label;
    }

    static Optional<Role> of(String label) {
      for (Role r : values()) if (r.label.equals(label)) return Optional.of(r);
      return Optional.empty();
    }

    boolean mayDo(Role needed) {
      return this == OPERATOR || needed == READ_ONLY;
    }
  }

  /** Who presented a valid token. */
  public record Caller(String name, Role role) {}

  private record Entry(Role role, byte[] hash, String name) {}

  /** The plaintext file written beside a new tokens file; migratectl reads it by default. */
  public static final String CREDENTIALS_FILE_NAME = "operator-credentials";

  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@-]{1,64}");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path file;
  private final List<Entry> entries;

  private OperatorTokens(Path file, List<Entry> entries) {
    this.file = file;
    this.entries = entries;
  }

  public Path file() {
    return file;
  }

  public int size() {
    return entries.size();
  }

  /**
   * The caller whose token this is, if any. Every stored hash is compared in constant time and
   * the loop never stops early, so the answer's timing does not say how much of a hash matched.
   */
  public Optional<Caller> authenticate(String token) {
    byte[] presented = sha256(token);
    Entry found = null;
    for (Entry e : entries) {
      if (MessageDigest.isEqual(presented, e.hash()) && found == null) found = e;
    }
    return found == null ? Optional.empty() : Optional.of(new Caller(found.name(), found.role()));
  }

  /** Accepts no token: what a tokens file that cannot be loaded any more stands for. */
  static OperatorTokens none(Path file) {
    return new OperatorTokens(file, List.of());
  }

  /** Reads a tokens file; IllegalArgumentException naming the file and line for anything malformed. */
  public static OperatorTokens load(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) continue;
      String[] f = line.split("\\s+");
      String where = file + " line " + (i + 1) + ": ";
      if (f.length != 3) {
        throw new IllegalArgumentException(where + "expected ROLE SHA256HEX NAME, found " + f.length + " field(s)");
      }
      Role role = Role.of(f[0]).orElseThrow(() -> new IllegalArgumentException(where + "unknown role '" + f[0]
          + "' (read-only or operator)"));
      String hex = f[1].toLowerCase(java.util.Locale.ROOT);
      // The hash's value is not echoed: a pasted plaintext token would otherwise reach the log.
      if (!HEX.matcher(hex).matches()) {
        throw new IllegalArgumentException(where + "the second field must be a SHA-256 in 64 hex digits, not a token");
      }
      if (!NAME.matcher(f[2]).matches()) {
        throw new IllegalArgumentException(where + "name '" + f[2] + "' must be 1-64 of A-Z a-z 0-9 . _ @ -");
      }
      byte[] hash = HexFormat.of().parseHex(hex);
      if (entries.stream().anyMatch(e -> MessageDigest.isEqual(e.hash(), hash))) {
        throw new IllegalArgumentException(where + "the same token hash appears twice");
      }
      entries.add(new Entry(role, hash, f[2]));
    }
    if (entries.isEmpty()) {
      throw new IllegalArgumentException(file + " holds no token: nobody could use the API (add a line, or delete the "
          + "file to have a new one created at the next start)");
    }
    return new OperatorTokens(file, List.copyOf(entries));
  }

  /** What {@link #loadOrCreate} did. credentials is set only when this call created the files. */
  public record Loaded(OperatorTokens tokens, Optional<Path> credentials) {}

  /**
   * Loads the tokens file, or, when it does not exist, creates one with a new operator and a new
   * read-only token and writes their plaintext to {@value #CREDENTIALS_FILE_NAME} beside it, both
   * readable by the owner only. Several nodes may start at once on one directory (hosts/*.conf):
   * the tokens file appears whole or not at all (a hard link of a finished file), and a node that
   * loses the race loads the winner's file.
   */
  public static Loaded loadOrCreate(Path file) throws IOException {
    if (Files.exists(file)) return new Loaded(load(file), Optional.empty());
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    String operator = newToken();
    String readOnly = newToken();
    Path tokensTemp = ownerOnly(dir, file.getFileName() + ".");
    Path credentialsTemp = ownerOnly(dir, CREDENTIALS_FILE_NAME + ".");
    try {
      Files.writeString(tokensTemp, "# livemig operator HTTP tokens: ROLE SHA256HEX NAME per line (ROLE read-only or "
          + "operator; SHA256HEX = printf %s \"$TOKEN\" | sha256sum). Reread when changed.\n"
          + Role.OPERATOR.label + " " + hex(operator) + " operator-1\n"
          + Role.READ_ONLY.label + " " + hex(readOnly) + " read-only-1\n", StandardCharsets.UTF_8);
      Files.writeString(credentialsTemp, "# livemig operator HTTP credentials, created with " + file.getFileName()
          + ": ROLE TOKEN per line. migratectl uses the first line (--token-file, or found here by default).\n"
          + "# Keep it secret; give a read-only user a file with the read-only line only.\n"
          + Role.OPERATOR.label + " " + operator + "\n" + Role.READ_ONLY.label + " " + readOnly + "\n",
          StandardCharsets.UTF_8);
      try {
        Files.createLink(file, tokensTemp);
      } catch (FileAlreadyExistsException another) {
        return new Loaded(load(file), Optional.empty()); // another node created it first: its tokens hold
      }
      Path credentials = dir.resolve(CREDENTIALS_FILE_NAME);
      Files.move(credentialsTemp, credentials, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return new Loaded(load(file), Optional.of(credentials));
    } finally {
      Files.deleteIfExists(tokensTemp);
      Files.deleteIfExists(credentialsTemp);
    }
  }

  /** An empty file readable and writable by its owner only, from its creation on (no window at 0644). */
  private static Path ownerOnly(Path dir, String prefix) throws IOException {
    if (!dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      throw new IOException("cannot create an owner-only file in " + dir + ": the file system has no POSIX permissions;"
          + " create the tokens file yourself (see livemig.http.auth in livemig-node.conf)");
    }
    return Files.createTempFile(dir, prefix, ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
  }

  /** 256 random bits, URL-safe base64 (a valid RFC 6750 bearer token). */
  static String newToken() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** The line a tokens file holds for token. */
  public static String line(Role role, String token, String name) {
    return role.label + " " + hex(token) + " " + name;
  }

  static String hex(String token) {
    return HexFormat.of().formatHex(sha256(token));
  }

  private static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
