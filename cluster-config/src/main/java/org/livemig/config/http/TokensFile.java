package org.livemig.config.http;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tokens file as it is now: reread when its content changes (looked at no more than once per
 * check interval), so a token added or revoked takes effect without a restart. A file that is gone,
 * unreadable, empty or malformed accepts no token at all until it loads again (an ERROR names the
 * file and line): a revocation must never fail open.
 */
final class TokensFile {
  private static final Logger log = LoggerFactory.getLogger(TokensFile.class);

  private final Path file;
  private final long checkIntervalNanos;
  private final LongSupplier clock;
  // Guarded by this.
  private OperatorTokens tokens;
  private byte[] digest;
  private long checkedAt;

  TokensFile(OperatorTokens loaded, long checkIntervalNanos, LongSupplier clock) throws IOException {
    this.file = loaded.file();
    this.tokens = loaded;
    this.digest = digest(Files.readAllBytes(file));
    this.checkIntervalNanos = checkIntervalNanos;
    this.clock = clock;
    this.checkedAt = clock.getAsLong();
  }

  synchronized OperatorTokens current() {
    long now = clock.getAsLong();
    if (now - checkedAt < checkIntervalNanos) return tokens;
    checkedAt = now;
    byte[] content;
    try {
      content = Files.readAllBytes(file);
    } catch (IOException e) {
      if (digest != null) log.error("cannot read the operator tokens file {} ({}): no token is accepted until it "
          + "can be read", file, e.toString());
      digest = null;
      tokens = OperatorTokens.none(file);
      return tokens;
    }
    byte[] now256 = digest(content);
    if (digest != null && MessageDigest.isEqual(now256, digest)) return tokens;
    digest = now256; // a broken file is loaded again when it changes again, not at every request
    try {
      tokens = OperatorTokens.load(file);
      log.info("operator HTTP now accepts the {} token(s) of {} (file changed)", tokens.size(), file);
    } catch (IOException | IllegalArgumentException e) {
      tokens = OperatorTokens.none(file);
      log.error("the changed operator tokens file does not load ({}): no token is accepted until it does",
          e.getMessage());
    }
    return tokens;
  }

  private static byte[] digest(byte[] content) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(content);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}
