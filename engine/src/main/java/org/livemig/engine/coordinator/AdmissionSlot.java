package org.livemig.engine.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;

/**
 * A coordinator's side of admission control: asks for a slot while its migration is QUEUED
 * and gives it back once the migration ended, each re-sent until answered (admission control
 * may be moving to another node; both are idempotent there). Off outside a cluster (tests that
 * run a coordinator alone), where migrations start at once as before admission control.
 */
final class AdmissionSlot {
  private static final String REQUEST_TIMER = "admission-request";
  private static final String RELEASE_TIMER = "admission-release";

  private final ActorContext<MigrationCoordinator.Command> ctx;
  private final TimerScheduler<MigrationCoordinator.Command> timers;
  private final String migrationId;
  private final boolean enabled;
  private final Duration retry;
  private final ActorRef<AdmissionControl.Answer> answers;
  private ActorRef<AdmissionControl.Command> admission;
  /** Start callers waiting for admission control's first answer (queued or granted). */
  private final java.util.List<ActorRef<org.livemig.messages.CommandReply>> starts = new java.util.ArrayList<>();
  private boolean releasing;
  private boolean released;

  AdmissionSlot(ActorContext<MigrationCoordinator.Command> ctx, TimerScheduler<MigrationCoordinator.Command> timers,
      String migrationId) {
    this.ctx = ctx;
    this.timers = timers;
    this.migrationId = migrationId;
    var config = ctx.getSystem().settings().config();
    this.enabled = config.getString("akka.actor.provider").equals("cluster");
    this.retry = config.getDuration("livemig.admission.retry");
    this.answers = ctx.messageAdapter(AdmissionControl.Answer.class, MigrationCoordinator.FromAdmission::new);
  }

  /** Whether a new migration waits for a slot (QUEUED) before Begin. */
  boolean enabled() {
    return enabled;
  }

  /** Asks for a slot, again every retry until granted (the answer to a repeat is the current state). */
  void request(MigrationState s) {
    if (!enabled) return;
    proxy().tell(new AdmissionControl.Request(migrationId, s.sourceHost(), s.destinationHost(), answers));
    timers.startSingleTimer(REQUEST_TIMER, MigrationCoordinator.AdmissionRetry.INSTANCE, retry);
  }

  /**
   * A new migration's Start is answered once admission control said queued or granted (at most
   * one retry later), so a caller sees QUEUED only for a migration that really waits.
   */
  void answerStartLater(ActorRef<org.livemig.messages.CommandReply> replyTo) {
    starts.add(replyTo);
  }

  void answerStarts(org.livemig.messages.MigrationInfo info) {
    var reply = org.livemig.messages.CommandReply.newBuilder().setInfo(info).build();
    starts.forEach(r -> r.tell(reply));
    starts.clear();
  }

  void granted() {
    timers.cancel(REQUEST_TIMER);
  }

  /** The migration ended: its slot (or place in the queue) goes back, re-sent until acknowledged. */
  void release() {
    if (!enabled || released || releasing) return;
    timers.cancel(REQUEST_TIMER);
    releasing = true;
    sendRelease();
  }

  /** Re-sends the release if it is still unacknowledged. */
  void releaseAgain() {
    if (releasing) sendRelease();
  }

  private void sendRelease() {
    proxy().tell(new AdmissionControl.Release(migrationId, answers));
    timers.startSingleTimer(RELEASE_TIMER, MigrationCoordinator.AdmissionRetry.INSTANCE, retry);
  }

  void released() {
    released = true;
    releasing = false;
    timers.cancel(RELEASE_TIMER);
  }

  /** A release not yet acknowledged: the coordinator stays until it is. */
  boolean releasing() {
    return releasing;
  }

  private ActorRef<AdmissionControl.Command> proxy() {
    if (admission == null) admission = AdmissionControl.init(ctx.getSystem());
    return admission;
  }
}
