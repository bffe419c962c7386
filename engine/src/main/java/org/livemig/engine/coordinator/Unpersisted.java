package org.livemig.engine.coordinator;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.PerformResult;
import org.livemig.messages.PostcopyReport;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.RoundStats;

/**
 * Everything one coordinator incarnation knows that is not in its journal, in one place. A
 * takeover loses all of it, and that is safe because every decision that lets a host run the
 * guest is in the journal first, and a new incarnation assumes the worst about what its
 * predecessor may have sent:
 * <ul>
 *   <li>steps awaited: the new incarnation re-sends what the journal says is pending (hosts
 *       answer a repeat from their ledger, doing nothing twice);</li>
 *   <li>the switchover in flight: Perform's held answer is asked again (the source answers with
 *       its earlier result); an incarnation that replays the switchover marker without having
 *       written it treats the destination as possibly running (Ownership.mayHaveRun), so the
 *       permission its predecessor may have given is never forgotten;</li>
 *   <li>reachable hosts: looked up again;</li>
 *   <li>the progress sample, postcopy reports and the switchover estimate: shown or tuning only;
 *       the hosts report again.</li>
 * </ul>
 * The decisions change the switchover's fields; the coordinator records what it observes
 * (hosts found and lost, commands sent, timers fired) through the methods below.
 */
final class Unpersisted {
  /** Steps whose answer is awaited; each has a timer running in the coordinator. */
  final Set<Step> awaiting = EnumSet.noneOf(Step.class);
  /** Hosts whose agent this incarnation has found and watches. */
  final Set<String> reachable = new HashSet<>();
  /** This incarnation sent Activate, or a Finish that runs the destination on completion. */
  boolean runPermitted;

  /** Perform's answer, held until Finish answers (then persisted with the ownership decision). */
  PerformResult performed;
  /** Finish went out when the source reported its stun, before Perform's answer (no timer yet). */
  boolean finishAskedEarly;
  /** Finish's answer when it came before Perform's: acted on once Perform answers. */
  HostReply finishedEarly;
  /** This incarnation wrote the switchover marker, so it knows whether it let the destination run. */
  boolean markedHere;
  /** The source failed or left after the destination may have been told to run: Finish decides. */
  String sourceFailure;
  /** When a round was last written to the journal (System.nanoTime; 0 = never). */
  long lastRoundRecordedNanos;
  final SwitchoverEstimate estimate = new SwitchoverEstimate();

  /**
   * The destination's one-time data token from its Prepare answer. The journal keeps only its
   * hash, so a new incarnation in Perform asks Prepare again (the destination repeats its answer)
   * before it can send Perform to a source that may not have it. Kept across reset(): a replay
   * does not change the destination's endpoint.
   */
  String dataToken;

  /** Why the source's copy is not confirmed destroyed yet (shown; Confirm is asked again regardless). */
  String sourceUnconfirmed;
  /** A power off's rollback: the destination did not answer Discard; the end waits for the source's Confirm. */
  String discardUnanswered;

  /** The last progress sample from the source (shown, never decided on). */
  ProgressReport lastProgress;
  /**
   * The last round the source reported done, persisted or not (a round's report is written at
   * most once per interval, the last one travels in Perform's result): the status shows the
   * newest round it knows, never an older one.
   */
  RoundStats lastRoundDone;
  /** The hosts' last postcopy reports (the destination's count of missing pages is shown live). */
  PostcopyReport lastSourcePostcopy;
  PostcopyReport lastDestinationPostcopy;

  /**
   * Forgets everything but the hosts found (their agents are still known): at every replay, also
   * when this actor is restarted after a journal failure (its timers are gone then). A takeover's
   * new instance starts empty anyway.
   */
  void reset() {
    awaiting.clear();
    runPermitted = false;
    performed = null;
    finishAskedEarly = false;
    finishedEarly = null;
    markedHere = false;
    sourceFailure = null;
    lastRoundRecordedNanos = 0;
    sourceUnconfirmed = null;
    discardUnanswered = null;
    lastProgress = null;
    lastRoundDone = null;
    lastSourcePostcopy = null;
    lastDestinationPostcopy = null;
  }

  /** The coordinator sent this command: an Activate or a Finish that activates permits the run. */
  void sent(HostCommand command) {
    if (command.hasActivate() || (command.hasFinish() && command.getFinish().getActivateWhenComplete())) {
      runPermitted = true;
    }
  }

  void timerFired(Step step) {
    awaiting.remove(step);
  }

  void found(String host) {
    reachable.add(host);
  }

  void lost(String host) {
    reachable.remove(host);
  }
}
