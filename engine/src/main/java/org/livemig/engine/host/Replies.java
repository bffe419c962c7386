package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;

/** Builds host replies that echo the command's (migration id, epoch, step). */
final class Replies {
  private Replies() {}

  static HostReply.Builder ok(HostCommand cmd, String host) {
    return HostReply.newBuilder()
        .setMigrationId(cmd.getMigrationId())
        .setEpoch(cmd.getEpoch())
        .setStep(cmd.getStep())
        .setHost(host)
        .setOk(true);
  }

  /** A refusal for no more specific reason (the message says why). */
  static HostReply error(HostCommand cmd, String host, String error) {
    return error(cmd, host, ErrorKind.ERROR_REFUSED, error);
  }

  static HostReply error(HostCommand cmd, String host, ErrorKind kind, String error) {
    return HostReply.newBuilder()
        .setMigrationId(cmd.getMigrationId())
        .setEpoch(cmd.getEpoch())
        .setStep(cmd.getStep())
        .setHost(host)
        .setOk(false)
        .setError(error)
        .setErrorKind(kind)
        .build();
  }

  /** A command a role cannot take in its state: logged and answered with an error; the role goes on. */
  static void unexpected(org.slf4j.Logger log, ActorRef<HostReply> replies, HostCommand cmd, String host, String role) {
    log.warn("{}: {} not expected on the {} now", cmd.getMigrationId(), cmd.getCommandCase(), role);
    replies.tell(error(cmd, host, cmd.getCommandCase() + " not expected by the " + role + " now"));
  }
}
