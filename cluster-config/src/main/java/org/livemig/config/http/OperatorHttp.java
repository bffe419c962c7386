package org.livemig.config.http;

import akka.actor.typed.ActorSystem;
import akka.http.javadsl.ConnectionContext;
import akka.http.javadsl.Http;
import akka.http.javadsl.HttpsConnectionContext;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.server.Route;
import akka.management.javadsl.AkkaManagement;
import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.livemig.engine.security.TlsCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator HTTP server, when livemig.http.port is set: Akka Management's routes (its /cluster
 * routes and health checks, plus livemig's OperatorRoutes, a route provider) behind
 * OperatorAuth's bearer tokens. The server is bound here, not by AkkaManagement.start: its
 * withAuth knows HTTP Basic only, has no roles, and in 1.1.4 its javadsl variant lets a request
 * without credentials through (the authenticator is applied with .optional).
 */
public final class OperatorHttp {
  private static final Logger log = LoggerFactory.getLogger(OperatorHttp.class);

  /** How often, at most, a request makes the tokens file be looked at for changes. */
  static final Duration TOKENS_CHECK_INTERVAL = Duration.ofSeconds(1);

  private OperatorHttp() {}

  /** Plain HTTP; see {@link #start(ActorSystem, Optional)}. */
  public static String start(ActorSystem<?> system) throws Exception {
    return start(system, Optional.empty());
  }

  /**
   * The bound address (http[s]://host:port), or null when HTTP is off. With credentials the server
   * speaks HTTPS only, each connection with their current certificate (rotated files are served
   * from the next connection on). Blocks until bound: called at node start, not in an actor.
   */
  public static String start(ActorSystem<?> system, Optional<TlsCredentials> tls) throws Exception {
    Config config = system.settings().config();
    int port = config.getInt("livemig.http.port");
    if (port == 0) return null;
    String hostname = config.getString("livemig.http.hostname");
    Optional<HttpsConnectionContext> https = tls.map(OperatorHttp::https);
    Route management = https.isPresent()
        ? AkkaManagement.get(system).getRoutes(s -> s.withHttpsConnectionContext(https.get()))
        : AkkaManagement.get(system).getRoutes();
    Route route = authenticated(config, hostname, port).map(a -> a.protect(management)).orElse(management);

    var server = Http.get(system).newServerAt(hostname, port);
    if (https.isPresent()) server = server.enableHttps(https.get());
    ServerBinding binding = server.bind(route).toCompletableFuture().get(30, TimeUnit.SECONDS);
    // Open connections get this long to finish when the node stops.
    binding.addToCoordinatedShutdown(Duration.ofSeconds(5), system);
    String uri = (tls.isPresent() ? "https" : "http") + "://" + hostname + ":" + binding.localAddress().getPort();
    log.info("operator HTTP on {}", uri);
    return uri;
  }

  private static HttpsConnectionContext https(TlsCredentials credentials) {
    return ConnectionContext.httpsServer(() -> {
      SSLEngine engine = credentials.current().context().createSSLEngine();
      engine.setUseClientMode(false);
      SSLParameters p = engine.getSSLParameters();
      p.setProtocols(new String[] {TlsCredentials.PROTOCOL});
      engine.setSSLParameters(p);
      return engine;
    });
  }

  /** The auth in front of every route, or empty (with a warning) when livemig.http.auth.enabled is off. */
  private static Optional<OperatorAuth> authenticated(Config config, String hostname, int port) throws Exception {
    if (!config.getBoolean("livemig.http.auth.enabled")) {
      log.warn("operator HTTP on {}:{} answers every request without authentication, cluster routes that down "
          + "members included (livemig.http.auth.enabled = off)", hostname, port);
      return Optional.empty();
    }
    Path file = Path.of(config.getString("livemig.http.auth.tokens-file"));
    OperatorTokens.Loaded loaded = OperatorTokens.loadOrCreate(file);
    // The path only: the tokens themselves never reach a log.
    loaded.credentials().ifPresent(c -> log.warn("operator HTTP: created {} with a new operator and read-only token; "
        + "their plaintext is in {} (owner-only), where migratectl finds it", file.toAbsolutePath(), c.toAbsolutePath()));
    log.info("operator HTTP accepts the {} token(s) of {}", loaded.tokens().size(), file.toAbsolutePath());
    String basePath = config.getString("akka.management.http.base-path");
    TokensFile current = new TokensFile(loaded.tokens(), TOKENS_CHECK_INTERVAL.toNanos(), System::nanoTime);
    return Optional.of(new OperatorAuth(current::current, basePath));
  }
}
