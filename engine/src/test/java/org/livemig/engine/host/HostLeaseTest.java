package org.livemig.engine.host;

import static org.junit.jupiter.api.Assertions.*;

import akka.actor.Address;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A host's lease holds a lease after the newest ping a majority of the Up members answered
 * (this host counted at its own send time), and nothing else renews it.
 */
class HostLeaseTest {
  static final Address A = new Address("akka", "livemig", "127.0.0.1", 2551);
  static final Address B = new Address("akka", "livemig", "127.0.0.1", 2552);
  static final Address C = new Address("akka", "livemig", "127.0.0.1", 2553);
  static final Address D = new Address("akka", "livemig", "127.0.0.1", 2554);
  static final long LEASE = 2_000;

  @Test
  void aMajorityOfAnswersSetsTheLeaseFromTheOldestOfTheNewestMajority() {
    // Three members: self at 100 and B at 90 make a majority; C's older answer does not matter.
    assertEquals(90 + LEASE, HostLease.validUntil(List.of(A, B, C), A, Map.of(B, 90L, C, 10L), 100, LEASE));
    // Four members need three: self 100, B 90, C 10 → the third newest is 10.
    assertEquals(10 + LEASE, HostLease.validUntil(List.of(A, B, C, D), A, Map.of(B, 90L, C, 10L), 100, LEASE));
  }

  @Test
  void withoutAMajorityThereIsNoLease() {
    assertEquals(Long.MIN_VALUE, HostLease.validUntil(List.of(A, B, C), A, Map.of(), 100, LEASE),
        "alone among three");
    assertEquals(Long.MIN_VALUE, HostLease.validUntil(List.of(A, B, C, D), A, Map.of(B, 90L), 100, LEASE),
        "half of four is no majority");
    assertEquals(Long.MIN_VALUE, HostLease.validUntil(List.of(B, C, D), A, Map.of(B, 90L), 100, LEASE),
        "not Up itself and one answer of three");
    assertEquals(Long.MIN_VALUE, HostLease.validUntil(List.of(), A, Map.of(), 100, LEASE), "not joined");
  }

  @Test
  void answersFromNodesThatAreNoLongerMembersDoNotCount() {
    // D answered recently but was removed (downed): B and C are silent, so A has no majority.
    assertEquals(Long.MIN_VALUE, HostLease.validUntil(List.of(A, B, C), A, Map.of(D, 99L), 100, LEASE));
  }

  @Test
  void aLoneMemberNeedsNoAnswer() {
    assertEquals(100 + LEASE, HostLease.validUntil(List.of(A), A, Map.of(), 100, LEASE));
  }

  @Test
  void theLeaseStartsExpiredRunsOutAndIsNeverShortened() {
    HostLease lease = HostLease.of(Duration.ofMillis(200));
    assertFalse(lease.valid(), "no majority has answered yet");
    long now = System.nanoTime();
    lease.renew(now + lease.leaseNanos());
    assertTrue(lease.valid());
    lease.renew(Long.MIN_VALUE); // a round without a majority does not revoke what a majority gave
    lease.renew(now - 1);
    assertTrue(lease.valid());
    // Renewed from pings sent before a freeze, the lease is over once the freeze outlasts it.
    lease.renew(System.nanoTime() - lease.leaseNanos() - 1);
    long deadline = now + lease.leaseNanos();
    while (System.nanoTime() - deadline <= 0) Thread.onSpinWait();
    assertFalse(lease.valid(), "a lease a majority gave runs out unless renewed");
    assertTrue(HostLease.always().valid(), "a host without a cluster");
  }
}
