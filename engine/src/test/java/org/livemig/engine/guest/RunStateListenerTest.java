package org.livemig.engine.guest;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What a host's run-state log is told: when the guest starts executing, and when it has stopped. */
class RunStateListenerTest {
  record Change(RunState state, long at, long stepsThen) {}

  @Test
  void runPauseRunDestroyAreToldInOrderWithThePauseAfterTheLastStep() throws Exception {
    List<Change> told = new CopyOnWriteArrayList<>();
    SyntheticGuest[] holder = new SyntheticGuest[1];
    SyntheticGuest g = SyntheticGuest.create(SyntheticGuestTest.desc("told", 20_000), "t",
        (id, state, at) -> told.add(new Change(state, at, holder[0].steps())));
    holder[0] = g;
    g.run("t");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (g.steps() < 100) {
      assertTrue(System.nanoTime() < deadline, "the guest steps");
      Thread.onSpinWait();
    }
    g.pause().toCompletableFuture().get(10, TimeUnit.SECONDS);
    long stepsAtPause = g.steps();
    g.run("t");
    g.destroy();
    assertEquals(List.of(RunState.RUNNING, RunState.PAUSED, RunState.RUNNING, RunState.DESTROYED),
        told.stream().map(Change::state).toList(), told.toString());
    // PAUSED is told once the workload stopped: no step came after it.
    assertEquals(stepsAtPause, told.get(1).stepsThen(), "the pause is told after the last step");
    for (int i = 1; i < told.size(); i++) assertTrue(told.get(i).at() >= told.get(i - 1).at(), told.toString());
  }

  @Test
  void aGuestThatNeverRanIsToldPausedAndDestroyedButNeverRunning() {
    List<RunState> told = new CopyOnWriteArrayList<>();
    SyntheticGuest g = SyntheticGuest.empty(SyntheticGuestTest.desc("arrival", 1000), (id, s, at) -> told.add(s));
    g.assignOwner("o");
    g.holdPaused("o");
    g.destroy();
    assertEquals(List.of(RunState.PAUSED, RunState.DESTROYED), told);
  }
}
