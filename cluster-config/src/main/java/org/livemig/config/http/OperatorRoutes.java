package org.livemig.config.http;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpCharsets;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.MediaTypes;
import akka.http.javadsl.model.StatusCode;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.PathMatchers;
import akka.http.javadsl.server.Route;
import akka.http.javadsl.unmarshalling.Unmarshaller;
import akka.management.javadsl.ManagementRouteProvider;
import akka.management.javadsl.ManagementRouteProviderSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.livemig.engine.client.MigrationClient;
import org.livemig.engine.common.Ids;
import org.livemig.engine.client.MigrationException;
import org.livemig.engine.coordinator.MigrationListView;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.DiskMoveRequest;
import org.livemig.messages.GuestCommandRequest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.StartMigration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's HTTP API, served by Akka Management next to its /cluster routes (see
 * livemig.http in livemig-node.conf): /migrations, /hosts, /guests, and /metrics (NodeMetrics). JSON bodies are the protobuf
 * API messages (Json). 400 for a bad body or field, 404 for an unknown migration or guest, 409
 * for a conflict (e.g. recover while postcopy is not paused), 501 for what is not supported, 503 when a host or
 * coordinator does not answer or this node is leaving the cluster. A body is checked whole before anything is asked of the cluster.
 */
public final class OperatorRoutes extends AllDirectives implements ManagementRouteProvider {
  private static final Logger log = LoggerFactory.getLogger(OperatorRoutes.class);

  private final ActorSystem<?> system;
  private final MigrationClient client;
  private final org.livemig.engine.client.ProtectionClient protections;
  private final LocalHost localHost;
  private final NodeMetrics metrics;

  public OperatorRoutes(ExtendedActorSystem classic) {
    this.system = Adapter.toTyped(classic);
    this.client = new MigrationClient(system);
    this.protections = new org.livemig.engine.client.ProtectionClient(system);
    this.localHost = new LocalHost(system);
    this.metrics = NodeMetrics.get(system);
  }

  @Override
  public Route routes(ManagementRouteProviderSettings settings) {
    Route api = api();
    // A node on its way out (downed, leaving, shutting down) answers nothing about hosts or
    // guests: its agent is stopping them, and what it would say is already untrue. Its metrics
    // still answer: they say what it runs until it stops.
    return concat(path("metrics", () -> get(() -> onSuccess(metrics.scrape(), text ->
            complete(HttpResponse.create().withEntity(HttpEntities.create(PROMETHEUS_TEXT, text)))))),
        extractRequestContext(r -> leaving().map(why -> complete(error(StatusCodes.SERVICE_UNAVAILABLE,
            "NODE_LEAVING", "this node is leaving the cluster (" + why + "): ask another node", null))).orElse(api)));
  }

  /** Prometheus' text exposition format. */
  private static final ContentType.NonBinary PROMETHEUS_TEXT = ContentTypes.create(MediaTypes.customWithOpenCharset(
      "text", "plain", java.util.Map.of("version", "0.0.4"), false), HttpCharsets.UTF_8);

  /** Why this node is on its way out, if it is. */
  private java.util.Optional<String> leaving() {
    var reason = akka.actor.CoordinatedShutdown.get(system).getShutdownReason();
    if (reason.isPresent()) return java.util.Optional.of("shutting down: " + reason.get());
    akka.cluster.MemberStatus status = Cluster.get(system).selfMember().status();
    if (status == akka.cluster.MemberStatus.down() || status == akka.cluster.MemberStatus.leaving()
        || status == akka.cluster.MemberStatus.exiting() || status == akka.cluster.MemberStatus.removed()) {
      return java.util.Optional.of("member status " + status);
    }
    return java.util.Optional.empty();
  }

  private Route api() {
    return concat(
        pathPrefix("migrations", () -> concat(
            pathEndOrSingleSlash(() -> concat(
                get(() -> parameterOptional("limit", limit -> parameterOptional("after", after ->
                    list(limit.orElse(""), after.orElse(""))))),
                post(() -> entity(Unmarshaller.entityToString(), this::start)))),
            pathPrefix(PathMatchers.segment(), id -> concat(
                pathEndOrSingleSlash(() -> get(() -> respond(client.status(id).thenApply(Json::print), StatusCodes.OK))),
                path("cancel", () -> post(() -> parameterOptional("reason", reason ->
                    respond(client.cancel(id, reason.orElse("cancelled by an operator")).thenApply(Json::print),
                        StatusCodes.OK)))),
                path("parameters", () -> put(() -> entity(Unmarshaller.entityToString(), body ->
                    parameters(id, body)))),
                path("postcopy", () -> post(() -> respond(client.status(id).thenCompose(i ->
                    client.startPostcopy(id)).thenApply(Json::print), StatusCodes.OK))),
                path("recover", () -> post(() -> parameterOptional("data_host", host ->
                    parameterOptional("data_port", port -> recover(id, host.orElse(""), port.orElse("0")))))))))),
        pathPrefix("hosts", () -> concat(
            pathEndOrSingleSlash(() -> get(() -> respond(localHost.allHosts().thenCombine(client.statusOfUnended(),
                this::hosts), StatusCodes.OK))),
            path(PathMatchers.segment(), id -> get(() -> Ids.valid(id)
                ? respond(localHost.registered(id).thenApply(address -> "{\"host\":" + Json.quote(id)
                    + ",\"address\":" + Json.quote(address) + "}"), StatusCodes.OK)
                : complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", Ids.problem("host_id", id), "host_id")))))),
        pathPrefix("guests", () -> concat(
            pathEndOrSingleSlash(() -> concat(
                get(() -> respond(localHost.allHosts().thenApply(OperatorRoutes::allGuestsJson), StatusCodes.OK)),
                post(() -> entity(Unmarshaller.entityToString(), this::createGuest)))),
            path(PathMatchers.segment().slash("verify"), id -> get(() -> Ids.valid(id)
                ? respond(localHost.verify(id).thenApply(Json::print), StatusCodes.OK)
                : complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", Ids.problem("guest_id", id), "guest_id")))),
            pathPrefix(PathMatchers.segment(), id -> Ids.valid(id) ? guest(id)
                : complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", Ids.problem("guest_id", id), "guest_id"))))));
  }

  /** A guest's disk moves and power off, answered by the host that holds it (README, "Moving a disk"). */
  private Route guest(String id) {
    return concat(
        path("moves", () -> get(() -> command(id, b -> b.setMoves(true), StatusCodes.OK))),
        // Checkpointed replication (README, "Replication"): through the guest's protection coordinator.
        path("protection", () -> concat(
            get(() -> respond(protections.status(id).thenApply(Json::print), StatusCodes.OK)),
            post(() -> entity(Unmarshaller.entityToString(), body -> protect(id, body))),
            delete(() -> parameterOptional("reason", reason -> respond(protections.unprotect(id,
                reason.orElse("unprotected by an operator")).thenApply(Json::print), StatusCodes.OK))))),
        path("failover", () -> post(() -> parameterOptional("reason", reason -> respond(protections.failover(id,
            reason.orElse("")).thenApply(Json::print), StatusCodes.OK)))),
        // Through the client: a migrating guest is powered off by its coordinator.
        path("power-off", () -> post(() -> parameterOptional("reason", reason -> respond(client.powerOff(id,
            reason.orElse("powered off by an operator")).thenApply(Json::print), StatusCodes.OK)))),
        path(PathMatchers.segment("disks").slash(PathMatchers.segment()).slash("move"), disk -> concat(
            post(() -> entity(Unmarshaller.entityToString(), body -> moveDisk(id, disk, body))),
            delete(() -> command(id, b -> b.setCancelMove(disk), StatusCodes.OK)))),
        path(PathMatchers.segment("disks").slash(PathMatchers.segment()).slash("pivot"), disk ->
            post(() -> command(id, b -> b.setPivotDisk(disk), StatusCodes.OK))));
  }

  private Route protect(String guestId, String body) {
    org.livemig.messages.ProtectGuest request;
    try {
      request = Json.parse(body.isBlank() ? "{}" : body, org.livemig.messages.ProtectGuest.newBuilder())
          .setGuestId(guestId).build();
    } catch (IllegalArgumentException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", e.getMessage(), null));
    }
    return respond(protections.protect(guestId, request.getPrimaryHost(), request.getSecondaryHost(),
        request.getIntervalMs(), request.getManualFailover()).thenApply(Json::print), StatusCodes.ACCEPTED);
  }

  private Route moveDisk(String guestId, String diskId, String body) {
    DiskMoveRequest request;
    try {
      request = Json.parse(body.isBlank() ? "{}" : body, DiskMoveRequest.newBuilder()).setDiskId(diskId).build();
    } catch (IllegalArgumentException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", e.getMessage(), null));
    }
    if (request.getDatastore().isEmpty()) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", "invalid request: datastore is required",
          "datastore"));
    }
    return command(guestId, b -> b.setMoveDisk(request), StatusCodes.ACCEPTED);
  }

  private Route command(String guestId, java.util.function.Consumer<GuestCommandRequest.Builder> what, StatusCode ok) {
    GuestCommandRequest.Builder b = GuestCommandRequest.newBuilder().setGuestId(guestId);
    what.accept(b);
    return respond(localHost.command(b.build()).thenApply(Json::print), ok);
  }

  /** A page of the migration list: ?limit=N (default livemig.list.default-page-size) and ?after=TOKEN. */
  private Route list(String limit, String after) {
    int n;
    try {
      n = limit.isEmpty() ? MigrationListView.get(system).defaultPageSize() : Integer.parseInt(limit);
    } catch (NumberFormatException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", "invalid request: limit must be a number, was "
          + limit, "limit"));
    }
    return respond(client.list(n, after).thenApply(Json::print), StatusCodes.OK);
  }

  private Route start(String body) {
    StartMigration request;
    try {
      request = Json.parse(body, StartMigration.newBuilder()).build();
    } catch (IllegalArgumentException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", e.getMessage(), null));
    }
    String id = request.getMigrationId().isEmpty() ? UUID.randomUUID().toString() : request.getMigrationId();
    return respond(client.startAndAwaitSetup(id, request.getGuestId(), request.getSourceHost(),
        request.getDestinationHost(), request.getParameters()).thenApply(Json::print), StatusCodes.CREATED);
  }

  private Route parameters(String id, String body) {
    MigrationParameters p;
    try {
      p = Json.parse(body, MigrationParameters.newBuilder()).build();
    } catch (IllegalArgumentException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", e.getMessage(), null));
    }
    // Unknown ids answer 404 first; a migration past precopy answers 409.
    return respond(client.status(id).thenCompose(i -> client.setParameters(id, p.getMaxBandwidthBytesPerSecond(),
        Duration.ofMillis(p.getDowntimeLimitMs()))).thenApply(Json::print), StatusCodes.OK);
  }

  private Route recover(String id, String host, String port) {
    int p;
    try {
      p = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", "invalid request: data_port must be a number, was "
          + port, "data_port"));
    }
    // Unknown ids answer 404 first; a migration that is not paused in postcopy answers 409.
    return respond(client.status(id).thenCompose(i -> client.recover(id, host, p)).thenApply(Json::print),
        StatusCodes.OK);
  }

  private Route createGuest(String body) {
    GuestDescription d;
    try {
      d = Json.parse(body, GuestDescription.newBuilder()).build();
    } catch (IllegalArgumentException e) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", e.getMessage(), null));
    }
    String invalidId = Ids.problem("guest_id", d.getGuestId());
    if (invalidId != null) return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST", invalidId, "guest_id"));
    if (d.getGuestId().isBlank() || d.getPageCount() <= 0 || d.getPageSize() <= 0) {
      return complete(error(StatusCodes.BAD_REQUEST, "INVALID_REQUEST",
          "invalid request: guest_id, page_size and page_count are required", d.getGuestId().isBlank() ? "guest_id"
              : d.getPageCount() <= 0 ? "page_count" : "page_size"));
    }
    return respond(localHost.create(d).thenApply(v -> guestsJson(List.of(v))), StatusCodes.CREATED);
  }

  /** Cluster members as operators need them (address, status, roles), and every registered host. */
  private String hosts(List<org.livemig.messages.HostDescription> hosts, List<MigrationInfo> migrations) {
    List<String> out = new ArrayList<>();
    for (Member m : Cluster.get(system).state().getMembers()) {
      List<String> roles = m.getRoles().stream().filter(r -> !r.startsWith("dc-")).sorted().map(Json::quote).toList();
      out.add("{\"address\":" + Json.quote(m.address().toString()) + ",\"status\":" + Json.quote(m.status().toString())
          + ",\"roles\":[" + String.join(",", roles) + "]}");
    }
    List<String> hostJson = hosts.stream().map(h -> "{\"host_id\":" + Json.quote(h.getHostId()) + ",\"address\":"
        + Json.quote(h.getAddress()) + ",\"data_endpoint\":" + Json.quote(h.getDataEndpoint()) + ",\"guests\":"
        + h.getGuestsCount() + ",\"lost_guests\":" + h.getLostGuestsCount() + ",\"unconfirmed_source_copies\":"
        + unconfirmedSourceCopies(h.getHostId(), migrations) + "}").toList();
    return "{\"members\":[" + String.join(",", out) + "],\"hosts\":[" + String.join(",", hostJson)
        + "],\"local_host\":" + (localHost.hostId().isEmpty() ? "null" : Json.quote(localHost.hostId())) + "}";
  }

  /** Stunned source copies on the host whose destruction its source has not confirmed yet. */
  private static long unconfirmedSourceCopies(String host, List<MigrationInfo> migrations) {
    return migrations.stream().filter(m -> m.getSourceHost().equals(host) && !m.getSourceUnconfirmed().isEmpty())
        .count();
  }

  /** The guests of every host, each with its host. */
  private static String allGuestsJson(List<org.livemig.messages.HostDescription> hosts) {
    List<String> out = new ArrayList<>();
    for (var h : hosts) {
      for (var g : h.getGuestsList()) {
        out.add("{\"guest_id\":" + Json.quote(g.getGuestId()) + ",\"state\":" + Json.quote(g.getState())
            + ",\"host\":" + Json.quote(h.getHostId()) + ",\"steps\":" + g.getSteps() + ",\"throttle_percent\":"
            + g.getThrottlePercent() + ",\"size_bytes\":" + g.getSizeBytes() + ",\"disks\":" + disksJson(g.getDisksList())
            + "}");
      }
    }
    return "{\"guests\":[" + String.join(",", out) + "]}";
  }

  private static String guestsJson(List<HostAgent.GuestView> guests) {
    List<String> out = new ArrayList<>();
    for (HostAgent.GuestView g : guests) {
      out.add("{\"guest_id\":" + Json.quote(g.guestId()) + ",\"state\":" + Json.quote(g.state().name())
          + ",\"steps\":" + g.steps() + ",\"throttle_percent\":" + g.throttlePercent() + ",\"size_bytes\":"
          + g.sizeBytes() + ",\"disks\":" + disksJson(g.disks()) + "}");
    }
    return "{\"guests\":[" + String.join(",", out) + "]}";
  }

  private static String disksJson(List<org.livemig.messages.DiskSummary> disks) {
    return "[" + String.join(",", disks.stream().map(Json::print).toList()) + "]";
  }

  /** Completes with the body on success, or the error's status and a JSON error. */
  private Route respond(CompletionStage<String> body, StatusCode ok) {
    CompletionStage<HttpResponse> response = body.handle((b, e) -> e == null ? json(ok, b) : errorResponse(e));
    return onSuccess(response, this::complete);
  }

  private static HttpResponse errorResponse(Throwable e) {
    Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
    if (c instanceof MigrationException m) {
      StatusCode code = switch (m.kind()) {
        case UNKNOWN_MIGRATION, UNKNOWN_GUEST -> StatusCodes.NOT_FOUND;
        case CONFLICT -> StatusCodes.CONFLICT;
        case INVALID_REQUEST -> StatusCodes.BAD_REQUEST;
        case HOST_UNREACHABLE -> StatusCodes.SERVICE_UNAVAILABLE;
        case NOT_SUPPORTED -> StatusCodes.NOT_IMPLEMENTED;
        case REFUSED -> StatusCodes.UNPROCESSABLE_ENTITY;
      };
      String field = m instanceof MigrationException.InvalidRequest i ? i.field() : null;
      return error(code, m.kind().name(), m.getMessage(), field);
    }
    log.error("operator request failed unexpectedly", c);
    return error(StatusCodes.INTERNAL_SERVER_ERROR, "INTERNAL", String.valueOf(c), null);
  }

  static HttpResponse error(StatusCode code, String kind, String message, String field) {
    return json(code, "{\"error\":" + Json.quote(kind) + ",\"message\":" + Json.quote(String.valueOf(message))
        + (field == null ? "" : ",\"field\":" + Json.quote(field)) + "}");
  }

  private static HttpResponse json(StatusCode code, String body) {
    return HttpResponse.create().withStatus(code).withEntity(ContentTypes.APPLICATION_JSON, body);
  }
}
