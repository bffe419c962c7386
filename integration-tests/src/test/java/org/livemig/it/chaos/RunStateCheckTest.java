package org.livemig.it.chaos;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RunStateCheckTest {
  @Test
  void aHandOverWhereTheSourceStopsBeforeTheDestinationRunsIsNoOverlap() {
    var iv = RunStateCheck.intervals(List.of(
        "100 host-a g RUNNING", "500 host-a g PAUSED", "501 host-b g RUNNING", "900 host-a g DESTROYED"), Map.of());
    assertEquals(2, iv.size(), iv.toString());
    assertEquals(List.of(), RunStateCheck.overlaps(iv));
  }

  @Test
  void theDestinationRunningBeforeTheSourceStoppedIsAnOverlap() {
    var iv = RunStateCheck.intervals(List.of(
        "100 host-a g RUNNING", "499 host-b g RUNNING", "500 host-a g PAUSED"), Map.of());
    List<String> o = RunStateCheck.overlaps(iv);
    assertEquals(1, o.size(), o.toString());
    assertTrue(o.get(0).contains("host-a") && o.get(0).contains("host-b") && o.get(0).contains("(1 us)"), o.get(0));
  }

  @Test
  void anOpenRunEndsWhereItsHostWasLastObserved() {
    List<String> lines = List.of("100 host-a g RUNNING", "700 host-b g RUNNING");
    // host-a was seen dead at 600: its copy cannot have run at 700.
    assertEquals(List.of(), RunStateCheck.overlaps(RunStateCheck.intervals(lines, Map.of("host-a", 600L))));
    // Seen dead only at 800: both may have run between 700 and 800.
    assertEquals(1, RunStateCheck.overlaps(RunStateCheck.intervals(lines, Map.of("host-a", 800L))).size());
  }

  @Test
  void otherGuestsAndTheSameHostNeverCount() {
    var iv = RunStateCheck.intervals(List.of(
        "100 host-a g RUNNING", "150 host-b h RUNNING", "200 host-a g RUNNING", "300 host-a g PAUSED",
        "310 host-a g RUNNING"), Map.of());
    assertEquals(List.of(), RunStateCheck.overlaps(iv));
    assertEquals(3, iv.size(), "a second RUNNING continues the run; an open one counts too: " + iv);
  }

  @Test
  void aTornLineIsAnError() {
    assertThrows(IllegalArgumentException.class, () -> RunStateCheck.intervals(List.of("100 host-a g"), Map.of()));
    assertThrows(IllegalArgumentException.class,
        () -> RunStateCheck.intervals(List.of("100 host-a g RUNNIN"), Map.of()));
  }
}
