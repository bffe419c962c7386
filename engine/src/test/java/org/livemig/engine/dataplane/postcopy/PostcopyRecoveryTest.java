package org.livemig.engine.dataplane.postcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.livemig.engine.dataplane.DataPlane;
import org.livemig.engine.dataplane.DataPlaneServer;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.FrameCodec;
import org.livemig.engine.dataplane.Guests;
import org.livemig.messages.ChannelAccept;
import org.livemig.messages.Frame;
import org.livemig.messages.RecvBitmapRequest;
import org.livemig.messages.Resume;
import org.livemig.messages.StreamKind;

/** Postcopy links that break, hang or never come up: both ends pause, and a later connect recovers. */
class PostcopyRecoveryTest {
  /** Short enough to detect a blackhole quickly, long enough for a loaded two-core machine. */
  private static final Duration KEEPALIVE = Duration.ofMillis(400);
  /** Pages possibly lost in flight at a cut: socket and proxy buffers, well under a MiB. */
  private static final long IN_FLIGHT = 300;

  private static PostcopyRig rig(boolean inPostcopy) throws Exception {
    return new PostcopyRig(PostcopyRig.guest(8192, 20_000), 0.25, KEEPALIVE, inPostcopy);
  }

  @Test
  void cutPausesBothEndsAndRecoveryResendsOnlyWhatWasLost() throws Exception {
    try (PostcopyRig rig = rig(true)) {
      rig.dst.run("dst");
      rig.proxy.throttle(16L << 20); // ~24 MiB to push: about 1.5 s
      rig.connect();
      rig.awaitActive(1);
      Thread.sleep(300);
      rig.proxy.cut();
      rig.awaitPaused();
      long received = rig.receiver.pagesReceived();
      assertTrue(received > 0 && received < rig.missingAtSwitchover, "cut mid-push: " + received);
      rig.assertGuestBlocked(); // faults wait while paused; nothing fails, nothing times out
      assertEquals(received, rig.receiver.pagesReceived());

      rig.proxy.throttle(0);
      rig.connect();
      assertEquals("recover 2", rig.dstEvents.await("recover"));
      rig.awaitActive(2);
      rig.assertCompleteAndCorrect();
      assertTrue(rig.source.pagesResent() < IN_FLIGHT, "resent " + rig.source.pagesResent());
      assertEquals(rig.missingAtSwitchover + rig.source.pagesResent(), rig.source.pagesSent());
      System.out.printf("cut mid-push: %d page(s) resent of %d%n", rig.source.pagesResent(), rig.missingAtSwitchover);
    }
  }

  @Test
  void aTornBatchPausesTheLinkAndRecoveryResendsItWhole() throws Exception {
    try (PostcopyRig rig = rig(true)) {
      rig.dst.run("dst");
      rig.proxy.corrupt(4 << 20, 7); // a flip somewhere in the first few MiB of pushed pages
      rig.connect();
      rig.awaitPaused(); // the receiver fails the link on the checksum; the source sees it close
      long received = rig.receiver.pagesReceived();
      assertTrue(received < rig.missingAtSwitchover, "paused mid-push: " + received);
      rig.assertGuestBlocked();

      rig.proxy.heal();
      rig.connect();
      assertEquals("recover 2", rig.dstEvents.await("recover"));
      rig.awaitActive(2);
      rig.assertCompleteAndCorrect(); // the oracle: no flipped byte reached the guest
    }
  }

  @Test
  void blackholedLinkPausesBothEndsByKeepalive() throws Exception {
    try (PostcopyRig rig = rig(true)) {
      rig.dst.run("dst");
      rig.proxy.throttle(16L << 20);
      rig.connect();
      rig.awaitActive(1);
      Thread.sleep(200);
      rig.proxy.blackhole(); // no FIN, no RST: only silence tells
      assertTrue(rig.srcEvents.await("paused").startsWith("paused nothing received for"), rig.srcEvents.events.toString());
      assertTrue(rig.dstEvents.await("paused").startsWith("paused nothing received for"), rig.dstEvents.events.toString());
      rig.connect();
      rig.awaitActive(2);
      rig.assertCompleteAndCorrect();
      assertTrue(rig.source.pagesResent() < IN_FLIGHT, "resent " + rig.source.pagesResent());
    }
  }

  @Test
  void failedHandshakeAndTwoRecoveriesInOneTransfer() throws Exception {
    try (PostcopyRig rig = rig(true)) {
      rig.dst.run("dst");
      rig.proxy.throttle(16L << 20);
      rig.connect();
      rig.awaitActive(1);
      Thread.sleep(200);
      rig.proxy.cut();
      rig.awaitPaused();

      // The accept gets through, RECV_BITMAP does not: the handshake hangs, and both ends pause again.
      rig.proxy.blackholeReturnAfter(16);
      rig.connect();
      assertEquals("recover 2", rig.dstEvents.await("recover"));
      rig.awaitPaused();
      assertTrue(rig.srcEvents.events.stream().noneMatch(e -> e.equals("active 2")), rig.srcEvents.events.toString());

      rig.proxy.heal();
      rig.connect();
      rig.awaitActive(3);
      Thread.sleep(200);
      rig.proxy.cut();
      rig.awaitPaused();

      rig.proxy.throttle(0);
      rig.connect();
      rig.awaitActive(4);
      rig.assertCompleteAndCorrect();
      assertEquals(4, rig.source.connections());
      assertEquals(4, rig.receiver.connections());
      assertTrue(rig.source.pagesResent() < 2 * IN_FLIGHT, "resent " + rig.source.pagesResent());
    }
  }

  @Test
  void wrongAddressesPauseWithTheReasonThenTheRightOneWorks() throws Exception {
    try (PostcopyRig rig = rig(true); DataPlaneServer stranger = new DataPlaneServer("127.0.0.1", 0, DataPlaneSettings.defaults())) {
      int nobody;
      try (ServerSocket s = new ServerSocket(0)) {
        nobody = s.getLocalPort();
      }
      rig.source.connect("127.0.0.1", nobody, PostcopyRig.TOKEN, Duration.ofSeconds(1));
      String reason = rig.srcEvents.await("paused");
      assertTrue(reason.contains("cannot connect postcopy channel to 127.0.0.1:" + nobody), reason);
      assertEquals(PostcopySource.State.PAUSED, rig.source.state());

      stranger.start();
      rig.source.connect("127.0.0.1", stranger.port(), PostcopyRig.TOKEN, Duration.ofSeconds(1));
      reason = rig.srcEvents.await("paused");
      assertTrue(reason.contains("unknown migration " + PostcopyRig.ID), reason);

      rig.source.connect("127.0.0.1", rig.server.port(), "wrong-token", Duration.ofSeconds(1));
      reason = rig.srcEvents.await("paused");
      assertTrue(reason.contains("wrong token"), reason);
      assertEquals(PostcopyReceiver.State.WAITING, rig.receiver.state(), "refusals change nothing");

      rig.dst.run("dst");
      rig.connect();
      rig.awaitActive(1);
      rig.assertCompleteAndCorrect();
      assertEquals(0, rig.source.pagesResent());
    }
  }

  @Test
  void connectionBeforeExpectPostcopyIsRefusedAndRetried() throws Exception {
    try (PostcopyRig rig = rig(false)) {
      rig.source.connect("127.0.0.1", rig.server.port(), PostcopyRig.TOKEN, Duration.ofMillis(200));
      String reason = rig.srcEvents.await("paused");
      assertTrue(reason.contains("migration m-pc is not in postcopy yet"), reason);
      assertTrue(rig.server.refusedChannels() >= 2, "retried: " + rig.server.refusalReasons());

      rig.source.connect("127.0.0.1", rig.server.port(), PostcopyRig.TOKEN, Duration.ofSeconds(5));
      Thread.sleep(300);
      assertEquals(PostcopySource.State.RECOVER, rig.source.state(), "still retrying");
      rig.server.expectStream(PostcopyRig.ID, StreamKind.POSTCOPY_PAGES, rig.receiver);
      rig.awaitActive(1);
      rig.dst.run("dst");
      rig.assertCompleteAndCorrect();
    }
  }

  @Test
  void newConnectionSupersedesAnOpenOneTheDestinationStillTrusts() throws Exception {
    try (PostcopyRig rig = new PostcopyRig(PostcopyRig.guest(2048, 20_000), 0.5, Duration.ofSeconds(10), true);
        SocketChannel stale = Guests.rawConnect(rig.server.port())) {
      FrameCodec codec = new FrameCodec(stale, DataPlaneSettings.defaults());
      codec.writeMessage(Guests.header(DataPlane.PROTOCOL_VERSION, PostcopyRig.ID, PostcopyRig.TOKEN, 7).toBuilder().setKind(StreamKind.POSTCOPY_PAGES).build());
      assertTrue(codec.readMessage(ChannelAccept.parser(), "accept", DataPlane.HANDSHAKE_LIMIT).getAccepted());
      codec.startChecksums();
      codec.writeMessage(Frame.newBuilder().setRecvBitmapRequest(RecvBitmapRequest.getDefaultInstance()).build());
      assertTrue(codec.readFrame().hasRecvBitmap());
      codec.writeMessage(Frame.newBuilder().setResume(Resume.getDefaultInstance()).build());
      assertTrue(codec.readFrame().hasResumeAck());
      assertEquals("active 1", rig.dstEvents.await("active")); // and then this "source" goes silent

      rig.dst.run("dst");
      rig.source.connect("127.0.0.1", rig.server.port(), PostcopyRig.TOKEN, Duration.ofSeconds(1));
      assertEquals("recover 2", rig.dstEvents.await("recover"));
      assertEquals("active 2", rig.dstEvents.await("active"));
      rig.assertCompleteAndCorrect();
      InputStream in = stale.socket().getInputStream(); // honours the 5 s SO_TIMEOUT, unlike the channel
      byte[] rest = new byte[1 << 16];
      int r;
      do {
        r = in.read(rest); // keepalives or requests sent before it was superseded, then EOF
      } while (r > 0);
      assertEquals(-1, r, "the superseded connection was closed");
      assertTrue(rig.dstEvents.events.stream().noneMatch(e -> e.startsWith("paused")), rig.dstEvents.events.toString());
    }
  }

  @Test
  void forgetClosesTheReceiverQuietly() throws Exception {
    try (PostcopyRig rig = rig(true)) {
      rig.proxy.throttle(4L << 20);
      rig.connect();
      rig.awaitActive(1);
      rig.server.forget(PostcopyRig.ID);
      assertEquals(PostcopyReceiver.State.CLOSED, rig.receiver.state());
      rig.srcEvents.await("paused"); // the source sees its connection closed
      assertTrue(rig.dstEvents.events.stream().noneMatch(e -> e.startsWith("paused")), rig.dstEvents.events.toString());
    }
  }
}
