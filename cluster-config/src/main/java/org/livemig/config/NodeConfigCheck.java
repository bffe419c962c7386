package org.livemig.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What HostMain checks before starting a node, so that a typo fails with a sentence naming the
 * problem instead of a node that starts with a default: livemig.* keys nobody reads, addresses
 * that do not resolve, ports out of range or already in use, a journal database that does not answer,
 * a number of shards that does not fit the migrations the journal remembers (RememberedShards).
 */
public final class NodeConfigCheck {
  private NodeConfigCheck() {}

  /** The problems found in a node file (its own keys) merged into config; empty when it is fine. */
  public static List<String> problems(Config nodeFile, Config config) {
    List<String> problems = new ArrayList<>();
    Config known = ConfigFactory.parseResources("livemig-node.conf").withFallback(ConfigFactory.defaultReference());
    if (nodeFile.hasPath("livemig")) {
      for (Map.Entry<String, ?> e : nodeFile.getConfig("livemig").entrySet()) {
        String key = "livemig." + e.getKey();
        if (key.startsWith(DATASTORES + ".")) continue; // names of the operator's choosing, checked below
        if (!known.hasPathOrNull(key)) problems.add("unknown setting " + key + " (see the README's configuration table)");
      }
    }
    address(problems, config, "akka.remote.artery.canonical.hostname");
    if (config.getStringList("akka.cluster.roles").contains("host")) {
      if (config.getString("livemig.host.id").isBlank()) problems.add("livemig.host.id is empty on a host node");
      address(problems, config, "livemig.host.data-plane.bind-host");
      datastores(problems, config);
      port(problems, config, "livemig.host.data-plane.bind-host", "livemig.host.data-plane.port");
      var lease = config.getDuration("livemig.host.fence-lease");
      var stableAfter = config.getDuration("akka.cluster.split-brain-resolver.stable-after");
      if (lease.compareTo(stableAfter) >= 0) {
        problems.add("livemig.host.fence-lease = " + lease.toMillis() + " ms must be shorter than "
            + "akka.cluster.split-brain-resolver.stable-after = " + stableAfter.toMillis() + " ms: a cut-off host must "
            + "fence its guests before the majority downs it and acts on its absence");
      }
    }
    port(problems, config, "akka.remote.artery.canonical.hostname", "akka.remote.artery.canonical.port");
    port(problems, config, "livemig.http.hostname", "livemig.http.port");
    tokens(problems, config);
    int before = problems.size();
    journal(problems, config);
    // A coordinator node restarts the migrations its shards remember: they must be in the shards
    // the configured number of shards routes them to.
    if (problems.size() == before && config.getStringList("akka.cluster.roles").contains("coordinator")) {
      problems.addAll(RememberedShards.problems(config));
    }
    return problems;
  }

  /** An existing tokens file must be readable and well formed; a missing one is created at start. */
  private static final String DATASTORES = "livemig.host.datastores";

  /** Each datastore is a directory that exists now: a missing one is a typo or a share not mounted. */
  private static void datastores(List<String> problems, Config c) {
    if (!c.hasPath(DATASTORES)) return;
    for (Map.Entry<String, com.typesafe.config.ConfigValue> e : c.getConfig(DATASTORES).entrySet()) {
      String key = DATASTORES + "." + e.getKey();
      if (e.getValue().valueType() != com.typesafe.config.ConfigValueType.STRING) {
        problems.add(key + " must be a directory's path");
      } else if (!java.nio.file.Files.isDirectory(java.nio.file.Path.of((String) e.getValue().unwrapped()))) {
        problems.add(key + " = " + e.getValue().unwrapped() + " is not a directory (a shared datastore not mounted?)");
      }
    }
  }

  private static void tokens(List<String> problems, Config c) {
    if (c.getInt("livemig.http.port") == 0 || !c.getBoolean("livemig.http.auth.enabled")) return;
    java.nio.file.Path file = java.nio.file.Path.of(c.getString("livemig.http.auth.tokens-file"));
    if (!java.nio.file.Files.exists(file)) return;
    try {
      org.livemig.config.http.OperatorTokens.load(file);
    } catch (IOException | IllegalArgumentException e) {
      problems.add("livemig.http.auth.tokens-file: " + e.getMessage());
    }
  }

  /** A database journal must answer now; an H2 file is created on first use, so it is not probed. */
  private static void journal(List<String> problems, Config c) {
    String url = c.getString("livemig.journal.url");
    if (url.startsWith("jdbc:h2:")) return;
    java.sql.DriverManager.setLoginTimeout(5);
    try (java.sql.Connection conn = java.sql.DriverManager.getConnection(url, c.getString("livemig.journal.user"),
        c.getString("livemig.journal.password"))) {
      conn.isValid(5);
    } catch (java.sql.SQLException e) {
      problems.add("livemig.journal.url = " + url + " is unreachable: " + e.getMessage());
    }
  }

  private static void address(List<String> problems, Config c, String key) {
    try {
      InetAddress.getByName(c.getString(key));
    } catch (UnknownHostException e) {
      problems.add(key + " = " + c.getString(key) + " does not resolve");
    }
  }

  /** A fixed port must be in range and free now; 0 (ephemeral or off) is always fine. */
  private static void port(List<String> problems, Config c, String hostKey, String portKey) {
    int port = c.getInt(portKey);
    if (port == 0) return;
    if (port < 0 || port > 65535) {
      problems.add(portKey + " = " + port + " is not a port (0..65535)");
      return;
    }
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(c.getString(hostKey), port));
    } catch (IOException e) {
      problems.add(portKey + " = " + port + " on " + c.getString(hostKey) + " is not available: " + e.getMessage());
    }
  }
}
