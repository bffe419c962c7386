package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.messages.BeginRequest;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.InitialFill;

/**
 * A host cut off from the cluster's majority for its lease pauses the guests whose ownership is
 * in question (a source before Confirm, an arrival not yet settled), and only those.
 */
class FencingTest {
  static final ActorTestKit kit = ActorTestKit.create();

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  @Test
  void cutOffMeansNoStrictMajorityOfTheUpMembers() {
    assertFalse(Fence.cutOff(1, 1), "alone in a cluster of one");
    assertFalse(Fence.cutOff(3, 2));
    assertTrue(Fence.cutOff(3, 1));
    assertTrue(Fence.cutOff(4, 2), "half is no majority");
    assertFalse(Fence.cutOff(5, 3));
    assertTrue(Fence.cutOff(5, 2));
    assertFalse(Fence.cutOff(0, 0), "not joined yet");
  }

  @Test
  void theLeaseRunsOutOnlyWhileCutOff() {
    TestProbe<HostAgent.Command> agent = kit.createTestProbe();
    ActorRef<Fence.Command> fence = kit.spawn(Fence.observing(Duration.ofMillis(300), agent.ref()));
    fence.tell(new Fence.Observed(3, 1));
    fence.tell(new Fence.Observed(3, 3)); // healed within the lease: nothing happens
    agent.expectNoMessage(Duration.ofMillis(900));
    fence.tell(new Fence.Observed(3, 1));
    HostAgent.FenceGuests fenced = agent.expectMessageClass(HostAgent.FenceGuests.class, Duration.ofSeconds(5));
    assertTrue(fenced.reason().contains("cut off"), fenced.reason());
  }

  private static MigratableGuest running(String id) {
    String token = "host:h:" + id;
    MigratableGuest g = SyntheticGuest.create(GuestDescription.newBuilder().setGuestId(id).setPageSize(4096)
        .setPageCount(16).setSeed(3).setDirtyPagesPerSecond(100).setHotPages(4).setHotPerMille(500)
        .setInitialFill(InitialFill.FILL_PATTERN).build(), token);
    g.run(token);
    return g;
  }

  @Test
  void onlyGuestsWhoseOwnershipIsInQuestionArePausedAndASettledArrivalRunsAgain() throws Exception {
    HostGuests guests = new HostGuests("h", org.livemig.engine.guest.RunStateListener.NONE, org.livemig.engine.guest.disk.Datastores.none(), org.livemig.engine.guest.disk.DiskFaults::none);
    MigratableGuest alone = guests.create(GuestDescription.newBuilder().setGuestId("alone").setPageSize(4096)
        .setPageCount(16).setSeed(1).setInitialFill(InitialFill.FILL_PATTERN).build(), true);
    MigratableGuest leaving = guests.create(GuestDescription.newBuilder().setGuestId("leaving").setPageSize(4096)
        .setPageCount(16).setSeed(2).setInitialFill(InitialFill.FILL_PATTERN).build(), true);
    assertNull(guests.refuseBegin(HostCommand.newBuilder().setMigrationId("m-out").setEpoch(1).setStep(1)
        .setBegin(BeginRequest.newBuilder().setGuestId("leaving")).build()));
    MigratableGuest arrivedGuest = running("arrived");
    guests.adopt("m-in", arrivedGuest);

    assertEquals(List.of("arrived", "leaving"), guests.fence(java.util.Set.of()));
    leaving.pause().toCompletableFuture().get();
    arrivedGuest.pause().toCompletableFuture().get();
    assertEquals(RunState.RUNNING, alone.state(), "a guest no migration touches has no other copy: it runs on");
    assertEquals(RunState.PAUSED, leaving.state());
    assertEquals(RunState.PAUSED, arrivedGuest.state());

    assertEquals(HostGuests.Settled.NOT_IN_QUESTION, guests.settled("arrived", "m-earlier"),
        "another migration's notice settles nothing");
    assertEquals(RunState.PAUSED, arrivedGuest.state());
    assertEquals(HostGuests.Settled.RUNS_AGAIN, guests.settled("arrived", "m-in"),
        "the coordinator says the arrival is settled: it runs again");
    assertEquals(HostGuests.Settled.NOT_IN_QUESTION, guests.settled("arrived", "m-in"), "a repeated notice");
    assertEquals(RunState.RUNNING, arrivedGuest.state());
    assertEquals(List.of(), guests.fence(java.util.Set.of()).stream().filter(id -> !id.equals("leaving")).toList(),
        "a settled arrival is no longer in question");
    alone.destroy();
    leaving.destroy();
    arrivedGuest.destroy();
  }
}
