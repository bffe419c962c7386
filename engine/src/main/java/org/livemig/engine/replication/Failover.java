package org.livemig.engine.replication;

import org.livemig.engine.dataplane.AppliedCheckpoint;
import org.livemig.engine.dataplane.CheckpointReceiver;
import org.livemig.engine.guest.GuestOutput;
import org.livemig.engine.guest.MigratableGuest;

/**
 * The secondary's half of a failover, once the decision is made (and, later, persisted and
 * fenced by the coordinator): stop receiving, and run the guest from its last whole checkpoint,
 * its output numbering continuing after that checkpoint's outputs_upto.
 */
public final class Failover {
  private Failover() {}

  /**
   * Takes the secondary over and runs its guest under ownerToken; returns the checkpoint it
   * resumed from.
   *
   * @param output the secondary guest's external output (its numbering continues), or null
   * @throws IllegalStateException if no whole checkpoint was applied: there is nothing to resume
   */
  public static AppliedCheckpoint resume(CheckpointReceiver receiver, MigratableGuest guest, GuestOutput output, String ownerToken) {
    AppliedCheckpoint from = receiver.takeOver();
    if (from == null) throw new IllegalStateException("no whole checkpoint reached the secondary: nothing to fail over to");
    if (guest.steps() != from.steps()) {
      throw new IllegalStateException("the secondary guest is at step " + guest.steps() + ", its last checkpoint at " + from.steps());
    }
    // The checkpoints wrote its disk blocks without forcing them (the copy was memory anyway):
    // before the guest runs and acknowledges writes of its own, every block it holds is durable.
    for (var d : guest.description().getDisksList()) {
      try {
        guest.disk(d.getDiskId()).file().force();
      } catch (java.io.IOException e) {
        throw new IllegalStateException("disk " + d.getDiskId() + " of the copy could not be made durable: " + e.getMessage(), e);
      }
    }
    if (output != null) output.continueAfter(from.outputsUpto());
    guest.assignOwner(ownerToken);
    guest.run(ownerToken);
    return from;
  }
}
