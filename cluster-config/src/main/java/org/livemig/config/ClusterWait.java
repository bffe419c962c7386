package org.livemig.config;

import akka.actor.typed.ActorSystem;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import java.time.Duration;
import java.util.stream.StreamSupport;

/** Waits until a node sees n members Up (start-up only; never inside an actor). */
public final class ClusterWait {
  private ClusterWait() {}

  public static void upMembers(ActorSystem<?> system, int n, Duration max) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      long up = StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
          .filter(m -> m.status() == MemberStatus.up()).count();
      if (up >= n) return;
      Thread.sleep(50);
    }
    throw new IllegalStateException("cluster did not reach " + n + " members Up within " + max);
  }
}
