package org.livemig.engine.replication;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.dataplane.DataPlane;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.FrameCodec;
import org.livemig.engine.dataplane.Guests;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.SyntheticGuest;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.CheckpointEnd;
import org.livemig.messages.CheckpointPages;
import org.livemig.messages.Frame;
import org.livemig.messages.StreamKind;

/**
 * A primary driven frame by frame on a raw socket, so that a test can stop, corrupt or fall
 * silent at an exact point of a checkpoint. Its guest is real: what it sends is the oracle's.
 */
final class HandPrimary implements AutoCloseable {
  final SyntheticGuest guest;
  final SocketChannel socket;
  final FrameCodec codec;

  HandPrimary(ReplicationRig rig) throws IOException {
    guest = rig.newPrimary();
    socket = Guests.rawConnect(rig.server.port());
    codec = new FrameCodec(socket, DataPlaneSettings.defaults());
    codec.writeMessage(Guests.header(DataPlane.PROTOCOL_VERSION, ReplicationRig.ID, ReplicationRig.TOKEN, 0).toBuilder()
        .setKind(StreamKind.CHECKPOINT).build());
    ChannelAccept a = codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT);
    assertTrue(a.getAccepted(), a.getReason());
    codec.startChecksums();
  }

  /** Runs the guest for at least n more steps and pauses it; returns its step count. */
  long runFor(long n) throws Exception {
    long target = guest.steps() + n;
    guest.run("primary-owner");
    ReplicationRig.await(() -> guest.steps() >= target, target + " steps");
    guest.pause().toCompletableFuture().get(5, TimeUnit.SECONDS);
    return guest.steps();
  }

  /** The pages dirtied since the last harvest, in order. */
  long[] harvest() {
    long[] bits = guest.dirtyBitmap().syncAndClear();
    long[] pages = new long[(int) DirtyBitmap.count(bits)];
    int[] i = {0};
    DirtyBitmap.forEachSet(bits, p -> pages[i[0]++] = p);
    return pages;
  }

  long[] allPages() {
    guest.dirtyBitmap().syncAndClear();
    long[] pages = new long[(int) guest.memory().pageCount()];
    for (int p = 0; p < pages.length; p++) pages[p] = p;
    return pages;
  }

  /** One CheckpointPages frame with pages[from..to); corrupt flips a payload byte after its checksum was taken. */
  void sendPages(long checkpoint, long[] pages, int from, int to, boolean corrupt) {
    int pageSize = guest.description().getPageSize();
    ByteBuffer payload = ByteBuffer.allocate((to - from) * pageSize);
    CheckpointPages.Builder b = CheckpointPages.newBuilder().setCheckpoint(checkpoint).setPayloadBytes(payload.capacity());
    for (int i = from; i < to; i++) {
      b.addPages(pages[i]);
      guest.memory().readPage(pages[i], payload);
    }
    payload.flip();
    ByteBuffer head = codec.encode(Frame.newBuilder().setCheckpointPages(b).build());
    ByteBuffer trailer = codec.payloadTrailer(new ByteBuffer[] {payload}, 0, 1);
    if (corrupt) payload.put(payload.limit() / 2, (byte) (payload.get(payload.limit() / 2) ^ 0x10));
    codec.writeFully(head, payload, trailer);
  }

  void sendAll(long checkpoint, long[] pages, int batch) {
    for (int from = 0; from < pages.length; from += batch) sendPages(checkpoint, pages, from, Math.min(pages.length, from + batch), false);
  }

  void sendEnd(long checkpoint, long pageCount) {
    codec.writeMessage(Frame.newBuilder().setCheckpointEnd(CheckpointEnd.newBuilder().setCheckpoint(checkpoint)
        .setPageCount(pageCount).setDeviceState(com.google.protobuf.ByteString.copyFrom(guest.deviceState()))
        .setSteps(guest.steps()).setOutputsUpto(guest.steps() / 10)).build());
  }

  long readAck() {
    Frame f = codec.readFrame();
    assertTrue(f.hasCheckpointAck(), () -> "expected an ack, got " + f.getKindCase());
    return f.getCheckpointAck().getCheckpoint();
  }

  @Override
  public void close() throws IOException {
    socket.close();
    guest.destroy();
  }
}
