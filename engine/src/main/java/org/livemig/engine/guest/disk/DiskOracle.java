package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.livemig.messages.DiskVerification;

/**
 * The disk oracle: after writes 0..writeSeq-1 (but the failed ones), block b must hold the
 * last of them that went to b, byte for byte, or zeros if none did; and its header must name
 * the host and generation that owned the guest at that write. A lost write and a late write
 * (one that landed after a newer write of the same block) both show as a mismatch; a write by
 * a host after it handed the guest on shows as an ownership violation. A failed write (or one
 * still in flight) may or may not have reached the block, as with a real disk: the block may hold
 * it or the write before it, nothing else.
 */
public final class DiskOracle {
  private static final int MAX_REPORTED = 10;
  /** Blocks a check holds in memory at once (a long per block): 16 Mi blocks is 64 GiB of 4 KiB blocks. */
  private static final long MAX_BLOCKS = 1L << 24;

  private DiskOracle() {}

  public static DiskVerification verify(String diskId, BlockContent content, DiskFile file, DiskState s)
      throws IOException {
    if (content.blockCount() > MAX_BLOCKS) {
      throw new IllegalArgumentException("disk " + diskId + " of " + content.blockCount() + " blocks is too large to "
          + "verify (at most " + MAX_BLOCKS + ")");
    }
    long[] lastWriter = new long[(int) content.blockCount()];
    Arrays.fill(lastWriter, -1L);
    Set<Long> failed = new HashSet<>(s.failed());
    for (long k = 0; k < s.writeSeq(); k++) {
      if (!failed.contains(k)) lastWriter[(int) content.blockAt(k)] = k;
    }
    ByteBuffer actual = ByteBuffer.allocate(content.blockSize());
    ByteBuffer expected = ByteBuffer.allocate(content.blockSize());
    long mismatches = 0;
    long violations = 0;
    List<Long> first = new ArrayList<>();
    for (int b = 0; b < lastWriter.length; b++) {
      file.read(b, actual);
      BlockContent.Written w = content.parse(actual);
      long k = lastWriter[b];
      // A failed write after the last landed one may have reached the block after all.
      boolean maybe = w != null && w.k() > k && failed.contains(w.k()) && content.blockAt(w.k()) == b;
      boolean ok = w == null ? k < 0
          : (w.k() == k || maybe) && content.holds(actual, w.k(), w.generation(), w.hostHash(), expected);
      if (!ok) {
        mismatches++;
        if (first.size() < MAX_REPORTED) first.add((long) b);
        continue;
      }
      DiskState.Owner owner = ownerAt(s.owners(), w == null ? -1 : w.k());
      if (owner != null && (owner.generation() != w.generation() || owner.hostHash() != w.hostHash())) violations++;
    }
    return DiskVerification.newBuilder().setDiskId(diskId).setBlocksChecked(lastWriter.length).setMismatches(mismatches)
        .addAllFirstMismatches(first).setOwnershipViolations(violations).setWrites(s.writeSeq() - failed.size()).build();
  }

  /** Who owned the guest at write k, or null if the history kept does not reach back that far. */
  static DiskState.Owner ownerAt(List<DiskState.Owner> owners, long k) {
    if (k < 0) return null;
    DiskState.Owner at = null;
    for (DiskState.Owner o : owners) {
      if (o.firstSeq() <= k) at = o;
    }
    return at;
  }
}
