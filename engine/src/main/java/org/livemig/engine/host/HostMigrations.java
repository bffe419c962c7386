package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import java.util.HashMap;
import java.util.Map;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;

/**
 * What a host remembers of the migrations it takes part in: the epoch each follows (older ones
 * are refused), its answers (a repeated command gets the earlier answer, nothing runs twice),
 * who waits for which step, and where unprompted reports go. Plain code, used only from the
 * agent's actor; the answers are rebuilt from the host ledger after a restart.
 */
final class HostMigrations {
  /** One migration as this host knows it. */
  static final class Record {
    long epoch;
    ActorRef<SourceActor.Command> source;
    ActorRef<DestinationActor.Command> destination;
    final Map<Integer, HostReply> answered = new HashMap<>();
    /** Steps whose answer is in the ledger: only those are told (a restart must repeat them). */
    final java.util.Set<Integer> durable = new java.util.HashSet<>();
    final Map<Integer, ActorRef<HostAgent.Reply>> waiting = new HashMap<>();
    /** Commands held by the hold-phase hook: the newest asker's command for the step. */
    final Map<Integer, HostAgent.Control> held = new HashMap<>();
    boolean ended;
    /** The coordinator incarnation that spoke last: unprompted reports go there. */
    ActorRef<HostAgent.Reply> coordinator;
  }

  private final Map<String, Record> records = new HashMap<>();

  Record get(String migrationId) {
    return records.get(migrationId);
  }

  Record record(String migrationId) {
    return records.computeIfAbsent(migrationId, k -> new Record());
  }

  /** Rebuilds the records from the ledger's answers; returns how many migrations it remembered. */
  int restore(HostLedger.State state) {
    state.answered().forEach((id, answers) -> {
      Record rec = record(id);
      for (HostReply r : answers.values()) {
        rec.answered.put(r.getStep(), r);
        rec.durable.add(r.getStep());
        rec.epoch = Math.max(rec.epoch, r.getEpoch());
      }
      // A migration in flight when the host went down cannot go on here: its actors are gone.
      rec.ended = true;
    });
    return state.answered().size();
  }

  /** What to do with a phase command, decided from what this host remembers. */
  sealed interface Admission {}

  /** Refused (a malformed id, or an epoch older than the one followed): this answer, nothing else. */
  record Refuse(HostReply reply) implements Admission {}

  /** Executed before, its answer durable: answer again, do nothing twice. */
  record Repeat(HostReply reply) implements Admission {}

  /** Executed, its answer not yet in the ledger (a write may have failed): written again, told once it is. */
  record Rerecord(Record record, HostReply reply) implements Admission {}

  /** In progress: the newest asker is answered once done. */
  record InProgress(Record record) implements Admission {}

  /** Not a phase step (new limits, a recovery): applied each time, never cached. */
  record NotAStep(Record record) implements Admission {}

  /** New: execute it (the asker waits for its answer). */
  record Execute(Record record) implements Admission {}

  /**
   * Admits a command: its migration id must be valid and its epoch not older than the one the
   * host follows (which it then becomes, with the asker as the coordinator to report to).
   */
  Admission admit(HostCommand cmd, ActorRef<HostAgent.Reply> asker, String hostId) {
    String invalid = org.livemig.engine.common.Ids.problem("migration_id", cmd.getMigrationId());
    if (invalid != null) {
      // Never remembered: an id names this host's actors and ledger entries.
      return new Refuse(Replies.error(cmd, hostId, org.livemig.messages.ErrorKind.ERROR_INVALID_REQUEST, invalid));
    }
    long current = staleBy(cmd);
    if (current >= 0) return new Refuse(staleRefusal(cmd, hostId, current));
    Record rec = record(cmd.getMigrationId());
    rec.epoch = cmd.getEpoch();
    rec.coordinator = asker;
    if (cmd.hasSetParameters() || cmd.hasRecover() || cmd.hasSettled() || cmd.hasAbandoned()) return new NotAStep(rec);
    HostReply earlier = rec.answered.get(cmd.getStep());
    if (earlier != null && rec.durable.contains(cmd.getStep())) {
      return new Repeat(earlier.toBuilder().setEpoch(cmd.getEpoch()).build());
    }
    boolean running = rec.waiting.containsKey(cmd.getStep());
    rec.waiting.put(cmd.getStep(), asker);
    if (earlier != null) return new Rerecord(rec, inCurrentEpoch(rec, earlier));
    return running ? new InProgress(rec) : new Execute(rec);
  }

  static HostReply staleRefusal(HostCommand cmd, String hostId, long current) {
    return Replies.error(cmd, hostId, org.livemig.messages.ErrorKind.ERROR_CONFLICT,
        "stale epoch " + cmd.getEpoch() + " refused: host follows epoch " + current);
  }

  /** The epoch this host follows for the command's migration, if the command's is older (else -1). */
  long staleBy(HostCommand cmd) {
    Record rec = records.get(cmd.getMigrationId());
    return rec != null && cmd.getEpoch() < rec.epoch ? rec.epoch : -1;
  }

  /**
   * A role's answer, in the epoch the host follows now (a coordinator that took over while the
   * step ran must accept it). The first answer to a step is the one kept and repeated.
   */
  static HostReply inCurrentEpoch(Record rec, HostReply reply) {
    return reply.toBuilder().setEpoch(rec.epoch).build();
  }

  /** This host's role in the migration is over once it answers one of these. */
  static boolean endsRole(HostReply r) {
    return r.hasConfirm() || r.hasDiscard() || r.hasPagesComplete()
        || (r.hasActivate() && !r.getActivate().getPostcopy()) // postcopy: the destination still fetches pages
        || (r.hasFinish() && r.getFinish().hasActivated());
  }
}
