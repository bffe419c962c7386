package org.livemig.config.http;

import akka.actor.typed.ActorSystem;
import akka.management.javadsl.AkkaManagement;
import java.util.concurrent.TimeUnit;

/** Starts Akka Management (its routes plus livemig's OperatorRoutes) when livemig.http.port is set. */
public final class OperatorHttp {
  private OperatorHttp() {}

  /** The bound address, or null when HTTP is off. Blocks until bound: called at node start, not in an actor. */
  public static String start(ActorSystem<?> system) throws Exception {
    if (system.settings().config().getInt("livemig.http.port") == 0) return null;
    return AkkaManagement.get(system).start().toCompletableFuture().get(30, TimeUnit.SECONDS).toString();
  }
}
