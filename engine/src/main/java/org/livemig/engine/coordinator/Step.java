package org.livemig.engine.coordinator;

import org.livemig.messages.ActivateRequest;
import org.livemig.messages.BeginRequest;
import org.livemig.messages.ConfirmRequest;
import org.livemig.messages.DiscardRequest;
import org.livemig.messages.FinishRequest;
import org.livemig.messages.HostCommand;
import org.livemig.messages.PagesCompleteRequest;
import org.livemig.messages.Phase;
import org.livemig.messages.PerformRequest;
import org.livemig.messages.PrepareRequest;
import org.livemig.messages.ResumeOwner;

/**
 * The commands a coordinator sends, numbered: with the migration id and epoch the number
 * identifies a command, so a host can answer a repeat with its earlier answer.
 */
enum Step {
  BEGIN(1, true, Phase.BEGIN),
  PREPARE(2, false, Phase.PREPARE),
  PERFORM(3, true, Phase.PERFORM),
  FINISH(4, false, Phase.FINISH),
  ACTIVATE(5, false, Phase.FINISH),
  CONFIRM(6, true, Phase.CONFIRM),
  DISCARD(7, false, Phase.CONFIRM),
  /** Postcopy: answered by the destination once every page is present; never times out. */
  PAGES_COMPLETE(8, false, Phase.CONFIRM);

  final int number;
  final boolean onSource;
  final Phase phase;

  Step(int number, boolean onSource, Phase phase) {
    this.number = number;
    this.onSource = onSource;
    this.phase = phase;
  }

  static Step of(int number) {
    for (Step s : values()) if (s.number == number) return s;
    throw new IllegalArgumentException("unknown step " + number);
  }

  String host(MigrationState s) {
    return onSource ? s.sourceHost() : s.destinationHost();
  }

  /** The owner token the destination's guest gets when the destination takes it over. */
  static String destinationToken(MigrationState s) {
    return s.migrationId() + ":" + s.epoch() + ":destination";
  }

  /**
   * This step's command for the migration as the journal has it (so a re-send is the same
   * command), with the data token only this incarnation knows (Perform's cookie).
   */
  HostCommand command(MigrationState s, Unpersisted u) {
    HostCommand.Builder c = HostCommand.newBuilder().setMigrationId(s.migrationId()).setEpoch(s.epoch())
        .setStep(number);
    return switch (this) {
      case BEGIN -> c.setBegin(BeginRequest.newBuilder().setGuestId(s.guestId())).build();
      case PREPARE -> c.setPrepare(PrepareRequest.newBuilder().setBegin(s.begin()).setParameters(s.parameters())).build();
      case PERFORM -> c.setPerform(PerformRequest.newBuilder()
          .setPrepare(u.dataToken == null ? s.prepare() : s.prepare().toBuilder().setToken(u.dataToken).build())
          .setParameters(s.parameters())).build();
      // Once the switchover marker is in the journal, a complete destination runs without Activate.
      case FINISH -> c.setFinish(Ownership.marked(s) && !s.inPostcopy()
          ? FinishRequest.newBuilder().setActivateWhenComplete(true).setOwnerToken(destinationToken(s))
          : FinishRequest.newBuilder()).build();
      case ACTIVATE -> c.setActivate(ActivateRequest.newBuilder().setOwnerToken(s.ownerToken())).build();
      case CONFIRM -> c.setConfirm(ConfirmRequest.newBuilder()
          .setSuccess(s.resumeOwner() == ResumeOwner.DESTINATION).setReason(s.error())
          .setPowerOff(s.resumeOwner() != ResumeOwner.DESTINATION && s.poweredOff())).build();
      case DISCARD -> c.setDiscard(DiscardRequest.newBuilder().setReason(s.error())).build();
      case PAGES_COMPLETE -> c.setPagesComplete(PagesCompleteRequest.getDefaultInstance()).build();
    };
  }
}
