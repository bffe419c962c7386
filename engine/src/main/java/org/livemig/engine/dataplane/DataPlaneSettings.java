package org.livemig.engine.dataplane;

import java.time.Duration;

/**
 * Limits and timeouts of the data plane.
 *
 * @param maxFrameBytes largest protobuf part of a frame the receiver accepts
 * @param maxPayloadBytes largest page payload of one Pages frame the receiver accepts
 * @param batchPages pages per Pages frame on the sending side
 * @param handshakeTimeout how long either side waits for the other's handshake message
 * @param stallTimeout how long an accepted channel may receive nothing before it is failed
 * @param connectTimeout TCP connect timeout of the sending side
 * @param transport how channels are dialled and accepted (plain TCP unless set)
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

  /** From livemig.host.data-plane, with the stall timeout of livemig.migration. */
  public static DataPlaneSettings fromConfig(com.typesafe.config.Config dataPlane, com.typesafe.config.Config migration) {
    return new DataPlaneSettings(
        dataPlane.getInt("max-frame-bytes"),
        dataPlane.getInt("max-payload-bytes"),
        dataPlane.getInt("batch-pages"),
        dataPlane.getDuration("handshake-timeout"),
        migration.getDuration("stall-timeout"),
        dataPlane.getDuration("connect-timeout"),
        TcpTransport.INSTANCE,
        dataPlane.getInt("max-pending-handshakes"));
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
