package org.livemig.engine.guest.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The body of a disk's requests, run on its I/O threads outside the disk's lock: a write filled
 * from the oracle's content and made durable (and mirrored, during a storage move), a read
 * checked as far as a guest can check what it reads; each reports back to its {@link VirtualDisk}.
 */
final class DiskRequests {
  private static final Logger log = LoggerFactory.getLogger(DiskRequests.class);

  private final VirtualDisk disk;
  private final String guestId;
  private final String diskId;
  private final BlockContent content;
  private final DiskFaults faults;
  private final int hostHash;
  /** Released when the disk closes: what a hung request waits for. */
  private final CountDownLatch closing = new CountDownLatch(1);
  private final ThreadLocal<ByteBuffer> buffers;
  private final WriteLatency latency = new WriteLatency();

  DiskRequests(VirtualDisk disk, String guestId, String diskId, BlockContent content, DiskFaults faults, int hostHash) {
    this.disk = disk;
    this.guestId = guestId;
    this.diskId = diskId;
    this.content = content;
    this.faults = faults;
    this.hostHash = hostHash;
    this.buffers = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(content.blockSize()));
  }

  WriteLatency latency() { return latency; }

  void closing() {
    closing.countDown();
  }

  /** Write k of block; with a mirror installed, durable on its target too before it is acknowledged. */
  void write(DiskFile file, DiskMirror mirror, long k, long block, int generation, boolean hang, boolean fail,
      long issuedAt) {
    String error = "did not complete"; // until it did, or said why not: whatever is thrown, the count stays right
    try {
      error = null;
      delay();
      if (hang) {
        log.warn("disk {} of guest {}: write {} hangs (fault injected)", diskId, guestId, k);
        closing.await();
        error = "aborted: the disk closed while the write hung";
      } else if (fail) {
        error = "I/O error (fault injected)";
      } else {
        ByteBuffer buf = buffers.get();
        content.fill(buf, k, generation, hostHash);
        file.writeDurably(block, buf);
        if (mirror != null) mirror.mirrorWrite(block, buf);
        latency.record(mirror != null, System.nanoTime() - issuedAt);
      }
    } catch (IOException | RuntimeException e) {
      error = e.toString();
    } catch (InterruptedException e) {
      error = "interrupted";
      Thread.currentThread().interrupt();
    } catch (Error e) {
      error = e.toString();
      throw e;
    } finally {
      disk.writeDone(k, block, error, hang ? 0 : issuedAt);
    }
  }

  void read(DiskFile file, long block, long writesIssued, long issuedAt) {
    boolean mismatch = true; // until the read says otherwise: whatever is thrown, the count stays right
    try {
      delay();
      ByteBuffer buf = buffers.get();
      file.read(block, buf);
      BlockContent.Written w = content.parse(buf);
      // What a guest can check of what it reads: a whole block this disk wrote there, not a
      // torn one, a misdirected one or one from a write it never issued.
      mismatch = w != null && (!w.intact() || w.k() >= writesIssued || content.blockAt(w.k()) != block);
    } catch (IOException | RuntimeException e) {
      if (!disk.isClosed()) log.warn("disk {} of guest {}: read of block {} failed: {}", diskId, guestId, block, e.toString());
      mismatch = !disk.isClosed();
    } finally {
      disk.readDone(block, mismatch, issuedAt);
    }
  }

  /** A slow disk: the request takes writeDelay longer (simulated device latency). */
  private void delay() {
    long nanos = faults.writeDelay().toNanos();
    if (nanos <= 0) return;
    try {
      closing.await(nanos, TimeUnit.NANOSECONDS); // cut short when the disk closes
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
