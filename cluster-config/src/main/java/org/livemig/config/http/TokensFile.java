package org.livemig.config.http;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
  private byte[] content; // as last read; null while the file cannot be read
  private long checkedAt;

  TokensFile(OperatorTokens loaded, long checkIntervalNanos, LongSupplier clock) throws IOException {
    this.file = loaded.file();
    this.tokens = loaded;
    this.content = Files.readAllBytes(file);
    this.checkIntervalNanos = checkIntervalNanos;
    this.clock = clock;
    this.checkedAt = clock.getAsLong();
  }

  synchronized OperatorTokens current() {
    long now = clock.getAsLong();
    if (now - checkedAt < checkIntervalNanos) return tokens;
    checkedAt = now;
    byte[] read;
    try {
      read = Files.readAllBytes(file);
    } catch (IOException e) {
      if (content != null) log.error("cannot read the operator tokens file {} ({}): no token is accepted until it "
          + "can be read", file, e.toString());
      content = null;
      tokens = OperatorTokens.none(file);
      return tokens;
    }
    if (Arrays.equals(read, content)) return tokens;
    content = read; // a broken file is loaded again when it changes again, not at every request
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
}
