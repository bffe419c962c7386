package org.livemig.config.http;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.Props;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.livemig.engine.coordinator.CoordinatedHere;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.MigrationInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's Prometheus metrics (GET /metrics): the migrations whose coordinator runs on this
 * node, the host this node is, and its JVM.
 *
 * <p>A node reports what it runs itself, never what it hears on the cluster-wide event topic:
 * every node hears every migration there, so with several nodes scraped each migration would be
 * counted once per node. A coordinator runs on one node at a time (sharding) and tells only that
 * node (CoordinatedHere), so the nodes' series add up to the cluster's: scrape every node and sum.
 * A migration's gauges go when it ends or its coordinator leaves the node (no label grows without
 * bound); ended migrations stay only in counters and histograms, counted by the node whose
 * coordinator saw them run and end.
 */
public final class NodeMetrics implements Extension {
  private static final Logger log = LoggerFactory.getLogger(NodeMetrics.class);

  private static final ExtensionId<NodeMetrics> ID = new ExtensionId<>() {
    @Override
    public NodeMetrics createExtension(ActorSystem<?> system) {
      return NodeMetrics.start(system);
    }
  };

  public static NodeMetrics get(ActorSystem<?> system) {
    return system.registerExtension(ID);
  }

  /** How long a scrape waits for the host agent: well within Prometheus' default scrape timeout (10 s). */
  private static final Duration HOST_LOAD_TIMEOUT = Duration.ofSeconds(2);

  private final PrometheusMeterRegistry registry;
  private final LocalHost localHost;
  /** The migrations running here, by id: written by the listener actor only, read by scrapes. */
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  private volatile HostAgent.Load load;

  /** One running migration: its latest values (the gauges read them) and its gauges. */
  private static final class Running {
    volatile MigrationMetrics.Values values;
    volatile String phase;
    final List<Meter> meters = new ArrayList<>();
  }

  /** localHost null: no host to report (tests without an actor system). */
  NodeMetrics(PrometheusMeterRegistry registry, LocalHost localHost) {
    this.registry = registry;
    this.localHost = localHost;
    // Present at 0 from the start, so that rate() and increase() see the first migration.
    for (String outcome : MigrationMetrics.OUTCOMES) {
      outcomes(outcome);
      durations(outcome);
    }
    downtimes();
    for (String phase : MigrationMetrics.PHASES) {
      Gauge.builder("livemig_migrations_in_phase", running, r -> r.values().stream()
              .filter(m -> phase.equals(m.phase)).count())
          .description("Migrations coordinated on this node that have not ended, by phase")
          .tag("phase", phase).strongReference(true).register(registry);
    }
  }

  private static NodeMetrics start(ActorSystem<?> system) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    // Its GC listeners would outlive the system (several nodes come and go in one test JVM).
    system.getWhenTerminated().thenRun(gc::close);

    LocalHost localHost = new LocalHost(system);
    NodeMetrics metrics = new NodeMetrics(registry, localHost);
    if (!localHost.hostId().isEmpty()) metrics.hostGauges(localHost.hostId());
    // An actor only because the event stream delivers to actors: it hands each notice to the binding.
    system.systemActorOf(Behaviors.<CoordinatedHere>setup(ctx -> {
      ctx.getSystem().eventStream().tell(new EventStream.Subscribe<>(CoordinatedHere.class, ctx.getSelf()));
      return Behaviors.receiveMessage(notice -> {
        if (notice instanceof CoordinatedHere.Published p) metrics.published(p.event().getInfo());
        else metrics.stopped(((CoordinatedHere.Stopped) notice).migrationId());
        return Behaviors.same();
      });
    }), "livemig-metrics", Props.empty());
    return metrics;
  }

  /** The exposition in Prometheus text format 0.0.4, with this host's load asked for first. */
  CompletionStage<String> scrape() {
    if (localHost == null) return java.util.concurrent.CompletableFuture.completedFuture(text());
    return localHost.load(HOST_LOAD_TIMEOUT).handle((l, e) -> {
      if (e != null) log.debug("metrics: the host agent's load not available, showing the last one: {}", e.toString());
      else l.ifPresent(this::hostLoad);
      return text();
    });
  }

  /** What the coordinator of a migration running here published: its gauges now, or its end. */
  void published(MigrationInfo info) {
    String id = info.getMigrationId();
    var ending = MigrationMetrics.ending(info);
    if (ending.isEmpty()) {
      Running r = running.get(id);
      boolean first = r == null;
      if (first) r = new Running();
      r.values = MigrationMetrics.values(info);
      r.phase = MigrationMetrics.phase(info);
      if (first) running.put(id, gauges(r, info));
      return;
    }
    // Counted only by the node that saw it run: a repeated end (another phase's event) counts nothing.
    Running r = running.remove(id);
    if (r == null) return;
    r.meters.forEach(registry::remove);
    MigrationMetrics.Ending end = ending.get();
    outcomes(end.outcome()).increment();
    durations(end.outcome()).record(end.total());
    end.downtime().ifPresent(downtimes()::record);
    if (end.outcome().equals("failed")) {
      Counter.builder("livemig_migrations_failed_total")
          .description("Failed migrations by the phase they failed in (postcopy: after the destination ran the "
              + "guest) and the kind of error")
          .tags("phase", end.failedPhase(), "error_kind", end.errorKind()).register(registry).increment();
    }
  }

  /** The coordinator left this node without ending here (handed off, or the node stops): not counted. */
  void stopped(String migrationId) {
    Running r = running.remove(migrationId);
    if (r != null) r.meters.forEach(registry::remove);
  }

  void hostLoad(HostAgent.Load l) {
    this.load = l;
  }

  String text() {
    return registry.scrape();
  }

  /** Registers r's gauges, labelled with the migration's id and hosts; returns r. */
  private Running gauges(Running r, MigrationInfo info) {
    List<String> values = MigrationMetrics.labelValues(info);
    List<String> tags = new ArrayList<>();
    for (int i = 0; i < values.size(); i++) {
      tags.add(MigrationMetrics.LABELS.get(i));
      tags.add(values.get(i));
    }
    for (MigrationMetrics.Gauge g : MigrationMetrics.GAUGES) {
      r.meters.add(Gauge.builder(g.name(), r, x -> g.value().applyAsDouble(x.values))
          .description(g.help()).tags(Tags.of(tags.toArray(String[]::new))).strongReference(true).register(registry));
    }
    return r;
  }

  /** The gauges of this node's host, which show the agent's last answer (NaN before the first). */
  void hostGauges(String hostId) {
    hostGauge("livemig_host_guests", "Guests this host holds", hostId, l -> l.guests());
    hostGauge("livemig_host_memory_reserved_bytes", "Memory of the guests this host holds, as Prepare counts it "
        + "against livemig.host.memory-capacity", hostId, l -> l.reservedBytes());
    hostGauge("livemig_host_memory_capacity_bytes", "livemig.host.memory-capacity (0: no limit)", hostId,
        l -> l.memoryCapacityBytes());
    hostGauge("livemig_host_data_channels", "Data channels open on this host's data port (the receiving side of "
        + "every migration into it)", hostId, l -> l.dataChannels());
  }

  private void hostGauge(String name, String help, String hostId, java.util.function.ToDoubleFunction<HostAgent.Load> f) {
    Gauge.builder(name, this, m -> m.load == null ? Double.NaN : f.applyAsDouble(m.load)).description(help)
        .tag("host", hostId).strongReference(true).register(registry);
  }

  private Counter outcomes(String outcome) {
    return Counter.builder("livemig_migrations_total").description("Ended migrations by outcome")
        .tag("outcome", outcome).register(registry);
  }

  private Timer downtimes() {
    return Timer.builder("livemig_migrations_downtime_seconds")
        .description("Downtime of completed migrations, from the stun on the source to the run on the destination")
        .serviceLevelObjectives(ms(5), ms(10), ms(25), ms(50), ms(100), ms(250), ms(500), ms(1000), ms(2500),
            ms(5000), ms(10_000))
        .register(registry);
  }

  private Timer durations(String outcome) {
    return Timer.builder("livemig_migrations_duration_seconds")
        .description("Total time of ended migrations, from the start to the end, by outcome")
        .serviceLevelObjectives(ms(500), ms(1000), ms(2500), ms(5000), ms(10_000), ms(30_000), ms(60_000),
            ms(120_000), ms(300_000), ms(600_000), ms(1_800_000), ms(3_600_000))
        .tag("outcome", outcome).register(registry);
  }

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }
}
