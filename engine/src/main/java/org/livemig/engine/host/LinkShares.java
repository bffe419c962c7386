package org.livemig.engine.host;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * How a host's link (livemig.host.max-bandwidth) is divided among its outbound migrations:
 * max-min fair (water-filling). Each gets an equal part, except one whose own cap is lower: it
 * gets its cap, and what it leaves goes to the others in equal parts. A plain function, so that
 * HostBandwidth only keeps the members and tells them.
 */
final class LinkShares {
  private LinkShares() {}

  /**
   * caps: migration id -> its own cap in bytes per second (0 = none). hostCap 0 = no host limit:
   * each share is the migration's own cap (0 = unlimited). Otherwise every share is positive and
   * at most the migration's cap, and the shares add up to hostCap at most: the division's
   * remainder goes one byte each to the first uncapped ones in id order, never beyond. A host cap
   * below one byte per second per migration still gives each one byte per second (a share of
   * 0 would mean unlimited).
   */
  static SortedMap<String, Long> divide(long hostCap, Map<String, Long> caps) {
    if (hostCap < 0) throw new IllegalArgumentException("negative host cap: " + hostCap);
    SortedMap<String, Long> shares = new TreeMap<>();
    if (hostCap == 0) {
      shares.putAll(caps);
      return shares;
    }
    // Lowest cap first (0 = none sorts last), ties by id: the order the water fills them.
    List<Map.Entry<String, Long>> byCap = new ArrayList<>(new TreeMap<>(caps).entrySet());
    byCap.sort((a, b) -> Long.compareUnsigned(a.getValue() - 1, b.getValue() - 1)); // 0 - 1 is the largest unsigned
    long left = hostCap;
    int i = 0;
    for (; i < byCap.size(); i++) {
      long cap = byCap.get(i).getValue();
      if (cap == 0 || cap > left / (byCap.size() - i)) break;
      shares.put(byCap.get(i).getKey(), cap);
      left -= cap;
    }
    // The rest are all capped above the equal part of what is left: each gets that part.
    List<String> rest = new ArrayList<>();
    for (int k = i; k < byCap.size(); k++) rest.add(byCap.get(k).getKey());
    rest.sort(null);
    if (rest.isEmpty()) return shares;
    long part = left / rest.size();
    long remainder = left % rest.size();
    for (int k = 0; k < rest.size(); k++) shares.put(rest.get(k), Math.max(1, part + (k < remainder ? 1 : 0)));
    return shares;
  }
}
