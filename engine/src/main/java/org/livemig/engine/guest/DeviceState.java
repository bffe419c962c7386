package org.livemig.engine.guest;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import org.livemig.messages.GuestDescription;

/**
 * The synthetic guest's device state on the wire: a header that ties it to one guest, the
 * workload position (steps) and throttle, ~200 bytes of simulated registers derived from
 * (seed, steps), the disks' queues and write sequences (version 2, guests with disks only), and
 * a CRC so that a truncated or corrupted blob is refused, not half-loaded.
 */
record DeviceState(long steps, int throttlePercent, byte[] disks) {
  private static final int MAGIC = 0x4C4D4453; // "LMDS"
  private static final short VERSION = 1;
  private static final short VERSION_WITH_DISKS = 2;
  /** Length of a version 1 state (no disks); version 2 has the disks' states before the CRC. */
  static final int LENGTH = 4 + 2 + 4 + 4 + 8 + 8 + 8 + 4 + PageContent.REGISTER_WORDS * 8 + 4;
  private static final int MAX_DISK_BYTES = 1 << 20;

  byte[] encode(GuestDescription d, PageContent content) {
    int length = LENGTH + disks.length;
    ByteBuffer b = ByteBuffer.allocate(length);
    b.putInt(MAGIC).putShort(disks.length == 0 ? VERSION : VERSION_WITH_DISKS).putInt(idChecksum(d)).putInt(d.getPageSize());
    b.putLong(d.getPageCount()).putLong(d.getSeed()).putLong(steps).putInt(throttlePercent);
    for (int i = 0; i < PageContent.REGISTER_WORDS; i++) b.putLong(content.register(steps, i));
    b.put(disks);
    b.putInt(crc(b.array(), length - 4));
    return b.array();
  }

  /** Decodes and checks a blob against the guest it is loaded into. */
  static DeviceState decode(byte[] blob, GuestDescription d, PageContent content) {
    String id = d.getGuestId();
    if (blob == null) throw new IllegalArgumentException("device state for guest " + id + " is null");
    if (blob.length < LENGTH || blob.length > LENGTH + MAX_DISK_BYTES) {
      throw new IllegalArgumentException(
          "device state for guest " + id + " has " + blob.length + " bytes, expected " + LENGTH + " or more");
    }
    ByteBuffer b = ByteBuffer.wrap(blob);
    int magic = b.getInt();
    if (magic != MAGIC) throw new IllegalArgumentException("not a device state (bad magic 0x" + Integer.toHexString(magic) + ")");
    short version = b.getShort();
    if (version != VERSION && version != VERSION_WITH_DISKS) {
      throw new IllegalArgumentException("unsupported device state version " + version);
    }
    int diskBytes = blob.length - LENGTH;
    if ((version == VERSION) != (diskBytes == 0) || (version == VERSION_WITH_DISKS) != (d.getDisksCount() > 0)) {
      throw new IllegalArgumentException("device state version " + version + " with " + diskBytes
          + " bytes of disk state does not fit guest " + id + " with " + d.getDisksCount() + " disk(s)");
    }
    if (crc(blob, blob.length - 4) != b.getInt(blob.length - 4)) {
      throw new IllegalArgumentException("device state for guest " + id + " is corrupt (checksum mismatch)");
    }
    if (b.getInt() != idChecksum(d)) throw new IllegalArgumentException("device state belongs to another guest, not " + id);
    int pageSize = b.getInt();
    long pageCount = b.getLong();
    long seed = b.getLong();
    if (pageSize != d.getPageSize() || pageCount != d.getPageCount() || seed != d.getSeed()) {
      throw new IllegalArgumentException("device state shape (page_size " + pageSize + ", page_count " + pageCount
          + ", seed " + seed + ") does not match guest " + id);
    }
    long steps = b.getLong();
    if (steps < 0) throw new IllegalArgumentException("device state has negative step count " + steps);
    int throttle = b.getInt();
    if (throttle < 0 || throttle > 99) throw new IllegalArgumentException("device state has throttle " + throttle + "% outside 0..99");
    for (int i = 0; i < PageContent.REGISTER_WORDS; i++) {
      if (b.getLong() != content.register(steps, i)) {
        throw new IllegalArgumentException("device state registers of guest " + id + " do not match step " + steps);
      }
    }
    byte[] disks = new byte[diskBytes];
    b.get(disks);
    return new DeviceState(steps, throttle, disks);
  }

  private static int idChecksum(GuestDescription d) {
    CRC32 crc = new CRC32();
    crc.update(d.getGuestId().getBytes(StandardCharsets.UTF_8));
    return (int) crc.getValue();
  }

  private static int crc(byte[] bytes, int len) {
    CRC32 crc = new CRC32();
    crc.update(bytes, 0, len);
    return (int) crc.getValue();
  }
}
