package org.livemig.persistence;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * A position in the newest-first migration list: the last row of a page, as (started at,
 * migration id). Both never change once a migration is listed, so the next page starts right
 * after it whatever was inserted meanwhile (newer migrations sort before it, none is skipped or
 * repeated). Opaque to clients: "v1:" + the start in ms + ":" + the id, base64url without padding.
 */
public record PageToken(long startedAtMs, String migrationId) {
  private static final String VERSION = "v1:";
  /** The longest id is 128 characters (Ids); anything longer is no token of ours. */
  private static final int MAX_CHARS = 400;

  public String encode() {
    byte[] raw = (VERSION + startedAtMs + ":" + migrationId).getBytes(StandardCharsets.UTF_8);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
  }

  /** The token's position; IllegalArgumentException with the reason for anything else. */
  public static PageToken decode(String token) {
    if (token == null || token.isEmpty()) throw new IllegalArgumentException("empty page token");
    if (token.length() > MAX_CHARS) throw new IllegalArgumentException("page token too long");
    String text;
    try {
      text = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("malformed page token (not base64url)");
    }
    if (!text.startsWith(VERSION)) throw new IllegalArgumentException("malformed page token (unknown version)");
    int colon = text.indexOf(':', VERSION.length());
    if (colon < 0) throw new IllegalArgumentException("malformed page token (no id)");
    long started;
    try {
      started = Long.parseLong(text.substring(VERSION.length(), colon));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("malformed page token (no start time)");
    }
    String id = text.substring(colon + 1);
    if (started < 0 || id.isEmpty()) throw new IllegalArgumentException("malformed page token (bad position)");
    return new PageToken(started, id);
  }
}
