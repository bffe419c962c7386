package org.livemig.config.http;

import akka.http.javadsl.model.HttpHeader;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.HttpChallenge;
import akka.http.javadsl.model.headers.WWWAuthenticate;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.Route;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.livemig.config.http.OperatorTokens.Caller;
import org.livemig.config.http.OperatorTokens.Role;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bearer-token authentication and roles in front of every route of the operator HTTP server,
 * Akka Management's included. Deny by default: the read-only role may GET livemig's /migrations,
 * /hosts, /guests and /metrics and the health checks; everything else, every Akka Management /cluster route
 * (GET ones too: they name every member) and GET /guests/{id}/verify (it pauses the guest) need
 * operator. 401 with {@code WWW-Authenticate: Bearer} without a valid token, 403 with a token whose
 * role is too small. Tokens never reach a log; requests that change something are logged with the
 * token's name.
 */
final class OperatorAuth extends AllDirectives {
  private static final Logger log = LoggerFactory.getLogger(OperatorAuth.class);
  static final String REALM = "livemig";
  private static final Set<String> READABLE = Set.of("migrations", "hosts", "guests", "ready", "alive", "metrics");

  private final java.util.function.Supplier<OperatorTokens> tokens;
  private final List<String> basePath;

  /**
   * tokens: the tokens as they are now (a TokensFile rereads its file when it changes); basePath:
   * akka.management.http.base-path, which prefixes every route ("" for none).
   */
  OperatorAuth(java.util.function.Supplier<OperatorTokens> tokens, String basePath) {
    this.tokens = tokens;
    this.basePath = segments(basePath);
  }

  Route protect(Route inner) {
    return extractRequest(request -> {
      Optional<String> token = bearer(request);
      if (token.isEmpty()) return complete(unauthenticated(false));
      Optional<Caller> caller = tokens.get().authenticate(token.get());
      String what = request.method().value() + " " + request.getUri().path();
      if (caller.isEmpty()) {
        log.debug("refused {}: unknown bearer token", what);
        return complete(unauthenticated(true));
      }
      Role needed = needed(request);
      if (!caller.get().role().mayDo(needed)) {
        log.debug("refused {} to '{}' ({})", what, caller.get().name(), caller.get().role().label);
        return complete(OperatorRoutes.error(StatusCodes.FORBIDDEN, "FORBIDDEN", "token '" + caller.get().name()
            + "' has the " + caller.get().role().label + " role; " + what + " needs " + needed.label, null));
      }
      if (!isRead(request)) log.info("{} by '{}' ({})", what, caller.get().name(), caller.get().role().label);
      return inner;
    });
  }

  /** The role a request needs. */
  Role needed(HttpRequest request) {
    if (!isRead(request)) return Role.OPERATOR;
    List<String> path = segments(request.getUri().path());
    if (path.size() <= basePath.size() || !path.subList(0, basePath.size()).equals(basePath)) return Role.OPERATOR;
    List<String> rest = path.subList(basePath.size(), path.size());
    if (!READABLE.contains(rest.get(0))) return Role.OPERATOR;
    boolean verify = rest.get(0).equals("guests") && rest.size() > 1 && rest.get(rest.size() - 1).equals("verify");
    return verify ? Role.OPERATOR : Role.READ_ONLY;
  }

  private static boolean isRead(HttpRequest request) {
    return request.method().equals(HttpMethods.GET) || request.method().equals(HttpMethods.HEAD);
  }

  /** The token of an "Authorization: Bearer TOKEN" header (scheme case-insensitive, RFC 6750). */
  static Optional<String> bearer(HttpRequest request) {
    Optional<HttpHeader> h = request.getHeader("Authorization");
    if (h.isEmpty()) return Optional.empty();
    String v = h.get().value().strip();
    int space = v.indexOf(' ');
    if (space < 0 || !v.substring(0, space).equalsIgnoreCase("Bearer")) return Optional.empty();
    String token = v.substring(space + 1).strip();
    return token.isEmpty() ? Optional.empty() : Optional.of(token);
  }

  /** 401; invalid says a token was given but is not known (RFC 6750 error="invalid_token"). */
  static HttpResponse unauthenticated(boolean invalid) {
    var challenge = invalid ? HttpChallenge.create("Bearer", REALM, Map.of("error", "invalid_token"))
        : HttpChallenge.create("Bearer", REALM);
    String message = invalid ? "the bearer token is not valid on this node"
        : "this API needs a bearer token (Authorization: Bearer TOKEN); migratectl reads it from --token-file, "
            + "LIVEMIG_TOKEN or the node's operator-credentials file";
    return OperatorRoutes.error(StatusCodes.UNAUTHORIZED, "UNAUTHENTICATED", message, null)
        .addHeader(WWWAuthenticate.create(challenge));
  }

  private static List<String> segments(String path) {
    return java.util.Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toList();
  }
}
