package org.livemig.config;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.livemig.engine.client.MigrationClient;

/**
 * A coordinator node is refused on a journal whose remembered migrations another number of shards
 * would route elsewhere (two coordinators would write one migration), and accepted with the number
 * the journal was written with.
 */
class RememberedShardsTest {
  @TempDir
  Path dir;

  private static Config coordinator(String journal, int shards) {
    return LivemigNode.localConfig(null, List.of("coordinator"), journal,
        Map.of("akka.cluster.sharding.number-of-shards", shards, "livemig.security.tls", "off"));
  }

  private static List<String> check(String journal, int shards) {
    return NodeConfigCheck.problems(ConfigFactory.empty(), coordinator(journal, shards));
  }

  @Test
  void aNumberOfShardsThatDoesNotFitTheRememberedMigrationsIsRefused() throws Exception {
    String journal = "jdbc:h2:file:" + dir.resolve("journal") + ";DB_CLOSE_DELAY=-1";
    assertEquals(List.of(), check(journal, 100), "no journal yet: nothing remembered");
    // Migration ids that 1000 shards and 100 shards put in different shards.
    List<String> ids = IntStream.range(0, 100).mapToObj(i -> "m-" + i)
        .filter(i -> !RememberedShards.shardOf(i, 1000).equals(RememberedShards.shardOf(i, 100))).limit(2).toList();
    String unknown = ids.get(0);
    String id = ids.get(1);
    try (LivemigNode node = LivemigNode.start(coordinator(journal, 1000))) {
      node.join(node.address());
      MigrationClient client = new MigrationClient(node.system());
      // Starting a migration starts its coordinator, which its shard remembers in the journal; so
      // does asking about an unknown id, but that coordinator has no journal that two could write.
      client.start(id, "guest", "host-a", "host-b", org.livemig.messages.MigrationParameters.getDefaultInstance())
          .toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
      var status = client.status(unknown).toCompletableFuture();
      assertThrows(java.util.concurrent.ExecutionException.class, () -> status.get(30,
          java.util.concurrent.TimeUnit.SECONDS), "an unknown migration");
    }
    assertEquals(List.of(), check(journal, 1000), "the number it was written with");
    String all = String.join("\n", check(journal, 100));
    assertTrue(all.contains("akka.cluster.sharding.number-of-shards = 100 does not fit the journal: 1 remembered "
        + "migration(s) in 1 shard(s)"), all);
    assertTrue(all.contains(id + " is remembered by shard " + RememberedShards.shardOf(id, 1000) + ", 100 shards put it "
        + "in shard " + RememberedShards.shardOf(id, 100)), all);
    assertEquals(List.of(), NodeConfigCheck.problems(ConfigFactory.empty(),
        LivemigNode.localConfig("a", List.of("host"), journal, Map.of("akka.cluster.sharding.number-of-shards", 100))),
        "a host node runs no coordinators");
  }
}
