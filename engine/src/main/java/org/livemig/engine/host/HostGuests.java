package org.livemig.engine.host;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.livemig.engine.common.Ids;
import org.livemig.engine.guest.MigratableGuest;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.RunStateListener;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.engine.guest.disk.Datastores;
import org.livemig.engine.guest.disk.DiskFaults;
import org.livemig.engine.guest.disk.GuestDisks;
import org.livemig.messages.ErrorKind;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.GuestSummary;
import org.livemig.messages.HostCommand;
import org.livemig.messages.HostDescription;
import org.livemig.messages.HostReply;

/**
 * The guests of one host as its agent keeps them: the ones it holds, the ones lost with an
 * earlier process, and which are migrating; and the checks a Begin, a Prepare or a new guest
 * must pass. Plain code, used only from the agent's actor.
 */
final class HostGuests {
  private final String hostId;
  private final RunStateListener runStates;
  private final Map<String, MigratableGuest> guests = new HashMap<>();
  private final Set<String> lost = new TreeSet<>();
  /** Protections' copies held here as secondary (guest -> bytes): memory this host holds all the same. */
  private final Map<String, Long> copies = new HashMap<>();
  private final Map<String, String> migrating = new HashMap<>(); // guest id -> migration id
  private final Set<String> verifying = new TreeSet<>();
  /** Guests with a disk move in progress (HostDiskMoves). */
  private final Set<String> movingDisks = new TreeSet<>();
  /** Guests that arrived by a migration the coordinator has not yet said is settled: guest id -> migration id. */
  private final Map<String, String> arrived = new HashMap<>();
  /** Guests this host paused when it fenced itself: they run again once their migration is settled. */
  private final Set<String> fenced = new TreeSet<>();
  /** Guests this host runs as a protection's primary (HostReplication): a failover may run their copy elsewhere. */
  private final Set<String> protectedHere = new TreeSet<>();

  private final Datastores datastores;
  private final java.util.function.Supplier<DiskFaults> diskFaults;

  HostGuests(String hostId, RunStateListener runStates, Datastores datastores,
      java.util.function.Supplier<DiskFaults> diskFaults) {
    this.hostId = hostId;
    this.runStates = runStates;
    this.datastores = datastores;
    this.diskFaults = diskFaults;
  }

  MigratableGuest get(String guestId) {
    return guests.get(guestId);
  }

  Collection<MigratableGuest> all() {
    return guests.values();
  }

  List<String> lost() {
    return List.copyOf(lost);
  }

  /** After a restart: the guests the ledger says this host owned, whose memory went with the old process. */
  void lostWithTheOldProcess(Collection<String> guestIds) {
    lost.addAll(guestIds);
  }

  /** A guest that arrived by a migration: in question until the coordinator says it is settled. */
  void adopt(String migrationId, MigratableGuest g) {
    guests.put(g.description().getGuestId(), g);
    arrived.put(g.description().getGuestId(), migrationId);
  }

  void release(String guestId) {
    guests.remove(guestId);
    arrived.remove(guestId);
    fenced.remove(guestId);
  }

  /**
   * The host is cut off from the cluster's majority: every running guest whose ownership is in
   * question (a source role before Confirm, an arrival not yet settled, a protection's primary) is paused, since the
   * majority may run it elsewhere once this host is downed. Returns their ids.
   *
   * @param heldInACheckpoint protected guests a checkpoint has paused (HostReplication.holdAll)
   */
  List<String> fence(Set<String> heldInACheckpoint) {
    Set<String> inQuestion = new TreeSet<>(migrating.keySet());
    inQuestion.addAll(arrived.keySet());
    inQuestion.addAll(protectedHere);
    // A protected guest a checkpoint had paused at this moment stays paused (its checkpointer is
    // held): the fence counts it as its own, to run it again as it would one it paused itself.
    List<String> paused = inQuestion.stream().filter(id -> guests.containsKey(id)
        && (guests.get(id).state() == RunState.RUNNING || heldInACheckpoint.contains(id))).toList();
    for (String id : paused) {
      guests.get(id).pause();
      fenced.add(id);
    }
    return paused;
  }

  /**
   * The coordinator says the migration by which the guest arrived is settled: no longer in
   * question; runs again if fenced. A notice of another migration (a late one, or one re-sent
   * after a takeover) changes nothing, nor does it free a guest a newer migration's source holds.
   */
  Settled settled(String guestId, String migrationId) {
    if (!migrationId.equals(arrived.get(guestId))) return Settled.NOT_IN_QUESTION;
    arrived.remove(guestId);
    if (migrating.containsKey(guestId)) return Settled.SETTLED;
    MigratableGuest g = guests.get(guestId);
    if (!fenced.remove(guestId) || g == null || g.state() != RunState.PAUSED) return Settled.SETTLED;
    g.run(g.ownerToken());
    return Settled.RUNS_AGAIN;
  }

  /** What a settled notice changed: nothing, the arrival's question, or that and a fenced guest runs again. */
  enum Settled { NOT_IN_QUESTION, SETTLED, RUNS_AGAIN }

  /** A new guest, running when start is true; refused with a kind when it cannot be. */
  MigratableGuest create(GuestDescription d, boolean start) {
    String id = d.getGuestId();
    String invalid = Ids.problem("guest_id", id);
    if (invalid != null) throw new GuestRefused(ErrorKind.ERROR_INVALID_REQUEST, "guest_id", invalid);
    if (guests.containsKey(id)) {
      throw new GuestRefused(ErrorKind.ERROR_CONFLICT, "", "guest " + id + " already exists on host " + hostId);
    }
    try { // a disk this host cannot hold is the request's fault: named, and nothing created
      GuestDisks.validate(d);
      for (var disk : d.getDisksList()) datastores.file(hostId, id, disk);
    } catch (IllegalArgumentException e) {
      throw new GuestRefused(ErrorKind.ERROR_INVALID_REQUEST, "disks", "invalid guest " + id + ": " + e.getMessage());
    }
    try {
      String token = "host:" + hostId + ":" + id;
      GuestDisks.Created disks = GuestDisks.create(d, hostId, datastores, diskFaults.get());
      MigratableGuest guest;
      try {
        guest = SyntheticGuest.create(disks.description(), token, runStates, disks.disks());
        if (start) guest.run(token);
      } catch (RuntimeException | Error e) { // its files stay (the guest's disks), its handles go
        disks.disks().close();
        throw e;
      }
      guests.put(id, guest);
      lost.remove(id);
      return guest;
    } catch (IllegalArgumentException | OutOfMemoryError e) {
      throw new GuestRefused(ErrorKind.ERROR_REFUSED, "", "invalid guest " + id + ": " + e.getMessage());
    }
  }

  /** Why this host refuses Begin for the guest, or null (and the guest counts as migrating). */
  HostReply refuseBegin(HostCommand cmd) {
    String guestId = cmd.getBegin().getGuestId();
    MigratableGuest guest = guests.get(guestId);
    if (guest == null && lost.contains(guestId)) {
      return Replies.error(cmd, hostId, ErrorKind.ERROR_UNKNOWN_GUEST, "guest " + guestId + " was lost when host "
          + hostId + " restarted");
    }
    if (guest == null) {
      return Replies.error(cmd, hostId, ErrorKind.ERROR_UNKNOWN_GUEST, "unknown guest " + guestId + " on host " + hostId);
    }
    if (migrating.containsKey(guestId)) {
      return Replies.error(cmd, hostId, ErrorKind.ERROR_CONFLICT, "guest " + guestId + " is already migrating "
          + "(migration " + migrating.get(guestId) + ")");
    }
    if (movingDisks.contains(guestId)) {
      return Replies.error(cmd, hostId, ErrorKind.ERROR_CONFLICT, "guest " + guestId + " is moving a disk: migrate it"
          + " once that is over");
    }
    if (verifying.contains(guestId)) {
      return Replies.error(cmd, hostId, ErrorKind.ERROR_CONFLICT, "guest " + guestId + " is being verified");
    }
    if (guest.state() != RunState.RUNNING && guest.state() != RunState.PAUSED) {
      return Replies.error(cmd, hostId, "guest " + guestId + " is " + guest.state() + ", cannot migrate");
    }
    if (protectedHere.contains(guestId)) {
      return Replies.error(cmd, hostId, ErrorKind.ERROR_CONFLICT, "guest " + guestId + " is protected (checkpointed to "
          + "another host): unprotect it before migrating it");
    }
    migrating.put(guestId, cmd.getMigrationId());
    return null;
  }

  /** Why this host refuses Prepare for the incoming guest, or null. */
  HostReply refusePrepare(HostCommand cmd, long memoryCapacityBytes) {
    GuestDescription d = cmd.getPrepare().getBegin().getGuest();
    String guestId = d.getGuestId();
    String invalid = Ids.problem("guest_id", guestId);
    if (invalid != null) return Replies.error(cmd, hostId, ErrorKind.ERROR_INVALID_REQUEST, invalid);
    if (guests.containsKey(guestId)) {
      return Replies.error(cmd, hostId, "guest " + guestId + " already exists on host " + hostId);
    }
    long need = d.getPageCount() * d.getPageSize();
    long used = reservedBytes();
    if (memoryCapacityBytes > 0 && used + need > memoryCapacityBytes) {
      return Replies.error(cmd, hostId, "not enough memory on " + hostId + ": guest needs " + need + " bytes, "
          + (memoryCapacityBytes - used) + " of " + memoryCapacityBytes + " free");
    }
    return null;
  }

  /** Why the guest cannot be verified now, or null (and it counts as being verified until done). */
  GuestRefused refuseVerify(String guestId) {
    MigratableGuest g = guests.get(guestId);
    if (g == null) return new GuestRefused(ErrorKind.ERROR_UNKNOWN_GUEST, "", "unknown guest " + guestId + " on host "
        + hostId);
    if (protectedHere.contains(guestId)) {
      // A check's pause and resume would race the checkpoints and the fence.
      return new GuestRefused(ErrorKind.ERROR_CONFLICT, "", "guest " + guestId + " is protected (checkpointed): "
          + "verify it once unprotected, or its copy after a failover");
    }
    if (arrived.containsKey(guestId)) {
      // In question until settled: a check's pause and resume must not race the fence.
      return new GuestRefused(ErrorKind.ERROR_CONFLICT, "", "guest " + guestId + " arrived by migration "
          + arrived.get(guestId) + ", not settled yet: verify it once that is over");
    }
    if (migrating.containsKey(guestId) || verifying.contains(guestId) || movingDisks.contains(guestId)) {
      return new GuestRefused(ErrorKind.ERROR_CONFLICT, "", "guest " + guestId + " is "
          + (verifying.contains(guestId) ? "already being verified" : movingDisks.contains(guestId) ? "moving a disk"
          : "migrating (migration " + migrating.get(guestId) + ")") + ": verify it once that is over");
    }
    if (g.state() != RunState.RUNNING && g.state() != RunState.PAUSED) {
      return new GuestRefused(ErrorKind.ERROR_CONFLICT, "", "guest " + guestId + " is " + g.state());
    }
    verifying.add(guestId);
    return null;
  }

  /** The fence paused it (and nothing has run it again yet). */
  boolean fenced(String guestId) {
    return fenced.contains(guestId);
  }

  /** The guest runs here as a protection's primary: in question if this host is cut off, and not to be migrated. */
  void protect(String guestId) {
    protectedHere.add(guestId);
    runStates.checkpointed(guestId, true);
  }

  /** Whether the guest runs here as a protection's primary whose protection has not ended here. */
  boolean isProtected(String guestId) {
    return protectedHere.contains(guestId);
  }

  /**
   * The protection ended with this host still the guest's owner: no longer in question; a guest
   * the fence paused meanwhile runs again (nobody failed it over: that would have stopped it here).
   */
  void unprotect(String guestId) {
    protectedHere.remove(guestId);
    runStates.checkpointed(guestId, false);
    MigratableGuest g = guests.get(guestId);
    if (fenced.remove(guestId) && g != null && g.state() == RunState.PAUSED) g.run(g.ownerToken());
  }

  /**
   * A protection's copy that never ran, for this host's secondary (its run states logged like any
   * guest's), with new empty files for its disks in the same-named datastores here (refused if
   * they exist: a datastore shared with the primary cannot hold a second copy); its memory counts
   * against the host's capacity from now on, until copyGone.
   *
   * @throws IllegalStateException if the host's memory capacity cannot hold it
   * @throws IllegalArgumentException if its disk files cannot be created
   */
  SyntheticGuest emptyCopy(GuestDescription d, long memoryCapacityBytes) {
    long need = d.getPageCount() * d.getPageSize();
    long used = reservedBytes();
    if (memoryCapacityBytes > 0 && used + need > memoryCapacityBytes) {
      throw new IllegalStateException("not enough memory on " + hostId + ": the copy needs " + need + " bytes, "
          + (memoryCapacityBytes - used) + " of " + memoryCapacityBytes + " free");
    }
    GuestDisks.Created disks = d.getDisksCount() == 0 ? new GuestDisks.Created(d, GuestDisks.none())
        : GuestDisks.create(d, hostId, datastores, diskFaults.get());
    SyntheticGuest copy;
    try {
      copy = SyntheticGuest.empty(disks.description(), runStates, disks.disks());
    } catch (RuntimeException | Error e) {
      disks.disks().close();
      disks.disks().deleteFiles(e);
      throw e;
    }
    copies.put(d.getGuestId(), need);
    return copy;
  }

  /** The copy was destroyed (its protection ended): its memory is free again. */
  void copyGone(String guestId) {
    copies.remove(guestId);
  }

  /** The secondary's copy runs here now (a persisted failover): this host's guest like any it created. */
  void failedOver(MigratableGuest g) {
    copies.remove(g.description().getGuestId()); // counted as a guest from now on
    guests.put(g.description().getGuestId(), g);
    lost.remove(g.description().getGuestId());
  }

  /** Why a disk of the guest cannot be moved now (migrating, arrived and not settled, being verified), or null. */
  String whyBusy(String guestId) {
    String migrating = whyMigrating(guestId);
    if (migrating != null) return migrating + ": move its disks once that is over";
    if (protectedHere.contains(guestId)) return "guest " + guestId + " is protected: unprotect it first";
    if (arrived.containsKey(guestId)) {
      return "guest " + guestId + " arrived by migration " + arrived.get(guestId) + ", not settled yet";
    }
    return verifying.contains(guestId) ? "guest " + guestId + " is being verified" : null;
  }

  /** The migration the guest is in as its source, or null. */
  String migrationOf(String guestId) {
    return migrating.get(guestId);
  }

  /** Why the guest, arrived by a migration not settled yet, cannot be powered off now; or null. */
  String whyArriving(String guestId) {
    return arrived.containsKey(guestId) ? "guest " + guestId + " arrived by migration " + arrived.get(guestId)
        + ", not settled yet: power it off once that is over" : null;
  }

  String whyMigrating(String guestId) {
    return migrating.containsKey(guestId) ? "guest " + guestId + " is migrating (migration " + migrating.get(guestId)
        + ")" : null;
  }

  void diskMoveStarted(String guestId) {
    movingDisks.add(guestId);
  }

  void diskMoveEnded(String guestId) {
    movingDisks.remove(guestId);
  }

  void verified(String guestId) {
    verifying.remove(guestId);
  }

  /** The migration no longer holds its guest here (its role ended, or Begin was refused). */
  void migrationOver(String migrationId) {
    // A rollback resumes a fenced source itself (Confirm); a success destroys it.
    migrating.entrySet().removeIf(e -> {
      if (!e.getValue().equals(migrationId)) return false;
      fenced.remove(e.getKey());
      return true;
    });
  }

  /** Pauses every running guest; returns their ids. */
  List<String> pauseAll() {
    List<String> paused = guests.values().stream().filter(g -> g.state() == RunState.RUNNING)
        .map(g -> g.description().getGuestId()).sorted().toList();
    for (String id : paused) guests.get(id).pause();
    return paused;
  }

  /** The memory of the guests and protections' copies held here: what Prepare counts against the host's capacity. */
  private long reservedBytes() {
    return guests.values().stream().mapToLong(g -> g.memory().sizeBytes()).sum()
        + copies.values().stream().mapToLong(Long::longValue).sum();
  }

  HostAgent.Load load(long memoryCapacityBytes, int dataChannels) {
    return new HostAgent.Load(hostId, guests.size(), reservedBytes(), memoryCapacityBytes, dataChannels);
  }

  HostDescription describe(String address, String dataEndpoint) {
    var d = HostDescription.newBuilder().setHostId(hostId).setAddress(address).setDataEndpoint(dataEndpoint)
        .addAllLostGuests(lost);
    for (MigratableGuest g : guests.values()) {
      d.addGuests(GuestSummary.newBuilder().setGuestId(g.description().getGuestId()).setState(g.state().name())
          .setSteps(g.steps()).setThrottlePercent(g.throttlePercent()).setSizeBytes(g.memory().sizeBytes())
          .addAllDisks(g.disks()));
    }
    return d.build();
  }

  List<HostAgent.GuestView> views() {
    return guests.values().stream().map(HostGuests::view).toList();
  }

  static HostAgent.GuestView view(MigratableGuest g) {
    return new HostAgent.GuestView(g.description().getGuestId(), g.state(), g.steps(), g.throttlePercent(),
        g.memory().sizeBytes(), g.disks());
  }
}
