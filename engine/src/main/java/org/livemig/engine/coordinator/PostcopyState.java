package org.livemig.engine.coordinator;

import org.livemig.messages.PagesCompleteResult;

/**
 * The coordinator's record of a migration's postcopy, rebuilt from the journal.
 *
 * @param started the destination owns and runs the guest with pages missing
 * @param recoveries recoveries started so far (the attempt number of the last one)
 * @param complete the destination has every page: the source may be destroyed
 * @param pagesMissing pages the destination lacked at the last persisted report
 * @param pausedReason why postcopy paused, while it is paused
 * @param result the destination's figures once every page arrived, else null
 * @param sourceLost the source's host left the cluster: the missing pages are gone, no recovery can run
 */
public record PostcopyState(boolean started, int recoveries, boolean complete, long pagesMissing, String pausedReason,
    PagesCompleteResult result, boolean sourceLost) {
  public static final PostcopyState NONE = new PostcopyState(false, 0, false, 0, "", null, false);

  PostcopyState begun(long missing) {
    return new PostcopyState(true, recoveries, false, missing, "", null, false);
  }

  PostcopyState paused(String reason, long missing, boolean lost) {
    return new PostcopyState(started, recoveries, complete, missing, reason, result, sourceLost || lost);
  }

  PostcopyState recovering(int attempt) {
    return new PostcopyState(started, Math.max(recoveries, attempt), complete, pagesMissing, pausedReason, result,
        sourceLost);
  }

  PostcopyState resumed() {
    return new PostcopyState(started, recoveries, complete, pagesMissing, "", result, sourceLost);
  }

  PostcopyState completed(PagesCompleteResult r) {
    return new PostcopyState(started, recoveries, true, 0, "", r, sourceLost);
  }
}
