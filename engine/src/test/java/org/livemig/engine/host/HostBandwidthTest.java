package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import java.time.Duration;
import java.util.Map;
import java.util.SortedMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A host's link among its migrations: a starting one takes its share at once, the others hear
 * theirs shrink; one ending (leaving, or stopping without leaving) gives its share back at once.
 */
class HostBandwidthTest {
  static final ActorTestKit kit = ActorTestKit.create();

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  /** Joins as a SourceActor does, through a message adapter, and forwards the shares to a probe. */
  private static Behavior<HostBandwidth.Share> source(String id, long cap, ActorRef<HostBandwidth.Command> link,
      ActorRef<HostBandwidth.Share> probe) {
    return Behaviors.setup(ctx -> {
      link.tell(new HostBandwidth.Join(id, cap, ctx.messageAdapter(HostBandwidth.Share.class, s -> s)));
      return Behaviors.receiveMessage(s -> {
        probe.tell(s);
        return Behaviors.same();
      });
    });
  }

  private static SortedMap<String, Long> shares(ActorRef<HostBandwidth.Command> link) {
    TestProbe<SortedMap<String, Long>> p = kit.createTestProbe();
    link.tell(new HostBandwidth.GetShares(p.ref()));
    return p.receiveMessage();
  }

  @Test
  void sharesFollowJoinsCapsLeavesAndStops() {
    ActorRef<HostBandwidth.Command> link = kit.spawn(HostBandwidth.create("h", 24_000_000));
    TestProbe<HostBandwidth.Share> one = kit.createTestProbe();
    TestProbe<HostBandwidth.Share> two = kit.createTestProbe();
    TestProbe<HostBandwidth.Share> three = kit.createTestProbe();

    kit.spawn(source("m1", 0, link, one.ref()));
    assertEquals(new HostBandwidth.Share("m1", 24_000_000), one.receiveMessage());
    ActorRef<HostBandwidth.Share> m2 = kit.spawn(source("m2", 0, link, two.ref()));
    assertEquals(new HostBandwidth.Share("m2", 12_000_000), two.receiveMessage());
    assertEquals(new HostBandwidth.Share("m1", 12_000_000), one.receiveMessage(), "the first gives half at once");

    link.tell(new HostBandwidth.CapChanged("m1", 4_000_000));
    assertEquals(new HostBandwidth.Share("m1", 4_000_000), one.receiveMessage());
    assertEquals(new HostBandwidth.Share("m2", 20_000_000), two.receiveMessage(), "what m1 leaves goes to m2");

    kit.spawn(source("m3", 0, link, three.ref()));
    assertEquals(new HostBandwidth.Share("m3", 10_000_000), three.receiveMessage());
    assertEquals(new HostBandwidth.Share("m2", 10_000_000), two.receiveMessage());
    one.expectNoMessage(Duration.ofMillis(50)); // m1 keeps its own cap: no news for it

    link.tell(new HostBandwidth.Leave("m3"));
    link.tell(new HostBandwidth.Leave("m3")); // idempotent
    assertEquals(new HostBandwidth.Share("m2", 20_000_000), two.receiveMessage());
    assertEquals(Map.of("m1", 4_000_000L, "m2", 20_000_000L), shares(link));

    link.tell(new HostBandwidth.CapChanged("m1", 0));
    assertEquals(new HostBandwidth.Share("m1", 12_000_000), one.receiveMessage());
    assertEquals(new HostBandwidth.Share("m2", 12_000_000), two.receiveMessage());
    kit.stop(m2); // a migration's actor that stops without leaving frees its share all the same
    assertEquals(new HostBandwidth.Share("m1", 24_000_000), one.receiveMessage());
    assertEquals(Map.of("m1", 24_000_000L), shares(link));
  }
}
