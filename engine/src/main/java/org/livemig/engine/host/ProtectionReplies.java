package org.livemig.engine.host;

import org.livemig.messages.ErrorKind;
import org.livemig.messages.ProtectionCommand;
import org.livemig.messages.ProtectionHostReply;
import org.livemig.messages.ProtectionRole;

/** A host's answers and reports to a protection's coordinator. */
final class ProtectionReplies {
  private final String hostId;
  private final String nodeAddress;

  /** nodeAddress: this host's cluster address, by which its coordinator tells its loss (see HostLocated). */
  ProtectionReplies(String hostId, String nodeAddress) {
    this.hostId = hostId;
    this.nodeAddress = nodeAddress;
  }

  /** An unprompted report of a role (answered = false). */
  ProtectionHostReply.Builder unprompted(String guestId, long generation, long epoch, ProtectionRole role) {
    return ProtectionHostReply.newBuilder().setGuestId(guestId).setGeneration(generation).setEpoch(epoch).setRole(role)
        .setHost(hostId).setNodeAddress(nodeAddress).setOk(true);
  }

  ProtectionHostReply.Builder ok(ProtectionCommand c, ProtectionRole role) {
    return unprompted(c.getGuestId(), c.getGeneration(), c.getEpoch(), role).setAnswered(true);
  }

  ProtectionHostReply error(ProtectionCommand c, ProtectionRole role, ErrorKind kind, String why) {
    return unprompted(c.getGuestId(), c.getGeneration(), c.getEpoch(), role).setAnswered(true).setOk(false)
        .setErrorKind(kind).setError(why).build();
  }
}
