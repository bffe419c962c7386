package org.livemig.engine.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import akka.pattern.StatusReply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.common.Ids;
import org.livemig.engine.common.LivemigMessage;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostReply;
import org.livemig.messages.PostcopyReport;
import org.livemig.messages.ProgressReport;

/**
 * One per host: owns the host's guests and spawns a SourceActor or DestinationActor per
 * migration. Every coordinator command passes here, so this is where commands from an older
 * epoch are refused and repeated commands (same migration, step) get their earlier answer.
 */
public final class HostAgent {

  public interface Command {}

  /**
   * A command from a coordinator; answers and unprompted reports go to replyTo. Hosts speak only
   * their own protocol (Reply): a coordinator adapts it, so nothing here knows a coordinator.
   */
  public record Control(HostCommand command, ActorRef<Reply> replyTo)
      implements Command, LivemigMessage {}

  /** What a host tells the coordinator incarnation that spoke to it last. */
  public sealed interface Reply extends LivemigMessage permits Answered, ProgressReported, PostcopyReported {}

  /** The answer to a phase command. */
  public record Answered(HostReply reply) implements Reply {}

  /** The source's report after each precopy round, and its samples while a round is on the wire. */
  public record ProgressReported(ProgressReport report) implements Reply {}

  /** This host's side of postcopy changed state. */
  public record PostcopyReported(PostcopyReport report) implements Reply {}

  /** Creates a guest on this host, running it when start is true (demo, tests, operators). */
  public record CreateGuest(GuestDescription description, boolean start, ActorRef<StatusReply<GuestView>> replyTo)
      implements Command {}

  /** Why CreateGuest was refused (local only: the operator API maps the kind, never the text). */
  public static final class Refused extends RuntimeException {
    private final ErrorKind kind;
    private final String field;

    Refused(ErrorKind kind, String field, String message) {
      super(message);
      this.kind = kind;
      this.field = field;
    }

    public ErrorKind kind() {
      return kind;
    }

    public String field() {
      return field;
    }
  }

  public record ListGuests(ActorRef<List<GuestView>> replyTo) implements Command {}

  /** Local only: hands out the guest object itself, for verification against the oracle. */
  public record GetGuest(String guestId, ActorRef<java.util.Optional<MigratableGuest>> replyTo) implements Command {}

  /** How often cleanup ran per migration on this host (it must be exactly once). */
  public record GetCleanupRuns(ActorRef<Map<String, Integer>> replyTo) implements Command {}

  /** Chaos: replaces this host's fault injection settings (see livemig.host.faults). */
  public record SetFaults(HostSettings.Faults faults, ActorRef<akka.Done> replyTo) implements Command {}

  public record GuestView(String guestId, RunState state, long steps, int throttlePercent, long sizeBytes) {}

  // From the per-migration children.
  record RoleReplied(HostReply reply) implements Command {}

  record GuestAdopted(MigratableGuest guest) implements Command {}

  record GuestReleased(String guestId) implements Command {}

  /** A role's side of postcopy changed: told to the coordinator this host follows now. */
  record PostcopyChanged(org.livemig.messages.PostcopyReport report) implements Command {}

  record CleanupRequested(String migrationId, CleanupActor.Plan plan, ActorRef<CleanupActor.Finished> replyTo)
      implements Command {}

  private record CleanupCompleted(CleanupActor.Finished finished) implements Command {}

  private record HeldCommandReleased(Control control) implements Command {}

  /** Operators' view of this host, across nodes. */
  public record DescribeHost(ActorRef<org.livemig.messages.HostDescription> replyTo) implements Command, LivemigMessage {}

  /** Every host agent registers here too, so that all hosts can be listed. */
  public static final ServiceKey<Command> ALL_HOSTS = ServiceKey.create(Command.class, "livemig-hosts");

  public static ServiceKey<Command> serviceKey(String hostId) {
    return ServiceKey.create(Command.class, "livemig-host-" + hostId);
  }

  /** Guests this host owned before it restarted: their memory went with the old process. */
  public record ListLostGuests(ActorRef<List<String>> replyTo) implements Command {}

  private record LedgerLoaded(HostLedger.State state, Throwable error) implements Command {}

  public static Behavior<Command> create(HostSettings settings, DataPlaneServer dataPlane) {
    return Behaviors.setup(ctx -> Behaviors.withStash(10_000, stash -> Behaviors.withTimers(timers -> {
      ActorRef<HostLedger.Command> ledger = ctx.spawn(HostLedger.create(settings.hostId()), "ledger");
      ctx.ask(HostLedger.State.class, ledger, settings.ledgerLoadTimeout(), HostLedger.Load::new, LedgerLoaded::new);
      HostAgent agent = new HostAgent(ctx, timers, settings, dataPlane, ledger);
      // Nothing is answered before the ledger says what this host answered before a restart.
      return Behaviors.receive(Command.class)
          .onMessage(LedgerLoaded.class, m -> {
            if (m.error() != null) throw new IllegalStateException("host ledger unreadable: " + m.error(), m.error());
            agent.restore(m.state());
            ctx.getSystem().receptionist().tell(Receptionist.register(serviceKey(settings.hostId()), ctx.getSelf()));
            ctx.getSystem().receptionist().tell(Receptionist.register(ALL_HOSTS, ctx.getSelf()));
            ctx.getLog().info("host {} up, data plane on {}:{}", settings.hostId(), settings.dataBindHost(),
                dataPlane.port());
            return stash.unstashAll(agent.serving());
          })
          .onMessage(Command.class, m -> {
            stash.stash(m);
            return Behaviors.same();
          })
          .build();
    })));
  }

  /** Rebuilds the migration records and the lost guests from the ledger. */
  private void restore(HostLedger.State state) {
    state.answered().forEach((id, answers) -> {
      MigrationRecord rec = migrations.computeIfAbsent(id, k -> new MigrationRecord());
      for (HostReply r : answers.values()) {
        rec.answered.put(r.getStep(), r);
        rec.epoch = Math.max(rec.epoch, r.getEpoch());
      }
      // A migration in flight when the host went down cannot go on here: its actors are gone.
      rec.ended = true;
    });
    lostGuests.addAll(HostLedger.lostGuests(state, guests));
    if (!state.answered().isEmpty() || !lostGuests.isEmpty()) {
      ctx.getLog().warn("host {} restarted: {} migration(s) remembered, guests lost with the old process: {}",
          settings.hostId(), state.answered().size(), lostGuests);
    }
  }

  /** What this host remembers of one migration it takes part in. */
  private static final class MigrationRecord {
    long epoch;
    ActorRef<SourceActor.Command> source;
    ActorRef<DestinationActor.Command> destination;
    final Map<Integer, HostReply> answered = new HashMap<>();
    final Map<Integer, ActorRef<Reply>> waiting = new HashMap<>();
    boolean ended;
    /** The coordinator incarnation that spoke last: unprompted reports go there. */
    ActorRef<Reply> coordinator;
  }

  /** This host's role in the migration is over once it answers one of these. */
  private static boolean endsRole(HostReply r) {
    return r.hasConfirm() || r.hasDiscard() || r.hasPagesComplete()
        || (r.hasActivate() && !r.getActivate().getPostcopy()) // postcopy: the destination still fetches pages
        || (r.hasFinish() && r.getFinish().hasActivated());
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final HostSettings settings;
  private final DataPlaneServer dataPlane;
  private final ActorRef<HostReply> replies;
  private final ActorRef<HostLedger.Command> ledger;
  private final java.util.Set<String> lostGuests = new java.util.TreeSet<>();
  private HostSettings.Faults faults;
  private final Map<String, MigratableGuest> guests = new HashMap<>();
  private final Map<String, String> migratingGuests = new HashMap<>(); // guest id -> migration id
  private final Map<String, MigrationRecord> migrations = new HashMap<>();
  private final Map<String, ActorRef<CleanupActor.Command>> cleanups = new HashMap<>();
  private final Map<String, List<ActorRef<CleanupActor.Finished>>> cleanupWaiters = new HashMap<>();
  private final Map<String, Integer> cleanupRuns = new HashMap<>();
  private final Map<String, CleanupActor.Finished> cleanupsDone = new HashMap<>();
  private final Map<String, HostReply> rollbackAnswers = new HashMap<>();

  private HostAgent(ActorContext<Command> ctx, TimerScheduler<Command> timers, HostSettings settings,
      DataPlaneServer dataPlane, ActorRef<HostLedger.Command> ledger) {
    this.ctx = ctx;
    this.ledger = ledger;
    this.timers = timers;
    this.settings = settings;
    this.dataPlane = dataPlane;
    this.replies = ctx.messageAdapter(HostReply.class, RoleReplied::new);
    this.faults = settings.faults();
  }

  private Behavior<Command> serving() {
    return Behaviors.receive(Command.class)
        .onMessage(Control.class, this::onControl)
        .onMessage(HeldCommandReleased.class, m -> contained(m.control()))
        .onMessage(RoleReplied.class, this::onRoleReplied)
        .onMessage(CreateGuest.class, this::onCreateGuest)
        .onMessage(ListGuests.class, m -> {
          m.replyTo().tell(guests.values().stream().map(HostAgent::view).toList());
          return Behaviors.same();
        })
        .onMessage(GetGuest.class, m -> {
          m.replyTo().tell(java.util.Optional.ofNullable(guests.get(m.guestId())));
          return Behaviors.same();
        })
        .onMessage(GetCleanupRuns.class, m -> {
          m.replyTo().tell(Map.copyOf(cleanupRuns));
          return Behaviors.same();
        })
        .onMessage(GuestAdopted.class, m -> {
          guests.put(m.guest().description().getGuestId(), m.guest());
          ledger.tell(new HostLedger.Record(HostLedger.owned(m.guest().description())));
          return Behaviors.same();
        })
        .onMessage(PostcopyChanged.class, m -> {
          MigrationRecord rec = migrations.get(m.report().getMigrationId());
          if (rec != null && rec.coordinator != null) {
            rec.coordinator.tell(new PostcopyReported(m.report().toBuilder().setEpoch(rec.epoch)
                .build()));
          }
          return Behaviors.same();
        })
        .onMessage(GuestReleased.class, m -> {
          guests.remove(m.guestId());
          ledger.tell(new HostLedger.Record(HostLedger.released(m.guestId())));
          return Behaviors.same();
        })
        .onMessage(DescribeHost.class, m -> {
          var d = org.livemig.messages.HostDescription.newBuilder().setHostId(settings.hostId())
              .setAddress(ctx.getSystem().address().toString())
              .setDataEndpoint(settings.dataBindHost() + ":" + dataPlane.port()).addAllLostGuests(lostGuests);
          for (MigratableGuest g : guests.values()) {
            d.addGuests(org.livemig.messages.GuestSummary.newBuilder().setGuestId(g.description().getGuestId())
                .setState(g.state().name()).setSteps(g.steps()).setThrottlePercent(g.throttlePercent())
                .setSizeBytes(g.memory().sizeBytes()));
          }
          m.replyTo().tell(d.build());
          return Behaviors.same();
        })
        .onMessage(ListLostGuests.class, m -> {
          m.replyTo().tell(List.copyOf(lostGuests));
          return Behaviors.same();
        })
        .onMessage(CleanupRequested.class, this::onCleanupRequested)
        .onMessage(SetFaults.class, m -> {
          faults = m.faults();
          ctx.getLog().warn("fault injection on {}: {}", settings.hostId(), faults);
          m.replyTo().tell(akka.Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(CleanupCompleted.class, this::onCleanupCompleted)
        .onSignal(akka.actor.typed.PostStop.class, sig -> stopped())
        .build();
  }

  /**
   * This agent stopped (its node left, or the actor system is terminating): nobody manages its
   * guests any more and the cluster may run them elsewhere, so none of them may go on running.
   */
  private Behavior<Command> stopped() {
    for (MigratableGuest g : guests.values()) {
      if (g.state() == RunState.RUNNING) {
        ctx.getLog().warn("host agent {} stopped: pausing guest {}", settings.hostId(), g.description().getGuestId());
        g.pause();
      }
    }
    return Behaviors.same();
  }

  private static GuestView view(MigratableGuest g) {
    return new GuestView(g.description().getGuestId(), g.state(), g.steps(), g.throttlePercent(), g.memory().sizeBytes());
  }

  private Behavior<Command> onCreateGuest(CreateGuest m) {
    String id = m.description().getGuestId();
    String invalid = Ids.problem("guest_id", id);
    if (invalid != null) {
      m.replyTo().tell(StatusReply.error(new Refused(ErrorKind.ERROR_INVALID_REQUEST, "guest_id", invalid)));
    } else if (guests.containsKey(id)) {
      m.replyTo().tell(StatusReply.error(new Refused(ErrorKind.ERROR_CONFLICT, "",
          "guest " + id + " already exists on host " + settings.hostId())));
    } else {
      try {
        String token = "host:" + settings.hostId() + ":" + id;
        MigratableGuest guest = SyntheticGuest.create(m.description(), token);
        if (m.start()) guest.run(token);
        guests.put(id, guest);
        lostGuests.remove(id);
        ledger.tell(new HostLedger.Record(HostLedger.owned(m.description())));
        ctx.getLog().info("guest {} created on {} ({} pages, running={})", id, settings.hostId(),
            m.description().getPageCount(), m.start());
        m.replyTo().tell(StatusReply.success(view(guest)));
      } catch (IllegalArgumentException | OutOfMemoryError e) {
        ctx.getLog().warn("guest {} refused on {}: {}", id, settings.hostId(), e.getMessage());
        m.replyTo().tell(StatusReply.error(new Refused(ErrorKind.ERROR_REFUSED, "",
            "invalid guest " + id + ": " + e.getMessage())));
      }
    }
    return Behaviors.same();
  }

  private Behavior<Command> onControl(Control m) {
    HostCommand cmd = m.command();
    String invalid = Ids.problem("migration_id", cmd.getMigrationId());
    if (invalid != null) {
      // Never remembered, never spawned: an id names this host's actors and ledger entries.
      ctx.getLog().warn("{} refused {}: {}", settings.hostId(), cmd.getCommandCase(), invalid);
      m.replyTo().tell(new Answered(Replies.error(cmd, settings.hostId(), ErrorKind.ERROR_INVALID_REQUEST, invalid)));
      return Behaviors.same();
    }
    MigrationRecord rec = migrations.computeIfAbsent(cmd.getMigrationId(), k -> new MigrationRecord());
    if (cmd.getEpoch() < rec.epoch) {
      ctx.getLog().warn("{} refused {} from stale epoch {} (current {})", settings.hostId(), cmd.getCommandCase(),
          cmd.getEpoch(), rec.epoch);
      m.replyTo().tell(new Answered(Replies.error(cmd, settings.hostId(),
          "stale epoch " + cmd.getEpoch() + " refused: host follows epoch " + rec.epoch)));
      return Behaviors.same();
    }
    rec.epoch = cmd.getEpoch();
    rec.coordinator = m.replyTo();
    if (cmd.hasSetParameters() || cmd.hasRecover()) {
      // Not a phase: applied each time, never cached, never answered (a recovery's outcome
      // comes back as postcopy reports).
      if (rec.source != null && !rec.ended) {
        rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
      } else if (cmd.hasRecover()) {
        ctx.getLog().warn("{} cannot recover {}: no running source role here", settings.hostId(), cmd.getMigrationId());
        m.replyTo().tell(new PostcopyReported(org.livemig.messages.PostcopyReport.newBuilder()
            .setMigrationId(cmd.getMigrationId()).setEpoch(cmd.getEpoch()).setHost(settings.hostId()).setSource(true)
            .setState(org.livemig.messages.MigrationStatus.POSTCOPY_PAUSED)
            .setReason("recovery refused: host " + settings.hostId() + " has no running source role for migration "
                + cmd.getMigrationId()).build()));
      }
      return Behaviors.same();
    }
    HostReply earlier = rec.answered.get(cmd.getStep());
    if (earlier != null) {
      // Already executed: answer again, do nothing twice.
      ctx.getLog().debug("{} repeats answer to {} step {}", settings.hostId(), cmd.getMigrationId(), cmd.getStep());
      m.replyTo().tell(new Answered(earlier.toBuilder().setEpoch(cmd.getEpoch()).build()));
      return Behaviors.same();
    }
    if (rec.waiting.containsKey(cmd.getStep())) {
      // In progress: answer the newest asker once done. A new coordinator incarnation re-sending
      // Perform also takes over the source's progress reports.
      rec.waiting.put(cmd.getStep(), m.replyTo());
      if (cmd.hasPerform() && rec.source != null) rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
      return Behaviors.same();
    }
    rec.waiting.put(cmd.getStep(), m.replyTo());
    String phase = cmd.getCommandCase().name();
    if (!faults.holdPhase().isEmpty() && phase.equals(faults.holdPhase())) {
      ctx.getLog().warn("fault injection: {} holds {} of {} for {}", settings.hostId(), phase, cmd.getMigrationId(),
          faults.holdFor());
      timers.startSingleTimer(new HeldCommandReleased(m), faults.holdFor());
      return Behaviors.same();
    }
    return contained(m);
  }

  /**
   * Executes a command so that a failure in one migration's part never stops this agent (and
   * with it every guest of the host): the failure is logged and answered as an error.
   */
  private Behavior<Command> contained(Control m) {
    try {
      return execute(m);
    } catch (RuntimeException e) {
      HostCommand cmd = m.command();
      ctx.getLog().error("{}: {} of {} failed on {}; the host agent goes on", cmd.getMigrationId(),
          cmd.getCommandCase(), cmd.getMigrationId(), settings.hostId(), e);
      reply(Replies.error(cmd, settings.hostId(), cmd.getCommandCase() + " failed on " + settings.hostId() + ": " + e));
      return Behaviors.same();
    }
  }

  private Behavior<Command> execute(Control m) {
    HostCommand cmd = m.command();
    MigrationRecord rec = migrations.get(cmd.getMigrationId());
    String id = cmd.getMigrationId();
    boolean rollback = cmd.hasDiscard() || (cmd.hasConfirm() && !cmd.getConfirm().getSuccess());
    if (rec.ended && !rollback) {
      reply(Replies.error(cmd, settings.hostId(), "migration " + id + " already ended on host " + settings.hostId()));
      return Behaviors.same();
    }
    switch (cmd.getCommandCase()) {
      case BEGIN -> {
        String guestId = cmd.getBegin().getGuestId();
        MigratableGuest guest = guests.get(guestId);
        if (guest == null && lostGuests.contains(guestId)) {
          reply(Replies.error(cmd, settings.hostId(), ErrorKind.ERROR_UNKNOWN_GUEST, "guest " + guestId
              + " was lost when host " + settings.hostId() + " restarted"));
        } else if (guest == null) {
          reply(Replies.error(cmd, settings.hostId(), ErrorKind.ERROR_UNKNOWN_GUEST, "unknown guest " + guestId
              + " on host " + settings.hostId()));
        } else if (migratingGuests.containsKey(guestId)) {
          reply(Replies.error(cmd, settings.hostId(), ErrorKind.ERROR_CONFLICT,
              "guest " + guestId + " is already migrating (migration " + migratingGuests.get(guestId) + ")"));
        } else if (guest.state() != RunState.RUNNING && guest.state() != RunState.PAUSED) {
          reply(Replies.error(cmd, settings.hostId(), "guest " + guestId + " is " + guest.state() + ", cannot migrate"));
        } else {
          migratingGuests.put(guestId, id);
          rec.source = ctx.spawn(SourceActor.create(id, guest, settings, replies, ctx.getSelf()), "source-" + id);
          rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
        }
      }
      case PREPARE -> {
        GuestDescription d = cmd.getPrepare().getBegin().getGuest();
        String guestId = d.getGuestId();
        String invalidGuest = Ids.problem("guest_id", guestId);
        long need = d.getPageCount() * d.getPageSize();
        long used = guests.values().stream().mapToLong(g -> g.memory().sizeBytes()).sum();
        if (invalidGuest != null) {
          reply(Replies.error(cmd, settings.hostId(), ErrorKind.ERROR_INVALID_REQUEST, invalidGuest));
        } else if (guests.containsKey(guestId)) {
          reply(Replies.error(cmd, settings.hostId(), "guest " + guestId + " already exists on host " + settings.hostId()));
        } else if (settings.memoryCapacityBytes() > 0 && used + need > settings.memoryCapacityBytes()) {
          reply(Replies.error(cmd, settings.hostId(), "not enough memory on " + settings.hostId() + ": guest needs "
              + need + " bytes, " + (settings.memoryCapacityBytes() - used) + " of " + settings.memoryCapacityBytes()
              + " free"));
        } else {
          rec.destination = ctx.spawn(DestinationActor.create(id, settings, faults.failFinish(), dataPlane, replies,
              ctx.getSelf()),
              "destination-" + id);
          rec.destination.tell(new DestinationActor.Execute(cmd));
        }
      }
      case PERFORM, CONFIRM -> {
        if (rec.source != null) rec.source.tell(new SourceActor.Execute(cmd, m.replyTo()));
        else if (rollback) rollbackWithoutRole(cmd, rec);
        else reply(Replies.error(cmd, settings.hostId(), "no source role for migration " + id + " on " + settings.hostId()));
      }
      // Handled in onControl before any step; answered, never thrown: a throw would stop this agent.
      case RECOVER, SET_PARAMETERS -> reply(Replies.error(cmd, settings.hostId(), cmd.getCommandCase() + " is not a phase step"));
      case FINISH, ACTIVATE, DISCARD, PAGES_COMPLETE -> {
        if (rec.destination != null) rec.destination.tell(new DestinationActor.Execute(cmd));
        else if (rollback) rollbackWithoutRole(cmd, rec);
        else reply(Replies.error(cmd, settings.hostId(), "no destination role for migration " + id + " on " + settings.hostId()));
      }
      case COMMAND_NOT_SET -> reply(Replies.error(cmd, settings.hostId(), "empty command"));
    }
    return Behaviors.same();
  }

  /** A rollback for a migration this host never took a role in (its phase was never reached). */
  private void rollbackWithoutRole(HostCommand cmd, MigrationRecord rec) {
    rec.ended = true;
    HostReply.Builder b = Replies.ok(cmd, settings.hostId());
    if (cmd.hasConfirm()) {
      b.getConfirmBuilder().setSourceRunning(true); // Begin never ran here: the guest was never touched
    } else {
      b.getDiscardBuilder().setDiscarded(true);
    }
    // Nothing was set up, but cleanup still runs (and is counted) once on this path too.
    rollbackAnswers.put(cmd.getMigrationId(), b.build());
    ctx.getSelf().tell(new CleanupRequested(cmd.getMigrationId(),
        new CleanupActor.Plan("none", List.of(), null, null), null));
  }

  private void reply(HostReply reply) {
    ctx.getSelf().tell(new RoleReplied(reply));
  }

  private Behavior<Command> onRoleReplied(RoleReplied m) {
    MigrationRecord rec = migrations.get(m.reply().getMigrationId());
    if (rec == null) {
      ctx.getLog().error("answer for unknown migration {} dropped", m.reply().getMigrationId());
      return Behaviors.same();
    }
    // Answer in the epoch the host follows now: a coordinator that took over while the step ran
    // must accept the answer.
    HostReply reply = m.reply().toBuilder().setEpoch(rec.epoch).build();
    rec.answered.put(reply.getStep(), reply);
    ledger.tell(new HostLedger.Record(HostLedger.answered(reply)));
    ActorRef<Reply> to = rec.waiting.remove(reply.getStep());
    boolean roleEnded = endsRole(reply);
    if (roleEnded) rec.ended = true;
    boolean beginRefused = !reply.getOk() && reply.getStep() == 1; // an error carries no payload, only its step
    if (roleEnded || beginRefused) migratingGuests.values().removeIf(reply.getMigrationId()::equals);
    if (to != null) to.tell(new Answered(reply));
    return Behaviors.same();
  }

  private Behavior<Command> onCleanupRequested(CleanupRequested m) {
    String id = m.migrationId();
    CleanupActor.Finished earlier = cleanupsDone.get(id);
    if (earlier != null) {
      ctx.getLog().info("cleanup of {} on {} already done; not run twice", id, settings.hostId());
      if (m.replyTo() != null) m.replyTo().tell(earlier);
      HostReply answer = rollbackAnswers.remove(id);
      if (answer != null) reply(answer);
      return Behaviors.same();
    }
    if (m.replyTo() != null) cleanupWaiters.computeIfAbsent(id, k -> new ArrayList<>()).add(m.replyTo());
    if (cleanups.containsKey(id)) {
      ctx.getLog().info("cleanup of {} on {} already entered; not run twice", id, settings.hostId());
      return Behaviors.same();
    }
    ActorRef<CleanupActor.Finished> done = ctx.messageAdapter(CleanupActor.Finished.class, CleanupCompleted::new);
    cleanups.put(id, ctx.spawn(CleanupActor.create(id, settings.hostId(), m.plan(), settings.cleanupStopTimeout(), done),
        "cleanup-" + id));
    return Behaviors.same();
  }

  private Behavior<Command> onCleanupCompleted(CleanupCompleted m) {
    String id = m.finished().migrationId();
    cleanupRuns.merge(id, 1, Integer::sum);
    cleanupsDone.put(id, m.finished());
    for (ActorRef<CleanupActor.Finished> w : cleanupWaiters.getOrDefault(id, List.of())) w.tell(m.finished());
    cleanupWaiters.remove(id);
    HostReply answer = rollbackAnswers.remove(id);
    if (answer != null) reply(answer);
    return Behaviors.same();
  }
}
