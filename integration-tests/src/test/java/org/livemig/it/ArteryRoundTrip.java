package org.livemig.it;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Diagnostic, not a test: the round trip of one small message between two ActorSystems over
 * Artery TCP on loopback, the unit of every hop in a switchover's control path. Prints min /
 * median / p90 / max of 200 round trips, -Dgap=ms apart (default 20). Run with the test
 * classpath: {@code java -cp ... org.livemig.it.ArteryRoundTrip ["extra HOCON"]}.
 */
public final class ArteryRoundTrip {
  /** Java-serialised: this probe only, never the engine's messages. */
  public record Ping(long sentNanos, ActorRef<Ping> replyTo) implements java.io.Serializable {}

  private ArteryRoundTrip() {}

  public static void main(String[] args) throws Exception {
    var config = ConfigFactory.parseString(String.join("\n",
        "akka.actor.provider = remote", "akka.remote.artery.transport = tcp",
        "akka.remote.artery.canonical.hostname = 127.0.0.1", "akka.remote.artery.canonical.port = 0",
        "akka.actor.allow-java-serialization = on", "akka.actor.warn-about-java-serializer-usage = off",
        "akka.actor.serialization-bindings { \"org.livemig.it.ArteryRoundTrip$Ping\" = java }",
        args.length > 0 ? args[0] : "")).withFallback(ConfigFactory.load());
    long gapMs = Long.getLong("gap", 20);
    ActorSystem<Ping> echo = ActorSystem.create(Behaviors.receive(Ping.class).onMessage(Ping.class, p -> {
      p.replyTo().tell(p);
      return Behaviors.same();
    }).build(), "echo", config);
    long[] rtt = new long[200];
    int[] n = {0};
    CompletableFuture<Void> done = new CompletableFuture<>();
    String path = "akka://echo@127.0.0.1:" + echo.address().getPort().get() + "/user";
    ActorSystem<Void> client = ActorSystem.create(Behaviors.setup(ctx -> {
      ActorRef<Ping> remote = Adapter.toTyped(Adapter.toClassic(ctx.getSystem()).actorSelection(path)
          .resolveOne(Duration.ofSeconds(5)).toCompletableFuture().get());
      ActorRef<Ping> self = ctx.spawn(Behaviors.receive(Ping.class).onMessage(Ping.class, p -> {
        rtt[n[0]++] = System.nanoTime() - p.sentNanos();
        if (n[0] == rtt.length) {
          done.complete(null);
        } else {
          Thread.sleep(gapMs);
          remote.tell(new Ping(System.nanoTime(), p.replyTo()));
        }
        return Behaviors.same();
      }).build(), "probe");
      remote.tell(new Ping(System.nanoTime(), self));
      return Behaviors.empty();
    }), "client", config);
    done.get(120, TimeUnit.SECONDS);
    Arrays.sort(rtt);
    System.out.printf("Artery TCP round trip, %d ms apart: min %d us, median %d us, p90 %d us, max %d us%n", gapMs,
        rtt[0] / 1000, rtt[100] / 1000, rtt[180] / 1000, rtt[199] / 1000);
    client.terminate();
    echo.terminate();
    System.exit(0);
  }
}
