package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.List;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.HostCommand;

/**
 * What a coordinator's decisions send, as messages: phase steps with their timers (or a lookup
 * first, when the host is not found yet), notices that are not steps, logs. Every command passes
 * through {@link #tell}, so Unpersisted knows what this incarnation let a host do.
 */
final class Outbox {
  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final CoordinatorSettings settings;
  private final String migrationId;
  private final ActorRef<HostAgent.Reply> hostReplies;
  private final HostLookup hosts;
  private final Unpersisted unpersisted;

  Outbox(ActorContext<MigrationCoordinator.Command> ctx, TimerScheduler<MigrationCoordinator.Command> timers,
      CoordinatorSettings settings, String migrationId, ActorRef<HostAgent.Reply> hostReplies, HostLookup hosts,
      Unpersisted unpersisted) {
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.migrationId = migrationId;
    this.hostReplies = hostReplies;
    this.hosts = hosts;
    this.unpersisted = unpersisted;
  }

  void execute(MigrationState s, List<Decision.Action> actions) {
    for (Decision.Action a : actions) {
      if (a instanceof Decision.Send send) {
        send(s, send.step());
      } else if (a instanceof Decision.ArmTimer arm) {
        armTimer(s, arm.step());
      } else if (a instanceof Decision.CancelTimer cancel) {
        timers.cancel(cancel.step());
      } else if (a instanceof Decision.SendEarly early) {
        ActorRef<HostAgent.Command> agent = hosts.agent(early.step().host(s));
        if (agent != null) tell(agent, early.step().command(s, unpersisted));
      } else if (a instanceof Decision.TellSource tell) {
        tellSource(s, tell.command());
      } else if (a instanceof Decision.TellDestination tell) {
        tellHost(s, s.destinationHost(), tell.command(), true); // a fenced arrival must hear it, however late
      } else if (a instanceof Decision.PushEstimate) {
        execute(s, Switchover.pushEstimate(new Decision(unpersisted), s, unpersisted).afterWrite);
      } else if (a instanceof Decision.Locate locate) {
        hosts.locate(locate.host());
      } else if (a instanceof Decision.ReplayPostcopyReports) {
        if (unpersisted.lastSourcePostcopy != null) {
          hostReplies.tell(new HostAgent.PostcopyReported(unpersisted.lastSourcePostcopy));
        }
        if (unpersisted.lastDestinationPostcopy != null) {
          hostReplies.tell(new HostAgent.PostcopyReported(unpersisted.lastDestinationPostcopy));
        }
      } else if (a instanceof Decision.Log log) {
        switch (log.level()) {
          case INFO -> ctx.getLog().info("{}: {}", migrationId, log.message());
          case WARN -> ctx.getLog().warn("{}: {}", migrationId, log.message());
          case ERROR -> ctx.getLog().error("{}: {}", migrationId, log.message());
        }
      }
    }
  }

  private void armTimer(MigrationState s, Step step) {
    Duration timeout = step == Step.PERFORM ? settings.performSilenceTimeout() : settings.stepTimeout();
    unpersisted.awaiting.add(step);
    timers.startSingleTimer(step, new MigrationCoordinator.StepTimedOut(step, s.epoch()), timeout.plus(settings.hostLookupTimeout()));
  }

  /** A phase step: its timer, then its command (or a lookup, and the command once the host is found). */
  void send(MigrationState s, Step step) {
    armTimer(s, step);
    ActorRef<HostAgent.Command> agent = hosts.agent(step.host(s));
    if (agent == null) {
      hosts.awaitHost(step.host(s), step); // sent again once found
      return;
    }
    tell(agent, step.command(s, unpersisted));
    if (step == Step.PERFORM) execute(s, List.of(new Decision.PushEstimate())); // the first round may converge
  }

  /** A command that is not a phase step: no timer, no answer awaited; a recovery waits for its host. */
  private void tellSource(MigrationState s, HostCommand.Builder command) {
    // A recovery after a takeover, or the end of a failed postcopy: once the host is found.
    tellHost(s, s.sourceHost(), command, command.hasRecover() || command.hasAbandoned());
  }

  /** Tells a host a command that is not a step; one that must arrive waits for the host to be found. */
  private void tellHost(MigrationState s, String host, HostCommand.Builder command, boolean mustArrive) {
    HostCommand cmd = command.setMigrationId(s.migrationId()).setEpoch(s.epoch()).build();
    ActorRef<HostAgent.Command> agent = hosts.agent(host);
    if (agent != null) tell(agent, cmd);
    else if (mustArrive) hosts.awaitHost(host, cmd);
  }

  void tell(ActorRef<HostAgent.Command> agent, HostCommand command) {
    unpersisted.sent(command);
    agent.tell(new HostAgent.Control(command, hostReplies));
  }
}
