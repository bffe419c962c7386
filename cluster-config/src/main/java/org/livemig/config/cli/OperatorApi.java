package org.livemig.config.cli;

import com.google.protobuf.Struct;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.livemig.config.http.Json;

/** migratectl's side of the operator HTTP API: one request, the answer or a failure with its exit code. */
final class OperatorApi {
  /** Raised for any answer other than 2xx, or no answer at all; carries migratectl's exit code. */
  static final class Failure extends Exception {
    final int exitCode;

    Failure(int exitCode, String message) {
      super(message);
      this.exitCode = exitCode;
    }
  }

  private final String base;
  private final HttpClient http;
  private final Duration timeout;
  private final Optional<Credentials> credentials;

  OperatorApi(String base, Duration timeout, Optional<Credentials> credentials, Optional<SSLContext> trust) {
    this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    this.timeout = timeout;
    this.credentials = credentials;
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout);
    trust.ifPresent(b::sslContext);
    this.http = b.build();
  }

  String get(String path) throws Failure {
    return send("GET", path, null);
  }

  String send(String method, String path, String body) throws Failure {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout)
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    credentials.ifPresent(c -> b.header("Authorization", "Bearer " + c.token()));
    HttpRequest request = b.build();
    HttpResponse<String> r;
    try {
      r = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new Failure(Migratectl.EXIT_UNREACHABLE, "cannot reach " + base + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Migratectl.EXIT_UNREACHABLE, "interrupted while waiting for " + base);
    }
    if (r.statusCode() / 100 == 2) return r.body();
    if (r.statusCode() == 401) {
      throw new Failure(Migratectl.EXIT_AUTH, credentials.map(c -> "not authenticated: the token from " + c.source()
          + " is not valid on " + base).orElse("not authenticated: " + base + " needs a token; give --token-file FILE "
          + "or set " + Credentials.ENV + ", or token-file in the config file (a node writes its tokens to "
          + Credentials.DEFAULT_FILE + " at its first start)"));
    }
    if (r.statusCode() == 403) throw new Failure(Migratectl.EXIT_AUTH, "forbidden: " + message(r.body()));
    int exit = switch (r.statusCode()) {
      case 400 -> Migratectl.EXIT_INVALID;
      case 404 -> Migratectl.EXIT_NOT_FOUND;
      case 409 -> Migratectl.EXIT_CONFLICT;
      case 501 -> Migratectl.EXIT_NOT_SUPPORTED;
      case 503 -> Migratectl.EXIT_UNREACHABLE;
      default -> Migratectl.EXIT_ERROR;
    };
    throw new Failure(exit, "HTTP " + r.statusCode() + ": " + r.body());
  }

  /** The message of a JSON error body, or the body as it came. */
  private static String message(String body) {
    try {
      var s = Json.parse(body, Struct.newBuilder()).build();
      return s.containsFields("message") ? s.getFieldsOrThrow("message").getStringValue() : body;
    } catch (IllegalArgumentException notJson) {
      return body;
    }
  }
}
