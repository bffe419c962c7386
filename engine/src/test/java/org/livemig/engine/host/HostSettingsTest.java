package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.livemig.messages.MigrationParameters;

/** The host's timeouts come from livemig.host / livemig.migration, with the defaults they always had. */
class HostSettingsTest {
  private static HostSettings load(Map<String, Object> overrides) {
    return HostSettings.fromConfig(ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseMap(Map.of("livemig.host.id", "h"))).withFallback(ConfigFactory.load()));
  }

  @Test
  void defaultsAreTheFormerConstants() {
    HostSettings s = load(Map.of());
    assertEquals(Duration.ofSeconds(5), s.finishWait());
    assertEquals(Duration.ofSeconds(5), s.cleanupStopTimeout());
    assertEquals(Duration.ofSeconds(30), s.ledgerLoadTimeout());
    assertEquals(Duration.ofMillis(2000), s.postcopyKeepalive(MigrationParameters.getDefaultInstance()));
    assertEquals(0, s.maxBandwidthBytesPerSecond(), "no host-wide link limit unless configured");
  }

  @Test
  void theHostsLinkLimitIsASizePerSecond() {
    assertEquals(24_000_000, load(Map.of("livemig.host.max-bandwidth", "24MB")).maxBandwidthBytesPerSecond());
    assertEquals(25_000_000, load(Map.of("livemig.host.max-bandwidth", 25_000_000)).maxBandwidthBytesPerSecond());
    assertThrows(RuntimeException.class, () -> load(Map.of("livemig.host.max-bandwidth", -1)),
        "a negative link cannot be divided");
  }

  @Test
  void aMigrationsOwnKeepaliveWinsOverTheConfiguredOne() {
    HostSettings s = load(Map.of("livemig.migration.postcopy-keepalive", "3s", "livemig.host.finish-wait", "7s"));
    assertEquals(Duration.ofSeconds(3), s.postcopyKeepalive(MigrationParameters.getDefaultInstance()));
    assertEquals(Duration.ofMillis(500),
        s.postcopyKeepalive(MigrationParameters.newBuilder().setPostcopyKeepaliveMs(500).build()));
    assertEquals(Duration.ofSeconds(7), s.finishWait());
  }
}
