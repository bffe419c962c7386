package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import java.util.List;
import java.util.function.Supplier;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;

/**
 * A host's side of the coordinator's phase steps, run inside HostAgent: admission (a stale epoch
 * is refused, a repeated step gets its earlier answer), commands held by fault injection, execution
 * in the migration's source or destination role (a failure is answered, never thrown), and
 * answers told only once the host ledger holds them.
 */
final class HostSteps {
  private final ActorContext<HostAgent.Command> ctx;
  private final TimerScheduler<HostAgent.Command> timers;
  private final HostSettings settings;
  private final Supplier<HostSettings.Faults> faults;
  private final DataPlaneServer dataPlane;
  private final ActorRef<HostReply> replies;
  private final ActorRef<HostLedger.Recorded> recorded;
  private final ActorRef<HostLedger.Command> ledger;
  private final HostGuests guests;
  private final RunStateLog runStates;
  private final HostLease lease;
  private final HostMigrations migrations;
  private final CleanupRuns cleanups;
  private final ActorRef<HostBandwidth.Command> bandwidth;

  HostSteps(ActorContext<HostAgent.Command> ctx, TimerScheduler<HostAgent.Command> timers, HostSettings settings,
      Supplier<HostSettings.Faults> faults, DataPlaneServer dataPlane, ActorRef<HostReply> replies,
      ActorRef<HostLedger.Recorded> recorded, ActorRef<HostLedger.Command> ledger, HostGuests guests,
      RunStateLog runStates, HostLease lease, HostMigrations migrations, CleanupRuns cleanups,
      ActorRef<HostBandwidth.Command> bandwidth) {
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.faults = faults;
    this.dataPlane = dataPlane;
    this.replies = replies;
    this.recorded = recorded;
    this.ledger = ledger;
    this.guests = guests;
    this.runStates = runStates;
    this.lease = lease;
    this.migrations = migrations;
    this.cleanups = cleanups;
    this.bandwidth = bandwidth;
  }

  void onControl(HostAgent.Control m) {
    HostSettings.Faults faults = this.faults.get();
    HostCommand cmd = m.command();
    HostMigrations.Admission admission = migrations.admit(cmd, m.replyTo(), settings.hostId());
    if (admission instanceof HostMigrations.Refuse refuse) {
      ctx.getLog().warn("{} refused {}: {}", settings.hostId(), cmd.getCommandCase(), refuse.reply().getError());
      m.replyTo().tell(new HostAgent.Answered(refuse.reply()));
    } else if (admission instanceof HostMigrations.Repeat repeat) {
      ctx.getLog().debug("{} repeats answer to {} step {}", settings.hostId(), cmd.getMigrationId(), cmd.getStep());
      m.replyTo().tell(new HostAgent.Answered(repeat.reply()));
    } else if (admission instanceof HostMigrations.Rerecord rerecord) {
      ledger.tell(new HostLedger.RecordAnswer(rerecord.reply(), recorded));
    } else if (admission instanceof HostMigrations.NotAStep && cmd.hasSettled()) {
      switch (guests.settled(cmd.getSettled().getGuestId(), cmd.getMigrationId())) {
        case SETTLED -> ctx.getLog().info("{}: settled; guest {} is no longer in question on {}",
            cmd.getMigrationId(), cmd.getSettled().getGuestId(), settings.hostId());
        case RUNS_AGAIN -> ctx.getLog().warn("{}: settled; guest {} runs again on {}", cmd.getMigrationId(),
            cmd.getSettled().getGuestId(), settings.hostId());
        case NOT_IN_QUESTION -> ctx.getLog().debug("{}: settled notice for guest {}: not in question here",
            cmd.getMigrationId(), cmd.getSettled().getGuestId());
      }
    } else if (admission instanceof HostMigrations.NotAStep notAStep) {
      toSource(m, notAStep.record());
    } else if (admission instanceof HostMigrations.InProgress inProgress) {
      // A new coordinator incarnation re-sending Perform also takes over the source's progress reports.
      HostMigrations.Record rec = inProgress.record();
      if (rec.held.containsKey(cmd.getStep())) rec.held.put(cmd.getStep(), m); // the newest runs when released
      if (cmd.hasPerform() && rec.source != null) rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
    } else if (!faults.holdPhase().isEmpty() && cmd.getCommandCase().name().equals(faults.holdPhase())) {
      ctx.getLog().warn("fault injection: {} holds {} of {} for {}", settings.hostId(), faults.holdPhase(),
          cmd.getMigrationId(), faults.holdFor());
      ((HostMigrations.Execute) admission).record().held.put(cmd.getStep(), m);
      timers.startSingleTimer(new HostAgent.HeldCommandReleased(m), faults.holdFor());
    } else {
      contained(m);
    }
  }

  /** New limits or a recovery go to the running source role; a recovery without one is refused as a report. */
  private void toSource(HostAgent.Control m, HostMigrations.Record rec) {
    HostCommand cmd = m.command();
    if (rec.source != null && !rec.ended) {
      rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
    } else if (cmd.hasRecover()) {
      ctx.getLog().warn("{} cannot recover {}: no running source role here", settings.hostId(), cmd.getMigrationId());
      m.replyTo().tell(new HostAgent.PostcopyReported(org.livemig.messages.PostcopyReport.newBuilder()
          .setMigrationId(cmd.getMigrationId()).setEpoch(cmd.getEpoch()).setHost(settings.hostId()).setSource(true)
          .setState(org.livemig.messages.MigrationStatus.POSTCOPY_PAUSED)
          .setReason("recovery refused: host " + settings.hostId() + " has no running source role for migration "
              + cmd.getMigrationId()).build()));
    }
  }

  /** A held command executes later: by then a newer incarnation may have spoken, so the epoch is checked again. */
  void onHeldCommandReleased(HostAgent.HeldCommandReleased m) {
    HostCommand cmd = m.control().command();
    HostMigrations.Record rec = migrations.record(cmd.getMigrationId());
    HostAgent.Control newest = rec.held.remove(cmd.getStep());
    HostAgent.Control control = newest == null ? m.control() : newest;
    if (refusedAsStale(control)) {
      rec.waiting.remove(cmd.getStep());
      return;
    }
    contained(control);
  }

  /** A command from an older epoch than this host follows is refused (an incarnation believed dead). */
  private boolean refusedAsStale(HostAgent.Control m) {
    long current = migrations.staleBy(m.command());
    if (current < 0) return false;
    HostReply refusal = HostMigrations.staleRefusal(m.command(), settings.hostId(), current);
    ctx.getLog().warn("{} refused {}: {}", settings.hostId(), m.command().getCommandCase(), refusal.getError());
    m.replyTo().tell(new HostAgent.Answered(refusal));
    return true;
  }

  /**
   * Executes a command so that a failure in one migration's part never stops this agent (and
   * with it every guest of the host): the failure is logged and answered as an error.
   */
  private void contained(HostAgent.Control m) {
    try {
      execute(m);
    } catch (RuntimeException e) {
      HostCommand cmd = m.command();
      ctx.getLog().error("{}: {} of {} failed on {}; the host agent goes on", cmd.getMigrationId(),
          cmd.getCommandCase(), cmd.getMigrationId(), settings.hostId(), e);
      reply(Replies.error(cmd, settings.hostId(), cmd.getCommandCase() + " failed on " + settings.hostId() + ": " + e));
      return;
    }
  }

  private void execute(HostAgent.Control m) {
    HostCommand cmd = m.command();
    HostMigrations.Record rec = migrations.get(cmd.getMigrationId());
    String id = cmd.getMigrationId();
    boolean rollback = cmd.hasDiscard() || (cmd.hasConfirm() && !cmd.getConfirm().getSuccess());
    if (rec.ended && !rollback) {
      reply(Replies.error(cmd, settings.hostId(), "migration " + id + " already ended on host " + settings.hostId()));
      return;
    }
    switch (cmd.getCommandCase()) {
      case BEGIN -> {
        HostReply refused = guests.refuseBegin(cmd);
        if (refused != null) {
          reply(refused);
        } else {
          MigratableGuest guest = guests.get(cmd.getBegin().getGuestId());
          rec.source = ctx.spawn(SourceActor.create(id, guest, settings.withFaults(faults.get()), replies, ctx.getSelf(), bandwidth), "source-" + id);
          rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
        }
      }
      case PREPARE -> {
        HostReply refused = guests.refusePrepare(cmd, settings.memoryCapacityBytes());
        if (refused != null) {
          reply(refused);
        } else {
          rec.destination = ctx.spawn(DestinationActor.create(id, settings, faults.get(), dataPlane, replies,
              ctx.getSelf(), runStates, lease), "destination-" + id);
          rec.destination.tell(new DestinationActor.Execute(cmd));
        }
      }
      case PERFORM, CONFIRM -> {
        if (rec.source != null) rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
        else if (rollback) rollbackWithoutRole(cmd, rec);
        else reply(Replies.error(cmd, settings.hostId(), "no source role for migration " + id + " on " + settings.hostId()));
      }
      // Handled in onControl before any step; answered, never thrown: a throw would stop this agent.
      case RECOVER, SET_PARAMETERS -> reply(Replies.error(cmd, settings.hostId(), cmd.getCommandCase() + " is not a phase step"));
      case FINISH, ACTIVATE, DISCARD, PAGES_COMPLETE -> {
        if (rec.destination != null) rec.destination.tell(new DestinationActor.Execute(cmd));
        else if (rollback) rollbackWithoutRole(cmd, rec);
        else reply(Replies.error(cmd, settings.hostId(), "no destination role for migration " + id + " on " + settings.hostId()));
      }
      case COMMAND_NOT_SET -> reply(Replies.error(cmd, settings.hostId(), "empty command"));
    }
  }

  /** A rollback for a migration this host never took a role in (its phase was never reached). */
  private void rollbackWithoutRole(HostCommand cmd, HostMigrations.Record rec) {
    rec.ended = true;
    HostReply.Builder b = Replies.ok(cmd, settings.hostId());
    if (cmd.hasConfirm()) {
      b.getConfirmBuilder().setSourceRunning(true); // Begin never ran here: the guest was never touched
    } else {
      b.getDiscardBuilder().setDiscarded(true);
    }
    // Nothing was set up, but cleanup still runs (and is counted) once on this path too.
    cleanups.answerWhenDone(cmd.getMigrationId(), b.build());
    ctx.getSelf().tell(new HostAgent.CleanupRequested(cmd.getMigrationId(),
        new CleanupActor.Plan("none", List.of(), null, null), null));
  }

  private void reply(HostReply reply) {
    ctx.getSelf().tell(new HostAgent.RoleReplied(reply));
  }

  void onRoleReplied(HostAgent.RoleReplied m) {
    HostMigrations.Record rec = migrations.get(m.reply().getMigrationId());
    if (rec == null) {
      ctx.getLog().error("answer for unknown migration {} dropped", m.reply().getMigrationId());
      return;
    }
    HostReply reply = HostMigrations.inCurrentEpoch(rec, m.reply());
    HostReply kept = rec.answered.putIfAbsent(reply.getStep(), reply);
    if (kept != null) {
      // The first answer to a step is the one given and repeated; a later one never replaces it.
      ctx.getLog().warn("{}: a second answer to step {} on {} is dropped (ok={}): {}", reply.getMigrationId(),
          reply.getStep(), settings.hostId(), reply.getOk(), reply.getError());
      return;
    }
    boolean roleEnded = HostMigrations.endsRole(reply);
    if (roleEnded) rec.ended = true;
    boolean beginRefused = !reply.getOk() && reply.getStep() == 1; // an error carries no payload, only its step
    if (roleEnded || beginRefused) guests.migrationOver(reply.getMigrationId());
    // Told only once the ledger holds it: a restarted host must repeat exactly what it said.
    ledger.tell(new HostLedger.RecordAnswer(reply, recorded));
  }

  void onAnswerRecorded(HostAgent.AnswerRecorded m) {
    HostMigrations.Record rec = migrations.get(m.reply().getMigrationId());
    if (rec == null) return;
    rec.durable.add(m.reply().getStep());
    ActorRef<HostAgent.Reply> to = rec.waiting.remove(m.reply().getStep());
    HostReply answer = rec.answered.get(m.reply().getStep());
    if (to != null) to.tell(new HostAgent.Answered(answer.toBuilder().setEpoch(rec.epoch).build()));
  }
}
