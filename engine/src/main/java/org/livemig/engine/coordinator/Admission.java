package org.livemig.engine.coordinator;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.livemig.messages.AdmissionEvent;
import org.livemig.messages.AdmissionRequested;

/**
 * Admission control's decisions, as plain functions: how many migrations may run at once per
 * source host, per destination host and in the whole cluster, and which queued ones start now.
 */
public final class Admission {
  private Admission() {}

  /** One migration's claim: a slot on its source's way out and its destination's way in. */
  public record Claim(String migrationId, String sourceHost, String destinationHost) {
    static Claim of(AdmissionRequested r) {
      return new Claim(r.getMigrationId(), r.getSourceHost(), r.getDestinationHost());
    }

    AdmissionRequested toProto() {
      return AdmissionRequested.newBuilder().setMigrationId(migrationId).setSourceHost(sourceHost)
          .setDestinationHost(destinationHost).build();
    }
  }

  /** livemig.admission; 0 = no limit. */
  public record Limits(int maxOutboundPerHost, int maxInboundPerHost, int maxConcurrent) {
    public Limits {
      if (maxOutboundPerHost < 0 || maxInboundPerHost < 0 || maxConcurrent < 0) {
        throw new IllegalArgumentException("livemig.admission limits must be 0 (no limit) or more, were "
            + "max-outbound-per-host = " + maxOutboundPerHost + ", max-inbound-per-host = " + maxInboundPerHost
            + ", max-concurrent = " + maxConcurrent);
      }
    }

    public static Limits fromConfig(Config config) {
      Config c = config.getConfig("livemig.admission");
      return new Limits(c.getInt("max-outbound-per-host"), c.getInt("max-inbound-per-host"),
          c.getInt("max-concurrent"));
    }

    private static boolean room(int used, int max) {
      return max == 0 || used < max;
    }
  }

  /**
   * The queued claims that may start now, in queue order. Each is granted if its source has an
   * outbound slot, its destination an inbound one and the cluster one; one that cannot start is
   * skipped, not waited for, so a busy host never holds back a migration between free ones (no
   * head-of-line blocking). But a skipped claim keeps its hosts: a later claim that needs the same
   * source's outbound or the same destination's inbound slot waits behind it, so that a host's
   * freed slot goes to its earliest waiter and a claim needing two busy hosts is not starved by
   * later ones taking each slot in turn. A migration within one host takes that host's outbound
   * and inbound slot once each.
   */
  public static List<Claim> grants(List<Claim> queue, Collection<Claim> active, Limits limits) {
    Map<String, Integer> outbound = new HashMap<>();
    Map<String, Integer> inbound = new HashMap<>();
    for (Claim c : active) {
      outbound.merge(c.sourceHost(), 1, Integer::sum);
      inbound.merge(c.destinationHost(), 1, Integer::sum);
    }
    int running = active.size();
    List<Claim> granted = new ArrayList<>();
    java.util.Set<String> keptOutbound = new java.util.HashSet<>(); // sources an earlier skipped claim waits for
    java.util.Set<String> keptInbound = new java.util.HashSet<>();
    for (Claim c : queue) {
      if (!Limits.room(running, limits.maxConcurrent())) break;
      if (!keptOutbound.contains(c.sourceHost()) && !keptInbound.contains(c.destinationHost())
          && Limits.room(outbound.getOrDefault(c.sourceHost(), 0), limits.maxOutboundPerHost())
          && Limits.room(inbound.getOrDefault(c.destinationHost(), 0), limits.maxInboundPerHost())) {
        granted.add(c);
        outbound.merge(c.sourceHost(), 1, Integer::sum);
        inbound.merge(c.destinationHost(), 1, Integer::sum);
        running++;
      } else {
        keptOutbound.add(c.sourceHost());
        keptInbound.add(c.destinationHost());
      }
    }
    return granted;
  }

  /** The queue in request order and the granted slots, rebuilt from admission control's journal. */
  public record State(Map<String, Claim> queued, Map<String, Claim> granted) {
    public static final State EMPTY = new State(Map.of(), Map.of());

    public State {
      queued = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(queued));
      granted = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(granted));
    }

    public List<Claim> queue() {
      return List.copyOf(queued.values());
    }

    /** 1 = next in line; 0 = not queued. */
    public int position(String migrationId) {
      int i = 1;
      for (String id : queued.keySet()) {
        if (id.equals(migrationId)) return i;
        i++;
      }
      return 0;
    }

    public boolean knows(String migrationId) {
      return queued.containsKey(migrationId) || granted.containsKey(migrationId);
    }

    /** No side effects: replaying the journal is always safe. */
    public State apply(AdmissionEvent e) {
      Map<String, Claim> q = new LinkedHashMap<>(queued);
      Map<String, Claim> g = new LinkedHashMap<>(granted);
      switch (e.getEventCase()) {
        case REQUESTED -> {
          if (!knows(e.getRequested().getMigrationId())) q.put(e.getRequested().getMigrationId(), Claim.of(e.getRequested()));
        }
        case GRANTED -> {
          Claim c = q.remove(e.getGranted());
          if (c != null) g.put(c.migrationId(), c);
        }
        case RELEASED -> {
          q.remove(e.getReleased().getMigrationId());
          g.remove(e.getReleased().getMigrationId());
        }
        case EVENT_NOT_SET -> throw new IllegalArgumentException("admission event without a case: " + e);
      }
      return new State(q, g);
    }

    public org.livemig.messages.AdmissionSnapshot toProto() {
      var b = org.livemig.messages.AdmissionSnapshot.newBuilder().setSchemaVersion(1);
      queued.values().forEach(c -> b.addQueued(c.toProto()));
      granted.values().forEach(c -> b.addGranted(c.toProto()));
      return b.build();
    }

    public static State fromProto(org.livemig.messages.AdmissionSnapshot p) {
      Map<String, Claim> q = new LinkedHashMap<>();
      Map<String, Claim> g = new LinkedHashMap<>();
      p.getQueuedList().forEach(r -> q.put(r.getMigrationId(), Claim.of(r)));
      p.getGrantedList().forEach(r -> g.put(r.getMigrationId(), Claim.of(r)));
      return new State(q, g);
    }
  }
}
