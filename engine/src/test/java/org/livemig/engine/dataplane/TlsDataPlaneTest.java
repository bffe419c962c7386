package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.engine.security.TlsEngine;

/**
 * The data plane end to end over TLS on each SSLEngine (chosen by setting): precopy channels,
 * refusals and half-closes, and the source-host check.
 */
@ParameterizedClass
@EnumSource(TlsEngine.class)
class TlsDataPlaneTest {
  @Parameter TlsEngine engine;
  @TempDir Path keys;
  private final ExecutorService pool = Executors.newFixedThreadPool(2);
  private DataPlaneServer server;
  private DataPlaneSettings destination;

  @BeforeEach
  void start() throws Exception {
    destination = settingsOf("host-b");
    server = new DataPlaneServer("127.0.0.1", 0, destination);
    server.start();
  }

  @AfterEach
  void stop() {
    pool.shutdownNow();
    server.close();
  }

  /** Through fromConfig, as a host would start: TLS on, development certificates created on first use. */
  private DataPlaneSettings settingsOf(String host) {
    var config = ConfigFactory.parseString("""
        livemig.host.data-plane.tls { enabled = on, key-dir = "%s", create-dev-certificates = on, engine = %s }
        """.formatted(keys.toString().replace("\\", "\\\\"), engine.configName())).withFallback(ConfigFactory.load());
    DataPlaneSettings settings = DataPlaneSettings.fromConfig(config.getConfig("livemig.host.data-plane"), config.getConfig("livemig.migration"), host)
        .withStallTimeout(Duration.ofSeconds(10));
    assertEquals(engine, ((TlsTransport) settings.transport()).engine(), "the engine the setting names, available here");
    return settings;
  }

  @Test
  void aGuestArrivesByteForByteOverTwoTlsChannelsFromTheSourceHost() throws Exception {
    assertInstanceOf(TlsTransport.class, destination.transport());
    DataPlaneSettings source = settingsOf("host-a");
    long pages = 4096; // 16 MiB
    GuestMemory memory = Guests.randomGuest(pages, 7, 42);
    GuestMemory dest = Guests.randomGuest(pages, 0, 99);
    DirtyBitmap received = new DirtyBitmap(pages);
    RecordingListener listener = new RecordingListener();
    server.expect("m-1", "secret", 2, listener, dest, received, "host-a");
    long[] dirty = Guests.allPages(pages);

    List<Future<SendStats>> sends = List.of(0, 1).stream().map(ch -> pool.submit(() -> {
      try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-1", "secret", ch, source)) {
        SendStats stats = s.sendPages(memory, dirty, 2, ch);
        s.sendIterationEnd(1, stats.pages());
        s.sendEndOfStream(stats.pages());
        return stats;
      }
    })).toList();
    assertEquals(pages, sends.get(0).get(60, TimeUnit.SECONDS).plus(sends.get(1).get(60, TimeUnit.SECONDS)).pages());
    listener.awaitEndOfStream();
    listener.awaitEndOfStream();
    Guests.assertSameMemory(memory, dest);
    assertEquals(pages, received.count());
    assertTrue(listener.failures.isEmpty(), listener.failures.toString());
  }

  @Test
  void anotherHostOfTheClusterIsRefusedEvenWithTheToken() throws Exception {
    long pages = 64;
    GuestMemory dest = new GuestMemory(Guests.PAGE, pages);
    server.expect("m-1", "secret", 1, new RecordingListener(), dest, new DirtyBitmap(pages), "host-a");

    ChannelRefusedException e = assertThrows(ChannelRefusedException.class,
        () -> PageSender.connect("127.0.0.1", server.port(), "m-1", "secret", 0, settingsOf("host-c")).close());
    assertEquals("peer host-c is not the source host of migration m-1", e.reason());
    assertEquals(1, server.refusedChannels());
    Guests.assertAllZero(dest);
  }
}
