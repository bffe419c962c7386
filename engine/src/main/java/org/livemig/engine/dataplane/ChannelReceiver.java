package org.livemig.engine.dataplane;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.Pages;
import org.livemig.messages.PagesRejected;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Destination end of one accepted channel: reads frames into guest memory until end of stream. */
final class ChannelReceiver {
  private static final Logger log = LoggerFactory.getLogger(ChannelReceiver.class);

  private final PrecopyReceiver precopy;
  private final int channel;
  private final DataChannel link;
  private final FrameCodec codec;
  private final DataPlaneSettings settings;
  private final Watchdog watchdog;
  private ByteBuffer staging; // the payload of one Pages frame, reused for every frame
  private long[] stagedRuns = new long[16]; // (first page, count) pairs of the frame's staged runs
  private int staged; // entries of stagedRuns in use
  private ByteBuffer[] chunkViews; // one reusable view per guest memory chunk (TLS only)
  private long[] rejected; // pages of this round whose payload failed its checksum
  private int rejectedBatches;
  private volatile String stallReason;
  private volatile boolean forgotten;

  ChannelReceiver(PrecopyReceiver precopy, int channel, DataChannel link, DataPlaneSettings settings, Watchdog watchdog) {
    this.precopy = precopy;
    this.channel = channel;
    this.link = link;
    this.codec = link.codec();
    this.settings = settings;
    this.watchdog = watchdog;
  }

  /** Runs on the channel's own thread until end of stream or failure; never throws. */
  void run() {
    Watchdog.Watch stall = watchdog.watch(codec::lastActivityNanos, settings.stallTimeout().toNanos(), idle -> {
      stallReason = "no data for " + TimeUnit.NANOSECONDS.toMillis(idle) + " ms";
      closeChannel();
    });
    try {
      precopy.listener.onChannelOpened(channel);
      receiveUntilEndOfStream();
    } catch (RuntimeException e) {
      String reason = stallReason != null ? stallReason : e.getMessage();
      if (forgotten) {
        log.debug("data channel {} of migration {} closed by forget: {}", channel, precopy.migrationId, reason);
      } else {
        log.warn("data channel {} of migration {} failed: {}", channel, precopy.migrationId, reason);
        precopy.listener.onChannelFailed(channel, reason);
      }
    } finally {
      stall.cancel();
      precopy.closed(this);
      closeChannel();
    }
  }

  /** The frame loop alone (package-private for the decoder fuzz test); throws on any failure. */
  void receiveUntilEndOfStream() {
    while (true) {
      Frame frame = codec.readFrame();
      switch (frame.getKindCase()) {
        case PAGES -> receivePages(frame.getPages());
        case DEVICE_STATE -> precopy.listener.onDeviceState(frame.getDeviceState().getState().toByteArray());
        case ITERATION_END -> {
          // Echoed: the sender learns that every page of the round is in guest memory, not just
          // in socket buffers, before it decides on a switchover. Rejected pages go first.
          if (rejectedBatches > 0) askToResend(frame.getIterationEnd().getRound());
          codec.writeMessage(frame);
          precopy.listener.onIterationEnd(frame.getIterationEnd().getRound(), frame.getIterationEnd().getPages());
        }
        case EOS -> {
          if (rejectedBatches > 0) {
            // The final copy is not echoed, so nothing can be sent again: the migration fails and the source runs on.
            throw new DataPlaneException(rejectedBatches + " page batch(es) of the final copy failed their checksum: "
                + "the link corrupts data");
          }
          EndOfStream eos = frame.getEos();
          if (!eos.getPostcopyDiscard().isEmpty()) precopy.listener.onPostcopyDiscard(discard(eos.getPostcopyDiscard().toByteArray()));
          log.debug("data channel {} of migration {} reached end of stream", channel, precopy.migrationId);
          precopy.listener.onEndOfStream(channel, eos.getTotalPages());
          return;
        }
        default -> throw new DataPlaneException("unexpected " + frame.getKindCase() + " frame on data channel");
      }
    }
  }

  private void askToResend(int round) {
    log.info("data channel {} of migration {}: {} page batch(es) of round {} failed their checksum; asking for them again",
        channel, precopy.migrationId, rejectedBatches, round);
    codec.writeMessage(Frame.newBuilder().setPagesRejected(PagesRejected.newBuilder()
        .setBitmap(ByteString.copyFrom(DirtyBitmap.toBytes(rejected))).setBatches(rejectedBatches)).build());
    java.util.Arrays.fill(rejected, 0);
    rejectedBatches = 0;
  }

  private long[] discard(byte[] bytes) {
    try {
      return DirtyBitmap.fromBytes(bytes, precopy.memory.pageCount());
    } catch (IllegalArgumentException e) {
      throw new DataPlaneException("malformed postcopy discard: " + e.getMessage(), e);
    }
  }

  /**
   * A batch's payload is read from the socket into the staging buffer and copied into guest
   * memory only once it is whole and intact: a truncated or corrupt batch marks no page received
   * and changes no page. The staging buffer is reused for every frame, so the kernel's copy goes
   * into memory it has written before; reading straight into guest memory made the kernel's first
   * write to each fresh destination page the cost of the transfer (on this benchmark's virtualised
   * host about 2 CPU s per GiB, three times the whole receive; README "Performance"). Over TLS
   * no kernel copy meets guest memory, and first arrivals are decrypted into it ({@link #readStraight}).
   */
  private void receivePages(Pages pages) {
    GuestMemory memory = precopy.memory;
    int count = pages.getIndicesCount();
    int len = PagesFrame.payloadBytes(pages, memory, codec.maxPayloadBytes());
    if (staging == null || staging.capacity() < len) {
      staging = ByteBuffer.allocateDirect(Math.max(len, settings.batchPages() * memory.pageSize()));
    }
    if (!codec.stagesPayloads()) {
      readStraight(pages, memory);
    } else {
      staging.clear().limit(len);
      codec.readPayloadInto(staging);
      staging.flip();
      staged = 0;
      for (int i = 0; i < count; ) {
        long first = pages.getIndices(i);
        int run = runFrom(pages, i, memory, false);
        stageRun(first, run);
        i += run;
      }
    }
    if (codec.payloadIntact()) {
      // Runs of contiguous pages in one chunk (the sender sends runs): one copy each.
      for (int r = 0; r < staged; r += 2) memory.writePages(stagedRuns[r], (int) stagedRuns[r + 1], staging);
      for (int i = 0; i < count; i++) precopy.received.mark(pages.getIndices(i));
    } else {
      // Nothing of it reached memory; the source sends these pages again.
      if (rejected == null) rejected = new long[(int) ((memory.pageCount() + 63) >>> 6)];
      for (int i = 0; i < count; i++) {
        long page = pages.getIndices(i);
        rejected[(int) (page >>> 6)] |= 1L << page;
      }
      rejectedBatches++;
    }
    // Zero pages travel in the frame, which passed its own checksum.
    for (int i = 0; i < pages.getZeroIndicesCount(); i++) {
      long page = pages.getZeroIndices(i);
      memory.zeroPage(page);
      precopy.received.mark(page);
    }
  }

  /**
   * A transport that decrypts into our buffers (TLS, which protects integrity itself): pages
   * arriving for the first time are decrypted straight into guest memory, which no kernel copy
   * touches; a page sent again after it had arrived goes through the staging buffer.
   */
  private void readStraight(Pages pages, GuestMemory memory) {
    if (chunkViews == null) chunkViews = new ByteBuffer[memory.chunkIndex(memory.pageCount() - 1) + 1];
    staging.clear();
    staged = 0;
    for (int i = 0, count = pages.getIndicesCount(); i < count; ) {
      long first = pages.getIndices(i);
      int chunk = memory.chunkIndex(first);
      boolean arrived = precopy.received.isSet(first);
      int run = runFrom(pages, i, memory, true);
      if (arrived) {
        staging.limit(staging.position() + run * memory.pageSize());
        codec.readPayloadInto(staging);
        stageRun(first, run);
      } else {
        if (chunkViews[chunk] == null) chunkViews[chunk] = memory.chunkView(chunk);
        codec.readPayloadInto(memory.pagesView(first, run, chunkViews[chunk]));
      }
      i += run;
    }
    staging.flip();
  }

  /** Pages from index i on that are contiguous in one chunk (and, if byArrival, all arrived or all not). */
  private int runFrom(Pages pages, int i, GuestMemory memory, boolean byArrival) {
    long first = pages.getIndices(i);
    int chunk = memory.chunkIndex(first);
    boolean arrived = byArrival && precopy.received.isSet(first);
    int run = 1;
    while (i + run < pages.getIndicesCount() && pages.getIndices(i + run) == first + run && memory.chunkIndex(first + run) == chunk
        && (!byArrival || precopy.received.isSet(first + run) == arrived)) {
      run++;
    }
    return run;
  }

  private void stageRun(long first, int run) {
    if (stagedRuns.length < staged + 2) stagedRuns = java.util.Arrays.copyOf(stagedRuns, Math.max(16, 2 * stagedRuns.length));
    stagedRuns[staged++] = first;
    stagedRuns[staged++] = run;
  }

  /** Closes the channel on behalf of forget/close: no failure is reported to the listener. */
  void forget() {
    forgotten = true;
    closeChannel();
  }

  private void closeChannel() {
    link.close();
  }
}
