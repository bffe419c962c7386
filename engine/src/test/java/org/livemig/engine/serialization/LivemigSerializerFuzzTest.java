package org.livemig.engine.serialization;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.typesafe.config.ConfigFactory;
import java.io.NotSerializableException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * The Akka serializer as a remote peer reaches it: any manifest with any bytes. fromBinary yields
 * a message or a NotSerializableException, never another exception; a message it yields is one
 * this node can send on or persist again (toBinary and back give the same message).
 */
class LivemigSerializerFuzzTest {
  /** A cluster node on loopback, so ActorRefs resolve as they do in production (remote paths too). */
  private static final ActorSystem<Void> SYSTEM = ActorSystem.create(Behaviors.empty(), "fuzz",
      ConfigFactory.parseString("""
          akka.actor.provider = cluster
          akka.remote.artery.canonical.hostname = 127.0.0.1
          akka.remote.artery.canonical.port = 0
          akka.loglevel = WARNING
          """).withFallback(ConfigFactory.load()));
  private static final LivemigSerializer SERIALIZER =
      new LivemigSerializer((ExtendedActorSystem) Adapter.toClassic(SYSTEM));
  /** Every manifest the serializer writes, and some it does not. */
  private static final List<String> MANIFESTS = List.of("HC", "HR", "PR", "ST", "GS", "CA", "EV", "SN", "LE", "LS",
      "ME", "SP", "DH", "SPC", "RC", "PCR", "VG", "LPI", "LPO", "", "XX");

  @AfterAll
  static void stop() {
    SYSTEM.terminate();
  }

  @FuzzTest(maxDuration = "10s")
  void fromBinary(FuzzedDataProvider data) {
    String manifest = data.consumeBoolean() ? data.pickValue(MANIFESTS) : data.consumeString(4);
    byte[] bytes = data.consumeRemainingAsBytes();
    Object message;
    try {
      message = SERIALIZER.fromBinary(bytes, manifest);
    } catch (NotSerializableException expected) {
      assertNotNull(expected.getMessage());
      return;
    }
    assertNotNull(message, "fromBinary returned null for manifest " + manifest);
    assertEquals(manifest, SERIALIZER.manifest(message), "decoded as another kind of message");
    byte[] again;
    try {
      again = SERIALIZER.toBinary(message);
    } catch (RuntimeException e) {
      fail("a decoded " + message.getClass().getSimpleName() + " cannot be serialized again", e);
      return;
    }
    try {
      Object back = SERIALIZER.fromBinary(again, manifest);
      assertArrayEquals(again, SERIALIZER.toBinary(back), "round trip changed the message");
    } catch (NotSerializableException e) {
      fail("our own encoding of a decoded message does not decode", e);
    }
  }
}
