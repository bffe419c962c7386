package org.livemig.config.http;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;

/**
 * JSON of the protobuf API messages, as the HTTP routes and migratectl write and read it:
 * proto field names (snake_case), every field printed, unknown fields refused.
 */
public final class Json {
  private Json() {}

  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().preservingProtoFieldNames()
      .includingDefaultValueFields();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  public static String print(Message m) {
    try {
      return PRINTER.print(m);
    } catch (InvalidProtocolBufferException e) {
      // Only Any fields with unknown types fail to print; the API has none.
      throw new IllegalStateException("cannot print " + m.getDescriptorForType().getName() + ": " + e.getMessage(), e);
    }
  }

  /** Parses into builder; a malformed document or an unknown field is an IllegalArgumentException with the reason. */
  public static <B extends Message.Builder> B parse(String json, B builder) {
    try {
      PARSER.merge(json, builder);
      return builder;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new IllegalArgumentException("bad JSON for " + builder.getDescriptorForType().getName() + ": "
          + e.getMessage(), e);
    }
  }

  /** A JSON string literal. */
  public static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }
}
