package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.receptionist.Receptionist;
import akka.pattern.StatusReply;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.ActivateResult;
import org.livemig.messages.BeginCookie;
import org.livemig.messages.FinishResult;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;
import org.livemig.messages.StartMigration;

/**
 * Once Finish has told the destination to run the guest when its copy is whole, a failed
 * Perform on the source is not a reason to resume the source: the copy may be whole though the
 * source's answer is an error. The destination's Finish answer decides. The hosts are probes.
 */
class SourceFailureAfterFinishTest {
  static final ActorTestKit kit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseString("akka.actor.serialize-messages = off"))
      .withFallback(ConfigFactory.load()));

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  /** A coordinator driven to the point where the flagged Finish is out and Perform failed. */
  private record Switchover(TestProbe<HostAgent.Command> source, TestProbe<HostAgent.Command> destination,
      HostAgent.Control finish) {}

  private static Switchover finishOutThenPerformFails(String id) {
    TestProbe<HostAgent.Command> source = kit.createTestProbe();
    TestProbe<HostAgent.Command> destination = kit.createTestProbe();
    kit.system().receptionist().tell(Receptionist.register(HostAgent.serviceKey(id + "-a"), source.getRef()));
    kit.system().receptionist().tell(Receptionist.register(HostAgent.serviceKey(id + "-b"), destination.getRef()));
    ActorRef<MigrationCoordinator.Command> coordinator = kit.spawn(MigrationCoordinator.create(id, null));
    TestProbe<StatusReply<MigrationInfo>> started = kit.createTestProbe();
    coordinator.tell(new MigrationCoordinator.Start(StartMigration.newBuilder().setMigrationId(id).setGuestId("g")
        .setSourceHost(id + "-a").setDestinationHost(id + "-b").setParameters(MigrationParameters.newBuilder()
            .setDowntimeLimitMs(300).setChannels(1)).build(), started.getRef()));
    assertTrue(started.receiveMessage(Duration.ofSeconds(10)).isSuccess());

    HostAgent.Control begin = next(source, HostCommand.CommandCase.BEGIN);
    GuestDescription g = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(256).build();
    answer(begin, ok(begin, id + "-a").setBegin(BeginCookie.newBuilder().setGuest(g)));
    HostAgent.Control prepare = next(destination, HostCommand.CommandCase.PREPARE);
    answer(prepare, ok(prepare, id + "-b").setPrepare(PrepareCookie.newBuilder().setDataHost("127.0.0.1")
        .setDataPort(1).setToken("t")));
    HostAgent.Control perform = next(source, HostCommand.CommandCase.PERFORM);
    // The source's last round: the stun follows. The marker is written, then Finish goes out.
    perform.replyTo().tell(new MigrationCoordinator.ProgressReported(ProgressReport.newBuilder().setMigrationId(id)
        .setEpoch(perform.command().getEpoch()).setRoundDone(true).setStunning(true)
        .setRound(RoundStats.newBuilder().setRound(1).setExpectedDowntimeMs(5)).build()));
    HostAgent.Control finish = next(destination, HostCommand.CommandCase.FINISH);
    assertTrue(finish.command().getFinish().getActivateWhenComplete(), "Finish runs a whole copy: " + finish.command());
    answer(perform, HostReply.newBuilder().setMigrationId(id).setEpoch(perform.command().getEpoch())
        .setStep(perform.command().getStep()).setHost(id + "-a").setOk(false)
        .setError("perform failed: channel 0: connection reset"));
    // No rollback on the source's word alone: neither Confirm nor Discard goes out.
    assertNoStep(source, Duration.ofMillis(500));
    assertNoStep(destination, Duration.ZERO);
    return new Switchover(source, destination, finish);
  }

  @Test
  void aWholeCopyThatRanKeepsTheGuestOnTheDestination() {
    Switchover s = finishOutThenPerformFails("whole");
    answer(s.finish(), ok(s.finish(), "whole-b").setFinish(FinishResult.newBuilder().setComplete(true)
        .setPagesReceived(256).setActivated(ActivateResult.newBuilder().setRunningAtEpochUs(2_000_000))));
    HostAgent.Control confirm = next(s.source(), HostCommand.CommandCase.CONFIRM);
    assertTrue(confirm.command().getConfirm().getSuccess(), "the source copy goes: " + confirm.command());
    assertNoStep(s.destination(), Duration.ofMillis(200)); // no Discard of the running guest
  }

  @Test
  void anIncompleteCopyRollsBackToTheSource() {
    Switchover s = finishOutThenPerformFails("torn");
    answer(s.finish(), ok(s.finish(), "torn-b").setFinish(FinishResult.newBuilder().setComplete(false)
        .setPagesReceived(200).setPagesMissing(56).setReason("channel 0 failed: connection reset")));
    HostAgent.Control confirm = next(s.source(), HostCommand.CommandCase.CONFIRM);
    assertFalse(confirm.command().getConfirm().getSuccess(), "the source resumes: " + confirm.command());
    assertTrue(confirm.command().getConfirm().getReason().contains("connection reset"), confirm.command().toString());
    next(s.destination(), HostCommand.CommandCase.DISCARD);
  }

  /** The next phase step sent to the host (the switchover estimates pushed meanwhile are skipped). */
  private static HostAgent.Control next(TestProbe<HostAgent.Command> host, HostCommand.CommandCase expected) {
    HostAgent.Control c;
    do {
      c = (HostAgent.Control) host.receiveMessage(Duration.ofSeconds(10));
    } while (c.command().hasSetParameters());
    assertEquals(expected, c.command().getCommandCase(), c.command().toString());
    return c;
  }

  private static void assertNoStep(TestProbe<HostAgent.Command> host, Duration within) {
    long deadline = System.nanoTime() + within.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        host.expectNoMessage(Duration.ofMillis(10));
        return;
      }
      HostAgent.Control c;
      try {
        c = (HostAgent.Control) host.receiveMessage(Duration.ofNanos(left));
      } catch (AssertionError timeout) {
        return; // nothing arrived in time
      }
      assertTrue(c.command().hasSetParameters(), "no step expected, got " + c.command());
    }
  }

  private static HostReply.Builder ok(HostAgent.Control c, String host) {
    return HostReply.newBuilder().setMigrationId(c.command().getMigrationId()).setEpoch(c.command().getEpoch())
        .setStep(c.command().getStep()).setHost(host).setOk(true);
  }

  private static void answer(HostAgent.Control c, HostReply.Builder reply) {
    c.replyTo().tell(new MigrationCoordinator.HostReplied(reply.build()));
  }
}
