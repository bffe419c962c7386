package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The destination's write-behind: forces start every so many bytes and the stream waits when far behind. */
class WriteBehindTest {
  @Test
  void aForceStartsEveryFewBytesAndTheStreamWaitsOnlyWhenFarBehind() throws Exception {
    AtomicInteger forces = new AtomicInteger();
    Semaphore started = new Semaphore(0);
    CountDownLatch release = new CountDownLatch(1);
    WriteBehind.Force slow = () -> {
      forces.incrementAndGet();
      started.release();
      try {
        release.await();
      } catch (InterruptedException e) {
        throw new IOException(e);
      }
    };
    try (WriteBehind w = new WriteBehind("m", slow, 10, 30)) {
      w.written(5);
      assertEquals(0, forces.get(), "below the threshold: nothing forced yet");
      w.written(5);
      assertTrue(started.tryAcquire(10, TimeUnit.SECONDS), "a force starts at 10 bytes");
      w.written(29); // the force runs on: 29 bytes behind it, the stream goes on
      Thread writer = new Thread(() -> {
        try {
          w.written(1); // 30 behind: waits for the force in flight
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      writer.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (writer.getState() != Thread.State.WAITING && System.nanoTime() < deadline) Thread.onSpinWait();
      assertEquals(Thread.State.WAITING, writer.getState(), "the stream waits for the force when far behind");
      assertEquals(1, forces.get());
      release.countDown();
      writer.join(TimeUnit.SECONDS.toMillis(10));
      assertTrue(started.tryAcquire(10, TimeUnit.SECONDS), "then the next force starts for the 30 bytes behind");
      w.awaitIdle();
      assertEquals(2, forces.get());
    }
  }

  @Test
  void aFailedForceFailsTheStreamAtItsNextWriteOrBarrier() throws Exception {
    try (WriteBehind w = new WriteBehind("m", () -> {
      throw new IOException("no space left on device");
    }, 10, 30)) {
      w.written(10);
      IOException e = assertThrows(IOException.class, w::awaitIdle);
      assertEquals("no space left on device", e.getMessage());
      w.awaitIdle(); // reported once: nothing in flight any more
    }
  }
}
