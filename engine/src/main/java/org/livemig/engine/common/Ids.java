package org.livemig.engine.common;

import java.util.regex.Pattern;

/**
 * What a migration, guest or host id may be: letters, digits, '.', '_' and '-', starting with a
 * letter or digit, at most 128 characters. Ids name actors, journal entries, log lines and URL
 * path segments, so anything else is refused at every entry (client, HTTP, CLI, cluster
 * messages) before it can reach any of those.
 */
public final class Ids {
  public static final int MAX_LENGTH = 128;
  private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

  private Ids() {}

  /** Why id is not a valid value of field ("migration_id", "guest_id", ...), or null if it is. */
  public static String problem(String field, String id) {
    if (id == null || id.isEmpty()) return "invalid request: " + field + " is empty";
    if (id.length() > MAX_LENGTH || !VALID.matcher(id).matches()) {
      return "invalid request: " + field + " " + shown(id) + " is not a valid id (letters, digits, '.', '_' and '-', "
          + "starting with a letter or digit, at most " + MAX_LENGTH + " characters)";
    }
    return null;
  }

  public static boolean valid(String id) {
    return id != null && id.length() <= MAX_LENGTH && VALID.matcher(id).matches();
  }

  /** The id as it may be shown in an error or a log line: quoted, printable, cut short. */
  public static String shown(String id) {
    StringBuilder b = new StringBuilder("'");
    id.codePoints().limit(40).forEach(c -> b.append(c >= 0x20 && c < 0x7f && c != '\'' ? (char) c : '?'));
    return b.append(id.length() > 40 ? "...'" : "'").toString();
  }
}
