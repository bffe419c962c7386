package org.livemig.engine.security;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.livemig.messages.HostReply;
import org.livemig.messages.PrepareCookie;

/**
 * The data plane's one-time token authorizes one migration's channels. It lives only in the
 * memory of the destination (which made it), the coordinator and the source: what is written to a
 * journal or ledger keeps its SHA-256 instead, so a database dump cannot claim a channel.
 */
public final class DataToken {
  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  private DataToken() {}

  /** A new one-time token: 128 random bits, hex. */
  public static String newToken() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return java.util.HexFormat.of().formatHex(b);
  }

  public static ByteString sha256(String token) {
    try {
      return ByteString.copyFrom(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /** The cookie as it may be persisted: the token replaced by its hash. */
  public static PrepareCookie persistable(PrepareCookie c) {
    if (c.getToken().isEmpty()) return c;
    return c.toBuilder().clearToken().setTokenSha256(sha256(c.getToken())).build();
  }

  /** The answer as it may be persisted (only Prepare's carries a token). */
  public static HostReply persistable(HostReply r) {
    return r.hasPrepare() && !r.getPrepare().getToken().isEmpty()
        ? r.toBuilder().setPrepare(persistable(r.getPrepare())).build() : r;
  }

  /**
   * The token is the one whose hash was persisted (constant time). A cookie journaled before
   * tokens were hashed holds the token itself, which is compared instead.
   */
  public static boolean matches(PrepareCookie persisted, String token) {
    if (token.isEmpty()) return false;
    ByteString kept = persisted.getTokenSha256();
    if (kept.isEmpty()) {
      if (persisted.getToken().isEmpty()) return false;
      kept = sha256(persisted.getToken());
    }
    return MessageDigest.isEqual(kept.toByteArray(), sha256(token).toByteArray());
  }
}
