package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import org.junit.jupiter.api.Test;

/** A host's link divided among its outbound migrations: max-min fair, within each one's own cap. */
class LinkSharesTest {

  @Test
  void equalSharesWhenNobodyHasACapOfItsOwn() {
    assertEquals(Map.of("m1", 12_000_000L, "m2", 12_000_000L),
        LinkShares.divide(24_000_000, Map.of("m1", 0L, "m2", 0L)));
  }

  @Test
  void aMigrationCappedBelowItsPartLeavesTheRestToTheOthers() {
    // 30 MB/s over three: m1 wants only 4, so m2 and m3 split the other 26.
    assertEquals(Map.of("m1", 4_000_000L, "m2", 13_000_000L, "m3", 13_000_000L),
        LinkShares.divide(30_000_000, Map.of("m1", 4_000_000L, "m2", 0L, "m3", 20_000_000L)));
  }

  @Test
  void waterFillsThroughSeveralLevels() {
    // 100 over four: 10 fits, then 90/3 = 30 > 25, so 25 fits, then 65/2 = 32.5 < 40: the last two split 65.
    assertEquals(Map.of("a", 10L, "b", 25L, "c", 33L, "d", 32L),
        LinkShares.divide(100, Map.of("a", 10L, "b", 25L, "c", 40L, "d", 0L)));
  }

  @Test
  void everyoneUnderTheirOwnCapLeavesTheLinkPartlyUnused() {
    assertEquals(Map.of("m1", 5L, "m2", 7L), LinkShares.divide(100, Map.of("m1", 5L, "m2", 7L)));
  }

  @Test
  void withoutAHostCapEachKeepsItsOwnCapOrNone() {
    assertEquals(Map.of("m1", 0L, "m2", 8_000_000L), LinkShares.divide(0, Map.of("m1", 0L, "m2", 8_000_000L)));
  }

  @Test
  void aLoneMigrationGetsTheWholeLinkAndTheSurvivorOfTwoTakesItBack() {
    Map<String, Long> two = new HashMap<>(Map.of("m1", 0L, "m2", 0L));
    assertEquals(12_000_000L, LinkShares.divide(24_000_000, two).get("m2"));
    two.remove("m1");
    assertEquals(Map.of("m2", 24_000_000L), LinkShares.divide(24_000_000, two));
    assertEquals(Map.of(), LinkShares.divide(24_000_000, Map.of()));
  }

  @Test
  void roundingNeverAddsUpBeyondTheHostCap() {
    SortedMap<String, Long> s = LinkShares.divide(10, Map.of("a", 0L, "b", 0L, "c", 0L));
    assertEquals(Map.of("a", 4L, "b", 3L, "c", 3L), s, "the remainder byte by byte, in id order");
    Random r = new Random(19);
    for (int run = 0; run < 2_000; run++) {
      long host = 1 + r.nextInt(1_000_000);
      Map<String, Long> caps = new HashMap<>();
      int n = 1 + r.nextInt(8);
      for (int k = 0; k < n; k++) caps.put("m" + k, r.nextInt(3) == 0 ? 0L : 1 + r.nextInt(400_000));
      SortedMap<String, Long> shares = LinkShares.divide(host, caps);
      long sum = shares.values().stream().mapToLong(Long::longValue).sum();
      assertTrue(host < n || sum <= host, "sum " + sum + " of " + shares + " over host cap " + host);
      for (var e : shares.entrySet()) {
        long cap = caps.get(e.getKey());
        assertTrue(e.getValue() > 0, "a share of 0 would mean unlimited: " + shares);
        assertTrue(cap == 0 || e.getValue() <= cap, e.getKey() + " beyond its own cap: " + shares + " caps " + caps);
      }
      // Max-min fair: nobody below its cap gets less than anybody else (beyond the rounding byte).
      long max = shares.values().stream().mapToLong(Long::longValue).max().orElse(0);
      for (var e : shares.entrySet()) {
        long cap = caps.get(e.getKey());
        boolean atItsCap = cap != 0 && e.getValue() == cap;
        assertTrue(atItsCap || e.getValue() >= max - 1, "unfair: " + shares + " caps " + caps + " host " + host);
      }
      // Nothing left unused while someone could take more.
      boolean someoneWantsMore = shares.entrySet().stream()
          .anyMatch(e -> caps.get(e.getKey()) == 0 || e.getValue() < caps.get(e.getKey()));
      if (someoneWantsMore && host >= n) assertEquals(host, sum, "link left unused: " + shares + " caps " + caps);
    }
  }

  @Test
  void aHostCapBelowOneBytePerMigrationStillLimitsEveryone() {
    assertEquals(Map.of("a", 1L, "b", 1L, "c", 1L), LinkShares.divide(2, Map.of("a", 0L, "b", 0L, "c", 0L)));
  }
}
