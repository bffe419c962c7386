package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.livemig.engine.guest.DirtyBitmap;
import org.livemig.engine.guest.GuestMemory;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.EndOfStream;
import org.livemig.messages.Frame;
import org.livemig.messages.StreamKind;

/** A stream kind goes to the handler registered for it, per migration; nothing else is asked. */
class DataPlaneStreamRoutingTest {
  private static final long PAGES = 16;
  private DataPlaneServer server;
  private final RecordingListener precopy = new RecordingListener();

  @BeforeEach
  void start() {
    server = new DataPlaneServer("127.0.0.1", 0, DataPlaneSettings.defaults());
    server.start();
    server.expect("m-1", "t", 1, precopy, new GuestMemory(Guests.PAGE, PAGES), new DirtyBitmap(PAGES));
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /** Takes every channel, hands over the first frame it reads, and records forget. */
  private static final class CheckpointHandler implements StreamHandler {
    final BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    final CountDownLatch forgotten = new CountDownLatch(1);

    @Override
    public Admission admit(ChannelHeader header, DataChannel channel) {
      return Admission.serve(() -> {
        Frame f = channel.codec().readFrame();
        seen.add(header.getKind() + " " + header.getMigrationId() + " " + f.getKindCase());
      });
    }

    @Override
    public void forget() {
      forgotten.countDown();
    }
  }

  @Test
  void registeredKindReachesItsHandlerAndForgetReachesIt() throws Exception {
    CheckpointHandler checkpoint = new CheckpointHandler();
    server.expectStream("m-1", StreamKind.CHECKPOINT, checkpoint);
    server.expectStream("m-1", StreamKind.CHECKPOINT, checkpoint); // the same handler again: no change
    assertThrows(IllegalStateException.class, () -> server.expectStream("m-1", StreamKind.CHECKPOINT, new CheckpointHandler()));
    assertThrows(IllegalStateException.class, () -> server.expectStream("m-2", StreamKind.CHECKPOINT, checkpoint),
        "only an expected migration takes handlers");

    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = new FrameCodec(c, DataPlaneSettings.defaults());
      codec.writeMessage(Guests.header(DataPlane.PROTOCOL_VERSION, "m-1", "t", 0).toBuilder().setKind(StreamKind.CHECKPOINT).build());
      assertTrue(codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT).getAccepted());
      codec.startChecksums();
      codec.writeMessage(Frame.newBuilder().setEos(EndOfStream.newBuilder().setTotalPages(1)).build());
      assertEquals("CHECKPOINT m-1 EOS", checkpoint.seen.poll(10, TimeUnit.SECONDS));
    }
    assertEquals(0, server.refusedChannels());
    assertTrue(precopy.events.isEmpty(), "the precopy receiver heard nothing: " + precopy.events);

    // Precopy channel 0 is still free: the checkpoint channel's number meant nothing to precopy.
    try (PageSender s = PageSender.connect("127.0.0.1", server.port(), "m-1", "t", 0, DataPlaneSettings.defaults())) {
      s.sendEndOfStream(0);
    }
    assertEquals("0 0", precopy.awaitEndOfStream());

    server.forget("m-1");
    assertTrue(checkpoint.forgotten.await(10, TimeUnit.SECONDS), "forget reached the checkpoint handler");
    try (SocketChannel c = Guests.rawConnect(server.port())) {
      FrameCodec codec = new FrameCodec(c, DataPlaneSettings.defaults());
      codec.writeMessage(Guests.header(DataPlane.PROTOCOL_VERSION, "m-1", "t", 0).toBuilder().setKind(StreamKind.CHECKPOINT).build());
      ChannelAccept a = codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT);
      assertFalse(a.getAccepted());
      assertEquals("unknown migration m-1 or wrong token", a.getReason());
    }
    assertEquals(List.of("unknown migration m-1"), server.refusalReasons()); // counted before the answer went out
    assertTrue(checkpoint.seen.isEmpty(), "the forgotten handler took no further channel: " + checkpoint.seen);
  }
}
