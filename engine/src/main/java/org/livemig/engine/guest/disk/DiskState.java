package org.livemig.engine.guest.disk;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A disk's part of the device state: the write sequence (writes 0..writeSeq-1 were issued and
 * completed, except the ones in failed, which the guest saw fail), the guest's counters, and
 * the ownership history: which host (generation) issued writes from which write number on, so
 * the checker can tell whether a block was written by the host that owned the guest then.
 * Taken only after a drain: nothing is in flight.
 */
public record DiskState(long writeSeq, long reads, long readMismatches, long writeErrors, boolean full,
    List<Owner> owners, List<Long> failed) {
  /** Owners kept; older ones are dropped (the checker then trusts writes before the oldest kept). */
  static final int MAX_OWNERS = 16;
  /**
   * Failed writes after which a disk stops writing, as a guest whose disk keeps failing would; the
   * writes in flight then may fail too, so a state can list up to MAX_FAILED + 256 (the deepest queue).
   */
  static final int MAX_FAILED = 64;
  static final int MAX_FAILED_LISTED = MAX_FAILED + 256;
  /** Writes a disk may have issued: far beyond any run, small enough that a check of them ends. */
  static final long MAX_WRITES = 1L << 40;

  public DiskState {
    owners = List.copyOf(owners);
    failed = List.copyOf(failed);
  }

  /** From write firstSeq on, the guest ran on host hostHash in this ownership generation. */
  public record Owner(int generation, int hostHash, long firstSeq) {}

  public int generation() {
    return owners.isEmpty() ? 0 : owners.get(owners.size() - 1).generation();
  }

  /** The state a new owner continues from: one more generation, starting at the next write. */
  DiskState handedTo(int hostHash) {
    List<Owner> o = new ArrayList<>(owners);
    o.add(new Owner(generation() + 1, hostHash, writeSeq));
    while (o.size() > MAX_OWNERS) o.remove(0);
    return new DiskState(writeSeq, reads, readMismatches, writeErrors, full, o, failed);
  }

  int encodedLength() {
    return 8 * 4 + 1 + 1 + owners.size() * 16 + 2 + failed.size() * 8;
  }

  void encode(ByteBuffer b) {
    b.putLong(writeSeq).putLong(reads).putLong(readMismatches).putLong(writeErrors).put((byte) (full ? 1 : 0));
    b.put((byte) owners.size());
    for (Owner o : owners) b.putInt(o.generation()).putInt(o.hostHash()).putLong(o.firstSeq());
    b.putShort((short) failed.size());
    for (long k : failed) b.putLong(k);
  }

  /** Decodes one disk's state; IllegalArgumentException (naming what) when malformed. */
  static DiskState decode(ByteBuffer b, String diskId) {
    try {
      long writeSeq = b.getLong();
      long reads = b.getLong();
      long readMismatches = b.getLong();
      long writeErrors = b.getLong();
      byte full = b.get();
      int n = b.get();
      if (writeSeq < 0 || writeSeq > MAX_WRITES || reads < 0 || readMismatches < 0 || writeErrors < 0
          || (full & ~1) != 0 || n < 1 || n > MAX_OWNERS) {
        throw new IllegalArgumentException("device state of disk " + diskId + " is malformed");
      }
      List<Owner> owners = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Owner o = new Owner(b.getInt(), b.getInt(), b.getLong());
        Owner before = owners.isEmpty() ? null : owners.get(owners.size() - 1);
        // Generations go up one hand-over at a time, each from a write number on.
        if (o.generation() < 0 || o.generation() == Integer.MAX_VALUE || o.firstSeq() < 0 || o.firstSeq() > writeSeq
            || (before != null && (o.generation() <= before.generation() || o.firstSeq() < before.firstSeq()))) {
          throw new IllegalArgumentException("device state of disk " + diskId + " has an inconsistent ownership history");
        }
        owners.add(o);
      }
      int f = b.getShort();
      if (f < 0 || f > MAX_FAILED_LISTED) {
        throw new IllegalArgumentException("device state of disk " + diskId + " lists " + f + " failed writes");
      }
      List<Long> failed = new ArrayList<>();
      for (int i = 0; i < f; i++) {
        long k = b.getLong();
        if (k < 0 || k >= writeSeq || (!failed.isEmpty() && k <= failed.get(failed.size() - 1))) {
          throw new IllegalArgumentException("device state of disk " + diskId + " has failed write " + k
              + " out of order or outside 0.." + writeSeq);
        }
        failed.add(k);
      }
      return new DiskState(writeSeq, reads, readMismatches, writeErrors, full == 1, owners, failed);
    } catch (java.nio.BufferUnderflowException e) {
      throw new IllegalArgumentException("device state of disk " + diskId + " is truncated", e);
    }
  }

  static DiskState fresh(int hostHash) {
    return new DiskState(0, 0, 0, 0, false, List.of(new Owner(0, hostHash, 0)), List.of());
  }
}
