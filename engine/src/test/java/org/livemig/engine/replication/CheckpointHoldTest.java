package org.livemig.engine.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.CheckpointStream;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.SyntheticGuest;

/**
 * A host that fences itself while a checkpoint has the guest paused: once the checkpointer is
 * held, that checkpoint does not run the guest again (else the fence's pause would be undone and
 * the guest run on beside the copy the cluster fails over to).
 */
class CheckpointHoldTest {
  @Test
  void aCheckpointInItsPauseWhenTheHostFencesDoesNotResumeTheGuest() throws Exception {
    try (ReplicationRig rig = new ReplicationRig(2_000, 16L << 20, Duration.ofSeconds(5))) {
      SyntheticGuest real = rig.newPrimary();
      AtomicBoolean fenced = new AtomicBoolean();
      AtomicBoolean heldInPause = new AtomicBoolean();
      Checkpointer[] checkpointer = new Checkpointer[1];
      // The fence comes exactly inside a checkpoint's pause: while it takes the device state.
      MigratableGuest guest = (MigratableGuest) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {MigratableGuest.class}, (proxy, method, args) -> {
            if (method.getName().equals("deviceState") && checkpointer[0].status().checkpoints() >= 3
                && fenced.compareAndSet(false, true)) {
              heldInPause.set(checkpointer[0].hold()); // HostReplication.holdAll, before HostGuests.fence
            }
            try {
              return method.invoke(real, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      real.run("primary-owner");
      CheckpointStream stream = CheckpointStream.connect("127.0.0.1", rig.server.port(), ReplicationRig.ID,
          ReplicationRig.TOKEN, rig.settings, null);
      CheckpointSettings settings = CheckpointSettings.defaults().withInterval(Duration.ofMillis(20));
      try (Checkpointer c = new Checkpointer(ReplicationRig.ID, guest, "primary-owner", null, null, stream, settings, 64)) {
        checkpointer[0] = c;
        c.start();
        ReplicationRig.await(() -> fenced.get() && c.status().checkpoints() >= 6, "checkpoints after the fence");
        assertEquals(true, heldInPause.get(), "hold says a checkpoint had the guest paused (the fence counts it)");
        assertEquals(RunState.PAUSED, real.state(), "the checkpoint in its pause at the fence left the guest paused");
        long steps = real.steps();
        ReplicationRig.await(() -> c.status().checkpoints() >= 9, "more checkpoints of the paused guest");
        assertEquals(steps, real.steps(), "and no later checkpoint ran it");
      } finally {
        real.destroy();
      }
    }
  }
}
