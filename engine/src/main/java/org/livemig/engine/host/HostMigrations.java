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
