package org.livemig.engine.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.receptionist.Receptionist;
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
import org.livemig.messages.CommandReply;
import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.PrepareCookie;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.RoundStats;
import org.livemig.messages.StartMigration;

/**
 * Once Finish has told the destination to run the guest when its copy is whole, a failed
 * Perform on the source, or the source's host leaving, is not a reason to roll back: the copy
 * may be whole though the source's answer is an error (and a whole copy saves a guest whose
 * host died). The destination's Finish answer decides. The hosts are probes.
 */
class SourceFailureAfterFinishTest {
  static final ActorTestKit kit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseString("""
          akka.actor.serialize-messages = off
          livemig.coordinator.host-lookup-timeout = 1s
          livemig.coordinator.step-timeout = 1s
          """))
      .withFallback(ConfigFactory.load()));

  @AfterAll
  static void down() {
    kit.shutdownTestKit();
  }

  /** A coordinator driven to the point where the flagged Finish is out and Perform failed (or its host left). */
  private record Switchover(ActorRef<MigrationCoordinator.Command> coordinator, TestProbe<HostAgent.Command> source,
      TestProbe<HostAgent.Command> destination, HostAgent.Control finish) {}

  private static Switchover finishOutThenPerformFails(String id) {
    return finishOut(id, false);
  }

  private static Switchover finishOut(String id, boolean sourceHostLeaves) {
    TestProbe<HostAgent.Command> source = kit.createTestProbe();
    TestProbe<HostAgent.Command> destination = kit.createTestProbe();
    kit.system().receptionist().tell(Receptionist.register(HostAgent.serviceKey(id + "-a"), source.getRef()));
    kit.system().receptionist().tell(Receptionist.register(HostAgent.serviceKey(id + "-b"), destination.getRef()));
    ActorRef<MigrationCoordinator.Command> coordinator = kit.spawn(MigrationCoordinator.create(id, null));
    TestProbe<CommandReply> started = kit.createTestProbe();
    coordinator.tell(new MigrationCoordinator.Start(StartMigration.newBuilder().setMigrationId(id).setGuestId("g")
        .setSourceHost(id + "-a").setDestinationHost(id + "-b").setParameters(MigrationParameters.newBuilder()
            .setDowntimeLimitMs(300).setChannels(1)).build(), started.getRef()));
    assertTrue(started.receiveMessage(Duration.ofSeconds(10)).hasInfo());

    HostAgent.Control begin = next(source, HostCommand.CommandCase.BEGIN);
    GuestDescription g = GuestDescription.newBuilder().setGuestId("g").setPageSize(4096).setPageCount(256).build();
    answer(begin, ok(begin, id + "-a").setBegin(BeginCookie.newBuilder().setGuest(g)));
    HostAgent.Control prepare = next(destination, HostCommand.CommandCase.PREPARE);
    answer(prepare, ok(prepare, id + "-b").setPrepare(PrepareCookie.newBuilder().setDataHost("127.0.0.1")
        .setDataPort(1).setToken("t")));
    HostAgent.Control perform = next(source, HostCommand.CommandCase.PERFORM);
    // The source's last round: the stun follows. The marker is written, then Finish goes out.
    perform.replyTo().tell(new HostAgent.ProgressReported(ProgressReport.newBuilder().setMigrationId(id)
        .setEpoch(perform.command().getEpoch()).setRoundDone(true).setStunning(true)
        .setRound(RoundStats.newBuilder().setRound(1).setExpectedDowntimeMs(5)).build()));
    HostAgent.Control finish = next(destination, HostCommand.CommandCase.FINISH);
    assertTrue(finish.command().getFinish().getActivateWhenComplete(), "Finish runs a whole copy: " + finish.command());
    if (sourceHostLeaves) {
      source.stop(); // watched by the coordinator: the host left the cluster with its guest
    } else {
      answer(perform, HostReply.newBuilder().setMigrationId(id).setEpoch(perform.command().getEpoch())
          .setStep(perform.command().getStep()).setHost(id + "-a").setOk(false)
          .setError("perform failed: channel 0: connection reset"));
    }
    // No rollback on the source's word alone: neither Confirm nor Discard goes out.
    if (!sourceHostLeaves) assertNoStep(source, Duration.ofMillis(500));
    assertNoStep(destination, sourceHostLeaves ? Duration.ofMillis(500) : Duration.ZERO);
    return new Switchover(coordinator, source, destination, finish);
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
  @Test
  void aSourceHostLostAfterFinishWentOutLeavesTheWholeCopyRunning() {
    // The source's host, and its guest, are gone mid-switchover. The destination's copy is whole
    // and runs: the guest survives, and the migration completes with the destination keeping it.
    Switchover s = finishOut("lost", true);
    answer(s.finish(), ok(s.finish(), "lost-b").setFinish(FinishResult.newBuilder().setComplete(true)
        .setPagesReceived(256).setActivated(ActivateResult.newBuilder().setRunningAtEpochUs(2_000_000))));
    assertNoStep(s.destination(), Duration.ofMillis(200)); // no Discard of the running guest
    TestProbe<MigrationInfo> status = kit.createTestProbe();
    MigrationInfo info = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      s.coordinator().tell(new MigrationCoordinator.GetStatus(status.getRef()));
      info = status.receiveMessage(Duration.ofSeconds(5));
      if (info.getStatus() == MigrationStatus.COMPLETED || info.getStatus() == MigrationStatus.FAILED) break;
      sleep();
    }
    assertEquals(MigrationStatus.COMPLETED, info.getStatus(), info.toString());
    assertEquals(ResumeOwner.DESTINATION, info.getResumeOwner(), info.toString());
  }

  private static void sleep() {
    try {
      Thread.sleep(100);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

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
    c.replyTo().tell(new HostAgent.Answered(reply.build()));
  }
}
