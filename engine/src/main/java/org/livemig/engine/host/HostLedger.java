package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.engine.security.DataToken;
import org.livemig.messages.DiskFilesCreated;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostLedgerEvent;
import org.livemig.messages.HostReply;

/**
 * What a host must remember across its own restart: every phase answer it gave (to repeat it,
 * and to know the epoch it follows per migration) and the guests it owns. Guests live in the
 * host's memory, so a restarted host has lost them; the ledger lets it say so instead of
 * claiming it never had them.
 */
public final class HostLedger extends EventSourcedBehavior<HostLedger.Command, HostLedgerEvent, HostLedger.State> {

  public interface Command {}

  public record Record(HostLedgerEvent event) implements Command {}

  /** Records an answer and says so once it is durable (the host answers only then). */
  public record RecordAnswer(HostReply reply, ActorRef<Recorded> recorded) implements Command {}

  /** The answer is durable. */
  public record Recorded(HostReply reply) {}

  public record Load(ActorRef<State> replyTo) implements Command {}

  /**
   * Answers by migration id then step; owned guests by id; the disk files created as a migration's
   * destination whose fate a restart must still settle (LeftoverDiskFiles), by migration id.
   */
  public record State(Map<String, Map<Integer, HostReply>> answered, Map<String, GuestDescription> owned,
      Map<String, DiskFilesCreated> createdFiles) implements LivemigMessage {
    public static State empty() {
      return new State(new LinkedHashMap<>(), new LinkedHashMap<>(), new LinkedHashMap<>());
    }

    State apply(HostLedgerEvent e) {
      // Mutated in place: the state never leaves this actor except as a copy (see Load).
      switch (e.getEventCase()) {
        case ANSWERED -> answered.computeIfAbsent(e.getAnswered().getMigrationId(), k -> new LinkedHashMap<>())
            .put(e.getAnswered().getStep(), e.getAnswered());
        case GUEST_OWNED -> owned.put(e.getGuestOwned().getGuestId(), e.getGuestOwned());
        case GUEST_RELEASED -> owned.remove(e.getGuestReleased());
        case DISK_FILES_CREATED -> createdFiles.put(e.getDiskFilesCreated().getMigrationId(), e.getDiskFilesCreated());
        case DISK_FILES_SETTLED -> createdFiles.remove(e.getDiskFilesSettled());
        case EVENT_NOT_SET -> { }
      }
      return this;
    }

    State copy() {
      Map<String, Map<Integer, HostReply>> a = new LinkedHashMap<>();
      answered.forEach((k, v) -> a.put(k, new LinkedHashMap<>(v)));
      return new State(a, new LinkedHashMap<>(owned), new LinkedHashMap<>(createdFiles));
    }
  }

  /** The answer as written: Prepare's data token only as its hash (a restarted host has no endpoint for it anyway). */
  static HostLedgerEvent answered(HostReply r) {
    return HostLedgerEvent.newBuilder().setSchemaVersion(1).setAnswered(DataToken.persistable(r)).build();
  }

  static HostLedgerEvent owned(GuestDescription d) {
    return HostLedgerEvent.newBuilder().setSchemaVersion(1).setGuestOwned(d).build();
  }

  static HostLedgerEvent released(String guestId) {
    return HostLedgerEvent.newBuilder().setSchemaVersion(1).setGuestReleased(guestId).build();
  }

  static HostLedgerEvent filesCreated(DiskFilesCreated files) {
    return HostLedgerEvent.newBuilder().setSchemaVersion(1).setDiskFilesCreated(files).build();
  }

  static HostLedgerEvent filesSettled(String migrationId) {
    return HostLedgerEvent.newBuilder().setSchemaVersion(1).setDiskFilesSettled(migrationId).build();
  }

  public static Behavior<Command> create(String hostId) {
    return new HostLedger(hostId);
  }

  private HostLedger(String hostId) {
    super(PersistenceId.of("Host", hostId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  @Override
  public State emptyState() {
    return State.empty();
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(200, 2);
  }

  @Override
  public CommandHandler<Command, HostLedgerEvent, State> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(Record.class, (s, c) -> Effect().persist(c.event()))
        .onCommand(RecordAnswer.class, (s, c) -> Effect().persist(answered(c.reply()))
            .thenRun(st -> c.recorded().tell(new Recorded(c.reply()))))
        .onCommand(Load.class, (s, c) -> Effect().none().thenRun(st -> c.replyTo().tell(st.copy())))
        .build();
  }

  @Override
  public EventHandler<State, HostLedgerEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
  }

  static List<String> lostGuests(State s, Map<String, ?> inMemory) {
    return s.owned().keySet().stream().filter(id -> !inMemory.containsKey(id)).toList();
  }
}
