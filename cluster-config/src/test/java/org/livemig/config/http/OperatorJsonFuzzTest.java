package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.Message;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.livemig.engine.common.Ids;
import org.livemig.messages.GuestDescription;
import org.livemig.messages.MigrationParameters;
import org.livemig.messages.StartMigration;

/**
 * The operator API's request bodies as a client may send them (POST /migrations, PUT
 * /migrations/{id}/parameters, POST /guests): Json.parse yields the request or an
 * IllegalArgumentException with the reason (the routes answer 400 with it), never another
 * exception or error; a parsed request prints to JSON that parses back to the same request, and
 * the id checks the routes apply next hold for whatever ids it carries.
 */
class OperatorJsonFuzzTest {
  private static final List<Supplier<Message.Builder>> BODIES =
      List.of(StartMigration::newBuilder, MigrationParameters::newBuilder, GuestDescription::newBuilder);

  /**
   * Well-formed bodies of each kind as seeds (the first byte picks the kind): protobuf's JSON
   * parser is not instrumented, so mutations of real requests reach far more of it than random bytes.
   */
  static Stream<Arguments> bodies() {
    return Stream.of(
        seed(0, "{\"migrationId\":\"m-1\",\"guestId\":\"g-1\",\"sourceHost\":\"host-a\",\"destinationHost\":\"host-b\","
            + "\"parameters\":{\"downtimeLimitMs\":\"300\",\"channels\":2,\"postcopyAfterRounds\":3}}"),
        seed(0, "{\"guest_id\":\"g\",\"source_host\":\"a\",\"destination_host\":\"b\"}"),
        seed(1, "{\"maxBandwidthBytesPerSecond\":\"100000000\",\"downtimeLimitMs\":\"30\",\"postcopyNow\":true}"),
        seed(2, "{\"guestId\":\"g-2\",\"pageSize\":4096,\"pageCount\":\"65536\",\"seed\":\"42\","
            + "\"dirtyPagesPerSecond\":\"5000\",\"hotPages\":4096,\"hotPerMille\":800,\"initialFill\":\"FILL_PATTERN\"}"),
        seed(2, "{\"guestId\":\"\\u00e9\\ud800\",\"pageCount\":-1,\"unknownField\":[1,{\"a\":null}]}"));
  }

  private static Arguments seed(int kind, String json) {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    byte[] data = new byte[body.length + 1];
    data[0] = (byte) kind;
    System.arraycopy(body, 0, data, 1, body.length);
    return Arguments.of((Object) data);
  }

  @MethodSource("bodies")
  @FuzzTest(maxDuration = "10s")
  void requestBodies(byte[] data) {
    if (data.length == 0) return;
    Message.Builder builder = BODIES.get(Math.floorMod(data[0], BODIES.size())).get();
    String body = new String(data, 1, data.length - 1, StandardCharsets.UTF_8);
    Message request;
    try {
      request = Json.parse(body, builder).build();
    } catch (IllegalArgumentException expected) {
      String type = builder.getDescriptorForType().getName();
      assertTrue(expected.getMessage().startsWith("bad JSON for " + type + ": "), expected.getMessage());
      return;
    }
    Message again = Json.parse(Json.print(request), request.newBuilderForType()).build();
    assertEquals(request, again, "printing and parsing back changed the request");
    if (request instanceof StartMigration s) {
      checkId("migration_id", s.getMigrationId());
      checkId("guest_id", s.getGuestId());
      checkId("source_host", s.getSourceHost());
      checkId("destination_host", s.getDestinationHost());
    } else if (request instanceof GuestDescription g) {
      checkId("guest_id", g.getGuestId());
    }
  }

  /** Ids.problem answers for any string, and a valid id is exactly one without a problem. */
  private static void checkId(String field, String id) {
    String problem = Ids.problem(field, id);
    assertEquals(problem == null, Ids.valid(id) && !id.isEmpty(), "Ids.problem and Ids.valid disagree on " + Ids.shown(id));
    if (problem != null) assertTrue(problem.startsWith("invalid request: " + field), problem);
  }
}
