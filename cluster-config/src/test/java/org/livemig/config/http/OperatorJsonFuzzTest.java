package org.livemig.config.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.Message;
import java.util.List;
import java.util.function.Supplier;
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

  @FuzzTest(maxDuration = "10s")
  void requestBodies(FuzzedDataProvider data) {
    Message.Builder builder = data.pickValue(BODIES).get();
    String body = data.consumeRemainingAsString();
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
