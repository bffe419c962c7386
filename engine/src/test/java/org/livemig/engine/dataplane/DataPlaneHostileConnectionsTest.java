package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;

/** Connections that never send a header, or too many at once, cost no thread and stop no migration. */
class DataPlaneHostileConnectionsTest {
  private static final int MAX_PENDING = 64;
  private final DataPlaneSettings settings = DataPlaneSettings.defaults()
      .withHandshakeTimeout(Duration.ofSeconds(2)).withMaxPendingHandshakes(MAX_PENDING);
  private DataPlaneServer server;
  private final List<SocketChannel> idle = new ArrayList<>();

  @BeforeEach
  void start() {
    server = new DataPlaneServer("127.0.0.1", 0, settings);
    server.start();
  }

  @AfterEach
  void stop() throws Exception {
    for (SocketChannel c : idle) c.close();
    server.close();
  }

  @Test
  void idleConnectionsBeyondTheBoundAreClosedAndAMigrationStillRuns() throws Exception {
    long directBefore = directMemory();
    int threadsBefore = dataPlaneThreads();
    for (int i = 0; i < 3 * MAX_PENDING; i++) idle.add(Guests.rawConnect(server.port())); // and say nothing
    // Those beyond the bound are closed at once: their peer reads end of stream.
    await(() -> server.refusedChannels() >= 2 * MAX_PENDING);
    assertEquals(2 * MAX_PENDING, server.refusedChannels(), server.refusalReasons().toString());
    assertTrue(server.refusalReasons().get(0).startsWith("too many connections in handshake"), server.refusalReasons().get(0));
    assertEquals(threadsBefore, dataPlaneThreads(), "an idle connection got a thread");
    assertTrue(directMemory() - directBefore < 1 << 20, "idle connections took direct buffers: " + (directMemory() - directBefore));

    // The waiting ones time out; a real channel then gets in and a round arrives whole.
    await(() -> server.refusedChannels() >= 3 * MAX_PENDING);
    assertTrue(server.refusalReasons().stream().filter(r -> r.startsWith("no header within")).count() == MAX_PENDING,
        server.refusalReasons().toString());
    long pages = 1024;
    GuestMemory source = Guests.randomGuest(pages, 5, 3);
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    DirtyBitmap received = new DirtyBitmap(pages);
    RecordingListener listener = new RecordingListener();
    server.expect("m-1", "t", 1, listener, dest, received);
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-1", "t", 0, settings)) {
      s.endRound(1, s.sendPages(source, Guests.allPages(pages)).pages(), pages);
      s.sendEndOfStream(pages);
    }
    listener.awaitEndOfStream();
    Guests.assertSameMemory(source, dest);
  }

  @Test
  void aMigrationRunsWhileTheGateIsFullOfIdlers() throws Exception {
    for (int i = 0; i < MAX_PENDING - 1; i++) idle.add(Guests.rawConnect(server.port())); // one place left
    long pages = 256;
    GuestMemory source = Guests.randomGuest(pages, 0, 4);
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    RecordingListener listener = new RecordingListener();
    server.expect("m-2", "t", 1, listener, dest, new DirtyBitmap(pages));
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-2", "t", 0, settings)) {
      s.endRound(1, s.sendPages(source, Guests.allPages(pages)).pages(), pages);
      s.sendEndOfStream(pages);
    }
    listener.awaitEndOfStream();
    Guests.assertSameMemory(source, dest);
  }

  @Test
  void garbageInsteadOfAHeaderIsClosedWithoutAThread() throws Exception {
    int threadsBefore = dataPlaneThreads();
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      c.write(ByteBuffer.wrap(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1})); // varint > 5 bytes
      ByteBuffer b = ByteBuffer.allocate(16);
      assertEquals(-1, c.read(b), "closed without an answer");
    }
    assertEquals(List.of("malformed first message"), server.refusalReasons());
    assertEquals(threadsBefore, dataPlaneThreads());
  }

  private static void await(java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!condition.getAsBoolean() && System.nanoTime() < deadline) java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L);
  }

  private static int dataPlaneThreads() {
    return (int) Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("dataplane-conn-")).count();
  }

  private static long directMemory() {
    return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
        .filter(b -> b.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
  }
}
