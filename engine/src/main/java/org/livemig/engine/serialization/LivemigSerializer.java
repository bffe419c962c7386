package org.livemig.engine.serialization;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.SerializerWithStringManifest;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.NotSerializableException;
import org.livemig.engine.coordinator.Admission;
import org.livemig.engine.coordinator.AdmissionControl;
import org.livemig.engine.coordinator.MigrationCoordinator;
import org.livemig.engine.coordinator.MigrationState;
import org.livemig.engine.coordinator.ProtectionCoordinator;
import org.livemig.engine.host.HostAgent;
import org.livemig.messages.CoordinatorEvent;
import org.livemig.messages.HostCommandEnvelope;
import org.livemig.messages.HostReply;
import org.livemig.messages.MigrationEvent;
import org.livemig.messages.MigrationSnapshot;
import org.livemig.messages.ProgressReport;
import org.livemig.messages.ReplyToEnvelope;
import org.livemig.messages.StartEnvelope;

/**
 * Protobuf for every livemig message that crosses a process, and for the journal: short
 * manifests (renaming a Java class never breaks a stored journal) and a fixed identifier.
 * ActorRefs travel as strings through ActorRefResolver.
 */
public final class LivemigSerializer extends SerializerWithStringManifest {
  private static final String CONTROL = "HC";
  private static final String HOST_REPLY = "HR";
  private static final String PROGRESS = "PR";
  private static final String START = "ST";
  private static final String STATUS = "GS";
  private static final String CANCEL = "CA";
  private static final String EVENT = "EV";
  private static final String SNAPSHOT = "SN";
  private static final String LEDGER_EVENT = "LE";
  private static final String LEDGER_SNAPSHOT = "LS";
  private static final String MIGRATION_EVENT = "ME";
  private static final String SET_PARAMETERS = "SP";
  private static final String DESCRIBE_HOST = "DH";
  private static final String START_POSTCOPY = "SPC";
  private static final String RECOVER = "RC";
  private static final String POSTCOPY_REPORT = "PCR";
  private static final String VERIFY_GUEST = "VG";
  private static final String LEASE_PING = "LPI";
  private static final String LEASE_PONG = "LPO";
  private static final String ADMISSION_REQUEST = "AQ";
  private static final String ADMISSION_RELEASE = "AR";
  private static final String ADMISSION_ANSWER = "AA";
  private static final String ADMISSION_EVENT = "AE";
  private static final String ADMISSION_SNAPSHOT = "AS";
  private static final String GUEST_COMMAND = "GC";
  private static final String PROTECTION_CONTROL = "PCC";
  private static final String PROTECT = "PG";
  private static final String PROTECTION_OP = "PO";
  private static final String PROTECTION_EVENT = "PE";

  private final ActorRefResolver resolver;

  public LivemigSerializer(ExtendedActorSystem system) {
    this.resolver = ActorRefResolver.get(Adapter.toTyped(system));
  }

  @Override
  public int identifier() {
    return 7411;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof HostAgent.Control) return CONTROL;
    if (o instanceof HostAgent.Answered) return HOST_REPLY;
    if (o instanceof HostAgent.ProgressReported) return PROGRESS;
    if (o instanceof MigrationCoordinator.Start) return START;
    if (o instanceof MigrationCoordinator.GetStatus) return STATUS;
    if (o instanceof MigrationCoordinator.Cancel) return CANCEL;
    if (o instanceof CoordinatorEvent) return EVENT;
    if (o instanceof MigrationState) return SNAPSHOT;
    if (o instanceof org.livemig.messages.HostLedgerEvent) return LEDGER_EVENT;
    if (o instanceof org.livemig.engine.host.HostLedger.State) return LEDGER_SNAPSHOT;
    if (o instanceof MigrationEvent) return MIGRATION_EVENT;
    if (o instanceof MigrationCoordinator.SetParameters) return SET_PARAMETERS;
    if (o instanceof HostAgent.DescribeHost) return DESCRIBE_HOST;
    if (o instanceof MigrationCoordinator.StartPostcopy) return START_POSTCOPY;
    if (o instanceof MigrationCoordinator.Recover) return RECOVER;
    if (o instanceof HostAgent.PostcopyReported) return POSTCOPY_REPORT;
    if (o instanceof HostAgent.VerifyGuest) return VERIFY_GUEST;
    if (o instanceof org.livemig.engine.host.HostLease.Ping) return LEASE_PING;
    if (o instanceof org.livemig.engine.host.HostLease.Pong) return LEASE_PONG;
    if (o instanceof AdmissionControl.Request) return ADMISSION_REQUEST;
    if (o instanceof AdmissionControl.Release) return ADMISSION_RELEASE;
    if (o instanceof AdmissionControl.Answer) return ADMISSION_ANSWER;
    if (o instanceof org.livemig.messages.AdmissionEvent) return ADMISSION_EVENT;
    if (o instanceof Admission.State) return ADMISSION_SNAPSHOT;
    if (o instanceof HostAgent.GuestCommand) return GUEST_COMMAND;
    if (o instanceof HostAgent.ProtectionControl) return PROTECTION_CONTROL;
    if (o instanceof ProtectionCoordinator.Protect) return PROTECT;
    if (o instanceof ProtectionCoordinator.Op) return PROTECTION_OP;
    if (o instanceof org.livemig.messages.ProtectionEvent) return PROTECTION_EVENT;
    throw new IllegalArgumentException("livemig serializer cannot serialize " + o.getClass().getName());
  }

  @Override
  public byte[] toBinary(Object o) {
    if (o instanceof HostAgent.Control c) {
      return HostCommandEnvelope.newBuilder().setCommand(c.command()).setReplyTo(ref(c.replyTo())).build().toByteArray();
    }
    if (o instanceof HostAgent.Answered r) return r.reply().toByteArray();
    if (o instanceof HostAgent.ProgressReported p) return p.report().toByteArray();
    if (o instanceof MigrationCoordinator.Start s) {
      return StartEnvelope.newBuilder().setRequest(s.request()).setReplyTo(ref(s.replyTo())).build().toByteArray();
    }
    if (o instanceof MigrationCoordinator.GetStatus g) {
      return ReplyToEnvelope.newBuilder().setReplyTo(ref(g.replyTo())).build().toByteArray();
    }
    if (o instanceof MigrationCoordinator.Cancel c) {
      return ReplyToEnvelope.newBuilder().setReplyTo(ref(c.replyTo())).setReason(c.reason()).setPowerOff(c.powerOff()).build().toByteArray();
    }
    if (o instanceof CoordinatorEvent e) return e.toByteArray();
    if (o instanceof MigrationState s) return Snapshots.toProto(s).toByteArray();
    if (o instanceof org.livemig.messages.HostLedgerEvent e) return e.toByteArray();
    if (o instanceof org.livemig.engine.host.HostLedger.State s) {
      var b = org.livemig.messages.HostLedgerSnapshot.newBuilder().addAllOwned(s.owned().values())
          .addAllDiskFiles(s.createdFiles().values());
      s.answered().values().forEach(m -> b.addAllAnswered(m.values()));
      return b.build().toByteArray();
    }
    if (o instanceof MigrationEvent e) return e.toByteArray();
    if (o instanceof HostAgent.DescribeHost d) {
      return ReplyToEnvelope.newBuilder().setReplyTo(ref(d.replyTo())).build().toByteArray();
    }
    if (o instanceof MigrationCoordinator.SetParameters p) {
      return org.livemig.messages.SetParametersEnvelope.newBuilder()
          .setMaxBandwidthBytesPerSecond(p.maxBandwidthBytesPerSecond()).setDowntimeLimitMs(p.downtimeLimitMs())
          .setReplyTo(ref(p.replyTo())).build().toByteArray();
    }
    if (o instanceof MigrationCoordinator.StartPostcopy p) {
      return ReplyToEnvelope.newBuilder().setReplyTo(ref(p.replyTo())).build().toByteArray();
    }
    if (o instanceof MigrationCoordinator.Recover r) {
      return org.livemig.messages.RecoverEnvelope.newBuilder().setDataHost(r.dataHost()).setDataPort(r.dataPort())
          .setReplyTo(ref(r.replyTo())).build().toByteArray();
    }
    if (o instanceof HostAgent.PostcopyReported p) return p.report().toByteArray();
    if (o instanceof HostAgent.VerifyGuest v) {
      return org.livemig.messages.VerifyGuestEnvelope.newBuilder().setGuestId(v.guestId()).setReplyTo(ref(v.replyTo()))
          .build().toByteArray();
    }
    if (o instanceof org.livemig.engine.host.HostLease.Ping p) {
      return org.livemig.messages.LeasePingEnvelope.newBuilder().setReplyTo(ref(p.replyTo())).setSentNanos(p.sentNanos())
          .build().toByteArray();
    }
    if (o instanceof org.livemig.engine.host.HostLease.Pong p) {
      return org.livemig.messages.LeasePongEnvelope.newBuilder().setSentNanos(p.sentNanos()).setAddress(p.address())
          .build().toByteArray();
    }
    if (o instanceof AdmissionControl.Request r) {
      return org.livemig.messages.AdmissionRequestEnvelope.newBuilder().setMigrationId(r.migrationId())
          .setSourceHost(r.sourceHost()).setDestinationHost(r.destinationHost()).setReplyTo(ref(r.replyTo()))
          .build().toByteArray();
    }
    if (o instanceof AdmissionControl.Release r) {
      return org.livemig.messages.AdmissionReleaseEnvelope.newBuilder().setMigrationId(r.migrationId())
          .setReplyTo(ref(r.replyTo())).build().toByteArray();
    }
    if (o instanceof AdmissionControl.Answer a) {
      return org.livemig.messages.AdmissionAnswer.newBuilder().setMigrationId(a.migrationId())
          .setKindValue(a.kind().ordinal() + 1).setPosition(a.position()).build().toByteArray();
    }
    if (o instanceof org.livemig.messages.AdmissionEvent e) return e.toByteArray();
    if (o instanceof Admission.State s) return s.toProto().toByteArray();
    if (o instanceof HostAgent.GuestCommand g) {
      return org.livemig.messages.GuestCommandEnvelope.newBuilder().setRequest(g.request()).setReplyTo(ref(g.replyTo()))
          .build().toByteArray();
    }
    if (o instanceof HostAgent.ProtectionControl c) {
      return org.livemig.messages.ProtectionCommandEnvelope.newBuilder().setCommand(c.command())
          .setReplyTo(ref(c.replyTo())).build().toByteArray();
    }
    if (o instanceof ProtectionCoordinator.Protect p) {
      return org.livemig.messages.ProtectEnvelope.newBuilder().setRequest(p.request()).setReplyTo(ref(p.replyTo()))
          .build().toByteArray();
    }
    if (o instanceof ProtectionCoordinator.Op op) {
      return org.livemig.messages.ProtectionOpEnvelope.newBuilder().setOpValue(op.kind().ordinal() + 1)
          .setReason(op.reason()).setReplyTo(ref(op.replyTo())).build().toByteArray();
    }
    if (o instanceof org.livemig.messages.ProtectionEvent e) return e.toByteArray();
    if (o instanceof HostAgent.ProtectionControl c) {
      return org.livemig.messages.ProtectionCommandEnvelope.newBuilder().setCommand(c.command())
          .setReplyTo(ref(c.replyTo())).build().toByteArray();
    }
    if (o instanceof ProtectionCoordinator.Protect p) {
      return org.livemig.messages.ProtectEnvelope.newBuilder().setRequest(p.request()).setReplyTo(ref(p.replyTo()))
          .build().toByteArray();
    }
    if (o instanceof ProtectionCoordinator.Op op) {
      return org.livemig.messages.ProtectionOpEnvelope.newBuilder().setOpValue(op.kind().ordinal() + 1)
          .setReason(op.reason()).setReplyTo(ref(op.replyTo())).build().toByteArray();
    }
    if (o instanceof org.livemig.messages.ProtectionEvent e) return e.toByteArray();
    throw new IllegalArgumentException("livemig serializer cannot serialize " + o.getClass().getName());
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    try {
      switch (manifest) {
        case CONTROL -> {
          HostCommandEnvelope e = HostCommandEnvelope.parseFrom(bytes);
          return new HostAgent.Control(e.getCommand(), resolve(e.getReplyTo()));
        }
        case HOST_REPLY -> {
          return new HostAgent.Answered(HostReply.parseFrom(bytes));
        }
        case PROGRESS -> {
          return new HostAgent.ProgressReported(ProgressReport.parseFrom(bytes));
        }
        case START -> {
          StartEnvelope e = StartEnvelope.parseFrom(bytes);
          return new MigrationCoordinator.Start(e.getRequest(), resolve(e.getReplyTo()));
        }
        case STATUS -> {
          return new MigrationCoordinator.GetStatus(resolve(ReplyToEnvelope.parseFrom(bytes).getReplyTo()));
        }
        case CANCEL -> {
          ReplyToEnvelope e = ReplyToEnvelope.parseFrom(bytes);
          return new MigrationCoordinator.Cancel(e.getReason(), e.getPowerOff(), resolve(e.getReplyTo()));
        }
        case EVENT -> {
          return CoordinatorEvent.parseFrom(bytes);
        }
        case SNAPSHOT -> {
          try {
            return Snapshots.fromProto(MigrationSnapshot.parseFrom(bytes));
          } catch (IllegalArgumentException e) {
            throw new NotSerializableException("unusable migration snapshot: " + e.getMessage());
          }
        }
        case LEDGER_EVENT -> {
          return org.livemig.messages.HostLedgerEvent.parseFrom(bytes);
        }
        case LEDGER_SNAPSHOT -> {
          var p = org.livemig.messages.HostLedgerSnapshot.parseFrom(bytes);
          var s = org.livemig.engine.host.HostLedger.State.empty();
          for (var r : p.getAnsweredList()) s.answered().computeIfAbsent(r.getMigrationId(),
              k -> new java.util.LinkedHashMap<>()).put(r.getStep(), r);
          for (var g : p.getOwnedList()) s.owned().put(g.getGuestId(), g);
          for (var f : p.getDiskFilesList()) s.createdFiles().put(f.getMigrationId(), f);
          return s;
        }
        case MIGRATION_EVENT -> {
          return MigrationEvent.parseFrom(bytes);
        }
        case DESCRIBE_HOST -> {
          return new HostAgent.DescribeHost(resolve(ReplyToEnvelope.parseFrom(bytes).getReplyTo()));
        }
        case SET_PARAMETERS -> {
          var e = org.livemig.messages.SetParametersEnvelope.parseFrom(bytes);
          return new MigrationCoordinator.SetParameters(e.getMaxBandwidthBytesPerSecond(), e.getDowntimeLimitMs(),
              resolve(e.getReplyTo()));
        }
        case START_POSTCOPY -> {
          return new MigrationCoordinator.StartPostcopy(resolve(ReplyToEnvelope.parseFrom(bytes).getReplyTo()));
        }
        case RECOVER -> {
          var e = org.livemig.messages.RecoverEnvelope.parseFrom(bytes);
          return new MigrationCoordinator.Recover(e.getDataHost(), e.getDataPort(), resolve(e.getReplyTo()));
        }
        case POSTCOPY_REPORT -> {
          return new HostAgent.PostcopyReported(org.livemig.messages.PostcopyReport.parseFrom(bytes));
        }
        case VERIFY_GUEST -> {
          var e = org.livemig.messages.VerifyGuestEnvelope.parseFrom(bytes);
          return new HostAgent.VerifyGuest(e.getGuestId(), resolve(e.getReplyTo()));
        }
        case LEASE_PING -> {
          var e = org.livemig.messages.LeasePingEnvelope.parseFrom(bytes);
          return new org.livemig.engine.host.HostLease.Ping(resolve(e.getReplyTo()), e.getSentNanos());
        }
        case LEASE_PONG -> {
          var e = org.livemig.messages.LeasePongEnvelope.parseFrom(bytes);
          return new org.livemig.engine.host.HostLease.Pong(e.getSentNanos(), e.getAddress());
        }
        case ADMISSION_REQUEST -> {
          var e = org.livemig.messages.AdmissionRequestEnvelope.parseFrom(bytes);
          return new AdmissionControl.Request(e.getMigrationId(), e.getSourceHost(), e.getDestinationHost(),
              resolve(e.getReplyTo()));
        }
        case ADMISSION_RELEASE -> {
          var e = org.livemig.messages.AdmissionReleaseEnvelope.parseFrom(bytes);
          return new AdmissionControl.Release(e.getMigrationId(), resolve(e.getReplyTo()));
        }
        case ADMISSION_ANSWER -> {
          var a = org.livemig.messages.AdmissionAnswer.parseFrom(bytes);
          int kind = a.getKindValue() - 1;
          if (kind < 0 || kind >= AdmissionControl.Kind.values().length) {
            throw new NotSerializableException("admission answer of unknown kind " + a.getKindValue());
          }
          return new AdmissionControl.Answer(a.getMigrationId(), AdmissionControl.Kind.values()[kind], a.getPosition());
        }
        case ADMISSION_EVENT -> {
          return org.livemig.messages.AdmissionEvent.parseFrom(bytes);
        }
        case ADMISSION_SNAPSHOT -> {
          return Admission.State.fromProto(org.livemig.messages.AdmissionSnapshot.parseFrom(bytes));
        }
        case GUEST_COMMAND -> {
          var e = org.livemig.messages.GuestCommandEnvelope.parseFrom(bytes);
          return new HostAgent.GuestCommand(e.getRequest(), resolve(e.getReplyTo()));
        }
        case PROTECTION_CONTROL -> {
          var e = org.livemig.messages.ProtectionCommandEnvelope.parseFrom(bytes);
          return new HostAgent.ProtectionControl(e.getCommand(), resolve(e.getReplyTo()));
        }
        case PROTECT -> {
          var e = org.livemig.messages.ProtectEnvelope.parseFrom(bytes);
          return new ProtectionCoordinator.Protect(e.getRequest(), resolve(e.getReplyTo()));
        }
        case PROTECTION_OP -> {
          var e = org.livemig.messages.ProtectionOpEnvelope.parseFrom(bytes);
          int kind = e.getOpValue() - 1;
          if (kind < 0 || kind >= ProtectionCoordinator.OpKind.values().length) {
            throw new NotSerializableException("protection operation of unknown kind " + e.getOpValue());
          }
          return new ProtectionCoordinator.Op(ProtectionCoordinator.OpKind.values()[kind], e.getReason(),
              resolve(e.getReplyTo()));
        }
        case PROTECTION_EVENT -> {
          return org.livemig.messages.ProtectionEvent.parseFrom(bytes);
        }
        default -> throw new NotSerializableException("unknown livemig manifest '" + manifest + "'");
      }
    } catch (InvalidProtocolBufferException e) {
      throw new NotSerializableException("malformed livemig message (manifest " + manifest + "): " + e.getMessage());
    }
  }

  private String ref(ActorRef<?> ref) {
    return resolver.toSerializationFormat(ref);
  }

  private <T> ActorRef<T> resolve(String s) {
    return resolver.resolveActorRef(s);
  }
}
