package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.livemig.messages.HostReply;

/**
 * Cleanup of each migration on this host: entered at most once, its end told to everyone who
 * asked for it, counted (it must run exactly once), and the answer a rollback without a role
 * gives once it is done. Plain code, used only from the agent's actor.
 */
final class CleanupRuns {
  private final Map<String, ActorRef<CleanupActor.Command>> entered = new HashMap<>();
  private final Map<String, List<ActorRef<CleanupActor.Finished>>> waiters = new HashMap<>();
  private final Map<String, Integer> runs = new HashMap<>();
  private final Map<String, CleanupActor.Finished> done = new HashMap<>();
  private final Map<String, HostReply> answersWhenDone = new HashMap<>();

  CleanupActor.Finished done(String migrationId) {
    return done.get(migrationId);
  }

  boolean entered(String migrationId) {
    return entered.containsKey(migrationId);
  }

  void enter(String migrationId, ActorRef<CleanupActor.Command> cleanup) {
    entered.put(migrationId, cleanup);
  }

  void await(String migrationId, ActorRef<CleanupActor.Finished> waiter) {
    if (waiter != null) waiters.computeIfAbsent(migrationId, k -> new ArrayList<>()).add(waiter);
  }

  /** The answer to give once the migration's cleanup is done. */
  void answerWhenDone(String migrationId, HostReply answer) {
    answersWhenDone.put(migrationId, answer);
  }

  /** The answer waiting for this cleanup, if any (given once). */
  HostReply takeAnswer(String migrationId) {
    return answersWhenDone.remove(migrationId);
  }

  /** The cleanup ended: counted, remembered; returns who waited for it. */
  List<ActorRef<CleanupActor.Finished>> finished(CleanupActor.Finished f) {
    runs.merge(f.migrationId(), 1, Integer::sum);
    done.put(f.migrationId(), f);
    List<ActorRef<CleanupActor.Finished>> w = waiters.remove(f.migrationId());
    return w == null ? List.of() : w;
  }

  Map<String, Integer> runs() {
    return Map.copyOf(runs);
  }
}
