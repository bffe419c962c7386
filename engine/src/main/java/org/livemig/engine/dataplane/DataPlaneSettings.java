package org.livemig.engine.dataplane;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.engine.security.TlsEngine;

/**
 * Limits and timeouts of the data plane.
 *
 * @param maxFrameBytes largest protobuf part of a frame the receiver accepts
 * @param maxPayloadBytes largest page payload of one Pages frame the receiver accepts
 * @param batchPages pages per Pages frame on the sending side
 * @param handshakeTimeout how long either side waits for the other's handshake message
 * @param stallTimeout how long an accepted channel may receive nothing before it is failed
 * @param connectTimeout TCP connect timeout of the sending side
 * @param transport how channels are dialled and accepted (plain TCP unless set; {@link TlsTransport} with
 *     data-plane.tls.enabled, on the SSLEngine named by data-plane.tls.engine)
 * @param maxPendingHandshakes connections that may wait for their header at once; more are closed at once
 */
public record DataPlaneSettings(
    int maxFrameBytes,
    int maxPayloadBytes,
    int batchPages,
    Duration handshakeTimeout,
    Duration stallTimeout,
    Duration connectTimeout,
    Transport transport,
    int maxPendingHandshakes) {

  public DataPlaneSettings {
    if (maxFrameBytes < 1024) throw new IllegalArgumentException("maxFrameBytes too small: " + maxFrameBytes);
    if (maxPayloadBytes < 4096) throw new IllegalArgumentException("maxPayloadBytes too small: " + maxPayloadBytes);
    if (batchPages < 1) throw new IllegalArgumentException("batchPages must be positive: " + batchPages);
    requirePositive(handshakeTimeout, "handshakeTimeout");
    requirePositive(stallTimeout, "stallTimeout");
    requirePositive(connectTimeout, "connectTimeout");
    if (transport == null) throw new IllegalArgumentException("transport is required");
    if (maxPendingHandshakes < 1) throw new IllegalArgumentException("maxPendingHandshakes must be positive: " + maxPendingHandshakes);
  }

  private static void requirePositive(Duration d, String name) {
    if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(name + " must be positive: " + d);
  }

  public static DataPlaneSettings defaults() {
    return new DataPlaneSettings(
        1 << 20, 64 << 20, 256, Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(5),
        TcpTransport.INSTANCE, 256);
  }

  /**
   * From livemig.host.data-plane, with the stall timeout of livemig.migration; hostId names this
   * host's certificate when data-plane.tls.enabled is on. Reads the TLS files now, so a missing or
   * broken key directory fails the start, not the first migration.
   */
  public static DataPlaneSettings fromConfig(com.typesafe.config.Config dataPlane, com.typesafe.config.Config migration, String hostId) {
    Duration handshakeTimeout = dataPlane.getDuration("handshake-timeout");
    return new DataPlaneSettings(
        dataPlane.getInt("max-frame-bytes"),
        dataPlane.getInt("max-payload-bytes"),
        dataPlane.getInt("batch-pages"),
        handshakeTimeout,
        migration.getDuration("stall-timeout"),
        dataPlane.getDuration("connect-timeout"),
        transportFromConfig(dataPlane.getConfig("tls"), hostId, handshakeTimeout),
        dataPlane.getInt("max-pending-handshakes"));
  }

  private static Transport transportFromConfig(com.typesafe.config.Config tls, String hostId, Duration handshakeTimeout) {
    if (!tls.getBoolean("enabled")) return TcpTransport.INSTANCE;
    String dir = tls.getString("key-dir");
    if (dir.isBlank()) throw new IllegalArgumentException("livemig.host.data-plane.tls.key-dir must be set when TLS is enabled");
    Path keyDir = Path.of(dir);
    try {
      if (tls.getBoolean("create-dev-certificates")) DevPki.ensure(keyDir, hostId);
      return new TlsTransport(new TlsCredentials(keyDir, hostId, TlsEngine.fromConfig(tls.getString("engine"))), handshakeTimeout);
    } catch (IOException e) {
      throw new UncheckedIOException("data-plane TLS of " + hostId + " cannot start: " + e.getMessage(), e);
    }
  }

  public DataPlaneSettings withStallTimeout(Duration d) {
    return new DataPlaneSettings(maxFrameBytes, maxPayloadBytes, batchPages, handshakeTimeout, d, connectTimeout, transport, maxPendingHandshakes);
  }

  public DataPlaneSettings withHandshakeTimeout(Duration d) {
    return new DataPlaneSettings(maxFrameBytes, maxPayloadBytes, batchPages, d, stallTimeout, connectTimeout, transport, maxPendingHandshakes);
  }

  public DataPlaneSettings withBatchPages(int n) {
    return new DataPlaneSettings(maxFrameBytes, maxPayloadBytes, n, handshakeTimeout, stallTimeout, connectTimeout, transport, maxPendingHandshakes);
  }

  public DataPlaneSettings withMaxPendingHandshakes(int n) {
    return new DataPlaneSettings(maxFrameBytes, maxPayloadBytes, batchPages, handshakeTimeout, stallTimeout, connectTimeout, transport, n);
  }

  public DataPlaneSettings withTransport(Transport t) {
    return new DataPlaneSettings(maxFrameBytes, maxPayloadBytes, batchPages, handshakeTimeout, stallTimeout, connectTimeout, t, maxPendingHandshakes);
  }
}
