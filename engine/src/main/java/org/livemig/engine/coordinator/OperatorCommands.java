package org.livemig.engine.coordinator;

import org.livemig.messages.ErrorKind;
import org.livemig.messages.HostCommand;
import org.livemig.messages.MigrationStatus;
import org.livemig.messages.Phase;
import org.livemig.messages.RecoverRequest;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.Refusal;
import org.livemig.messages.ResumeOwner;
import org.livemig.messages.SetParametersRequest;
import org.livemig.messages.StartMigration;

/**
 * The decisions on what operators and cluster managers ask (start, cancel, new limits, postcopy,
 * recover): a refusal that changes nothing, or a Decision whose events are persisted before the
 * caller is answered.
 */
final class OperatorCommands {
  private OperatorCommands() {}

  /** Refused (decision null), or accepted (refusal null; the decision may persist nothing). */
  record Outcome(Refusal refusal, Decision decision) {
    static Outcome refused(ErrorKind kind, String message) {
      return new Outcome(Refusal.newBuilder().setKind(kind).setMessage(message).build(), null);
    }

    static Outcome refused(Refusal r) {
      return new Outcome(r, null);
    }

    static Outcome accepted(Decision d) {
      return new Outcome(null, d);
    }
  }

  /** queued: the migration waits for an admission slot before Begin. */
  static Outcome start(String migrationId, StartMigration r, CoordinatorSettings settings, Unpersisted u,
      boolean queued) {
    Refusal invalid = StartValidation.check(r, migrationId);
    if (invalid != null) return Outcome.refused(invalid);
    MigrationParameters resolved = settings.resolve(r.getParameters());
    Refusal limits = StartValidation.checkResolved(resolved);
    if (limits != null) return Outcome.refused(limits);
    return Outcome.accepted(new Decision(u).persist(Events.requested(
        r.toBuilder().setMigrationId(migrationId).build(), resolved, 1, queued)));
  }

  /** Nothing ran anywhere: the migration ends CANCELLED at once, its place in the queue given back. */
  static Outcome cancelQueued(MigrationState s, Unpersisted u, String reason) {
    return Outcome.accepted(new Decision(u).persist(Events.cancelRequested(reason),
        Events.cancelledWhileQueued("cancelled while queued: " + reason))
        .log(Decision.Level.WARN, "cancelled while queued: " + reason));
  }

  /** A Start for a migration that exists: the same request is answered again, another one refused. */
  static Outcome startAgain(MigrationState s, StartMigration r, Unpersisted u) {
    boolean same = s.guestId().equals(r.getGuestId()) && s.sourceHost().equals(r.getSourceHost())
        && s.destinationHost().equals(r.getDestinationHost());
    return same ? Outcome.accepted(new Decision(u)) : Outcome.refused(ErrorKind.ERROR_CONFLICT,
        "migration " + s.migrationId() + " already exists with other arguments");
  }

  /**
   * powerOff: the rollback's Confirm tells the source to stop the guest for good instead of
   * resuming it; persisted first, so a new incarnation sends the same Confirm and nobody resumes it.
   */
  static Outcome cancel(MigrationState s, Unpersisted u, String reason, boolean powerOff) {
    String tooLate = Ownership.cancelRefusal(s, u);
    if (tooLate != null) return Outcome.refused(ErrorKind.ERROR_CONFLICT, tooLate);
    if (s.rollingBack() && powerOff && !s.poweredOff()) {
      // Its Confirm (resume the guest) may be out already: a host answers a step once.
      return Outcome.refused(ErrorKind.ERROR_CONFLICT, "migration " + s.migrationId() + " is rolling back ("
          + s.error() + "): power the guest off once it ended");
    }
    if (s.rollingBack()) return Outcome.accepted(new Decision(u));
    MigrationState at = Switchover.current(s, u);
    Decision d = new Decision(u).persist(Events.cancelRequested(reason, powerOff), Events.rollback(at, "cancelled: "
        + reason, true, powerOff ? ErrorKind.ERROR_POWERED_OFF : ErrorKind.ERROR_NONE));
    d.log(Decision.Level.WARN, "cancelled in " + at.phase() + ": " + reason + (powerOff ? "; the guest is powered off"
        : ""));
    return Outcome.accepted(Phases.rollback(d, s, u));
  }

  /** Persisted first; then a running precopy takes the new limits from its next batch on. */
  static Outcome setParameters(MigrationState s, Unpersisted u, long maxBandwidth, long downtimeLimitMs) {
    if (maxBandwidth < 0 || downtimeLimitMs < 0) {
      return Outcome.refused(StartValidation.invalid("max_bandwidth_bytes_per_second",
          "and downtime_limit_ms must not be negative"));
    }
    if (maxBandwidth == 0 && downtimeLimitMs == 0) {
      return Outcome.refused(StartValidation.invalid("max_bandwidth_bytes_per_second",
          "and downtime_limit_ms are both 0; nothing to change"));
    }
    Phase at = Switchover.current(s, u).phase();
    if (!inPrecopy(s, at)) {
      return Outcome.refused(ErrorKind.ERROR_CONFLICT, "migration " + s.migrationId() + " is past precopy (" + at
          + "): its limits can no longer change");
    }
    var p = s.parameters().toBuilder();
    if (maxBandwidth > 0) p.setMaxBandwidthBytesPerSecond(maxBandwidth);
    if (downtimeLimitMs > 0) p.setDowntimeLimitMs(downtimeLimitMs);
    var changed = Events.parametersChanged(p.build());
    return Outcome.accepted(pushParameters(new Decision(u).persist(changed), s.apply(changed))
        .log(Decision.Level.INFO, "limits changed: max bandwidth " + p.getMaxBandwidthBytesPerSecond()
            + " B/s, downtime limit " + p.getDowntimeLimitMs() + " ms"));
  }

  /** Recorded as a parameter change (so a re-sent Perform carries it), then told to the source. */
  static Outcome startPostcopy(MigrationState s, Unpersisted u) {
    Phase at = Switchover.current(s, u).phase();
    if (s.postcopy().started()) {
      return Outcome.refused(ErrorKind.ERROR_CONFLICT, "migration " + s.migrationId() + " is already in postcopy");
    }
    if (!inPrecopy(s, at)) {
      return Outcome.refused(ErrorKind.ERROR_CONFLICT, "migration " + s.migrationId() + " is past precopy (" + at
          + "): too late to start postcopy");
    }
    if (s.parameters().getPostcopyNow()) return Outcome.accepted(new Decision(u));
    var changed = Events.parametersChanged(s.parameters().toBuilder().setPostcopyNow(true).build());
    return Outcome.accepted(pushParameters(new Decision(u).persist(changed), s.apply(changed))
        .log(Decision.Level.INFO, "postcopy requested; switching at the end of the current round"));
  }

  /** Only a paused postcopy recovers: persisted first, then the source opens a new channel. */
  static Outcome recover(MigrationState s, Unpersisted u, String dataHost, int dataPort) {
    if (dataPort < 0 || dataPort > 65535) {
      return Outcome.refused(StartValidation.invalid("data_port", "must be 0..65535, was " + dataPort));
    }
    if ((dataPort == 0) != dataHost.isBlank()) {
      return Outcome.refused(StartValidation.invalid("data_host",
          "and data_port: give both, or neither (the endpoint from Prepare)"));
    }
    // A recovery that seems stuck (POSTCOPY_RECOVER) may be asked again: the source answers with
    // its state as it is, or starts over if it is paused.
    if (s.status() != MigrationStatus.POSTCOPY_PAUSED && s.status() != MigrationStatus.POSTCOPY_RECOVER) {
      return Outcome.refused(ErrorKind.ERROR_CONFLICT, "migration " + s.migrationId() + " is " + s.status()
          + ": only a paused postcopy (POSTCOPY_PAUSED) can recover");
    }
    if (s.postcopy().sourceLost()) {
      return Outcome.refused(ErrorKind.ERROR_CONFLICT, "migration " + s.migrationId() + " cannot recover: source host "
          + s.sourceHost() + " left the cluster with the " + s.postcopy().pagesMissing() + " pages "
          + s.destinationHost() + " still lacks");
    }
    String host = dataHost.isBlank() ? s.prepare().getDataHost() : dataHost;
    int port = dataPort == 0 ? s.prepare().getDataPort() : dataPort;
    int attempt = s.postcopy().recoveries() + 1;
    return Outcome.accepted(new Decision(u).persist(Events.recoveryStarted(host, port, attempt))
        .log(Decision.Level.WARN, "postcopy recovery " + attempt + " over " + host + ":" + port)
        .then(new Decision.TellSource(HostCommand.newBuilder().setRecover(
            RecoverRequest.newBuilder().setDataHost(host).setDataPort(port).setAttempt(attempt)))));
  }

  private static boolean inPrecopy(MigrationState s, Phase at) {
    // Queued counts: the limits are journaled and Begin's successors carry them.
    if (s.queued()) return true;
    return !s.rollingBack() && s.resumeOwner() != ResumeOwner.DESTINATION
        && (at == Phase.BEGIN || at == Phase.PREPARE || at == Phase.PERFORM);
  }

  /** The source of a running precopy takes the new limits (a later Perform carries them anyway). */
  private static Decision pushParameters(Decision d, MigrationState s) {
    if (s.phase() != Phase.PERFORM) return d;
    return d.then(new Decision.TellSource(HostCommand.newBuilder().setSetParameters(SetParametersRequest.newBuilder()
        .setMaxBandwidthBytesPerSecond(s.parameters().getMaxBandwidthBytesPerSecond())
        .setDowntimeLimitMs(s.parameters().getDowntimeLimitMs())
        .setStartPostcopy(s.parameters().getPostcopyNow()))));
  }

  static Refusal unknown(String migrationId) {
    return Refusal.newBuilder().setKind(ErrorKind.ERROR_UNKNOWN_MIGRATION)
        .setMessage("unknown migration " + migrationId).build();
  }

  static Refusal ended(MigrationState s) {
    return Refusal.newBuilder().setKind(ErrorKind.ERROR_CONFLICT)
        .setMessage("migration " + s.migrationId() + " already ended: " + s.status()).build();
  }
}
