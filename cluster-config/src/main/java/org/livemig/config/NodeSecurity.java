package org.livemig.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * livemig.security: one switch and one key directory for every wire a node opens. With tls on,
 * Artery (cluster messages) runs over TLS 1.3 with Akka's RotatingKeysSSLEngineProvider (mutual
 * authentication, PEM files reread as they change), the data plane over its own TLS transport,
 * and operator HTTP as HTTPS, all with this node's certificate from key-dir. A node whose
 * certificate the cluster's CA did not sign cannot join, nor send a single message.
 */
public final class NodeSecurity {
  private static final Logger log = LoggerFactory.getLogger(NodeSecurity.class);
  /** The name of a node's certificate when it has no host id (a coordinator-only node). */
  static final String COORDINATOR_NODE = "coordinator";

  private NodeSecurity() {}

  public static boolean tls(Config config) {
    return config.getBoolean("livemig.security.tls");
  }

  public static Path keyDir(Config config) {
    return Path.of(config.getString("livemig.security.key-dir"));
  }

  /** The name of this node's certificate and key files: its host id, or "coordinator". */
  public static String nodeName(Config config) {
    String hostId = config.getString("livemig.host.id");
    return hostId.isBlank() ? COORDINATOR_NODE : hostId;
  }

  /**
   * The config the node starts with: with tls on, development certificates created if asked and
   * missing, and Artery switched to tls-tcp with this node's files; with tls off, as it was (and a
   * warning). A missing or unreadable file fails here, before the node binds anything.
   */
  public static Config apply(Config config) {
    if (!tls(config)) {
      log.warn("livemig.security.tls = off: cluster messages, guest memory and operator HTTP travel in clear and "
          + "unauthenticated; any process that reaches the ports can join the cluster");
      return config;
    }
    Path dir = keyDir(config);
    String node = nodeName(config);
    try {
      if (config.getBoolean("livemig.security.create-dev-certificates")) {
        boolean fresh = !Files.exists(dir.resolve(DevPki.CA_CERT));
        DevPki.ensure(dir, node);
        if (fresh) {
          log.warn("created a development CA in {}: nodes sharing that directory trust each other; use your own CA "
              + "and certificates in production (README, Security)", dir.toAbsolutePath());
        }
      }
      new TlsCredentials(dir, node); // fails now, with the file named, if anything is missing or does not match
    } catch (IOException e) {
      throw new UncheckedIOException("TLS of node " + node + " cannot start from " + dir.toAbsolutePath() + ": "
          + e.getMessage(), e);
    }
    String prefix = "akka.remote.artery.ssl.rotating-keys-engine.";
    Config artery = ConfigFactory.parseMap(Map.of(
        "akka.remote.artery.transport", "tls-tcp",
        "akka.remote.artery.ssl.ssl-engine-provider", "akka.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider",
        prefix + "key-file", DevPki.keyFile(dir, node).toAbsolutePath().toString(),
        prefix + "cert-file", DevPki.certFile(dir, node).toAbsolutePath().toString(),
        prefix + "ca-cert-file", dir.resolve(DevPki.CA_CERT).toAbsolutePath().toString(),
        prefix + "protocol", TlsCredentials.PROTOCOL,
        prefix + "enabled-algorithms", List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"),
        // Reread the files this often: a rotated certificate is used from then on.
        prefix + "ssl-context-cache-ttl", "1m"));
    log.info("TLS 1.3 with mutual authentication for Artery and the data plane, HTTPS for operators; node {} "
        + "presents {}", node, DevPki.certFile(dir, node).toAbsolutePath());
    return artery.withFallback(config);
  }

  /**
   * The operator HTTPS server's credentials, or empty with tls off. Each connection's engine comes
   * from their current context, so a rotated certificate is served from the next connection on.
   */
  public static Optional<TlsCredentials> https(Config config) {
    if (!tls(config)) return Optional.empty();
    try {
      return Optional.of(new TlsCredentials(keyDir(config), nodeName(config)));
    } catch (IOException e) {
      throw new UncheckedIOException("operator HTTPS cannot start: " + e.getMessage(), e);
    }
  }
}
