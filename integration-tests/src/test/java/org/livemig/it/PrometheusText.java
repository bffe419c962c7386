package org.livemig.it;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A minimal reader of Prometheus' text exposition format (0.0.4), strict enough that a malformed
 * scrape fails: every line is empty, a {@code # HELP}/{@code # TYPE} comment, or
 * {@code name{label="value",...} value [timestamp]}.
 */
final class PrometheusText {
  record Sample(String name, Map<String, String> labels, double value) {}

  private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  private static final Pattern SAMPLE = Pattern.compile("(" + NAME + ")(\\{(.*)\\})? (\\S+)( -?\\d+)?");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"(,|$)");
  private static final Pattern FLOAT = Pattern.compile("[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?");
  private static final Pattern COMMENT = Pattern.compile("# (HELP " + NAME + " .*|TYPE " + NAME
      + " (counter|gauge|histogram|summary|untyped))");

  private PrometheusText() {}

  /** Every sample of the scrape; an AssertionError naming the line if one is malformed. */
  static List<Sample> parse(String text) {
    List<Sample> out = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    for (int n = 0; n < lines.length; n++) {
      String line = lines[n];
      if (line.isEmpty()) continue;
      if (line.startsWith("#")) {
        if (!COMMENT.matcher(line).matches()) throw malformed(n, line);
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      if (!m.matches()) throw malformed(n, line);
      out.add(new Sample(m.group(1), labels(m.group(3), n, line), value(m.group(4), n, line)));
    }
    if (!text.isEmpty() && !text.endsWith("\n")) throw malformed(lines.length - 1, "(no final line feed)");
    return out;
  }

  private static Map<String, String> labels(String body, int n, String line) {
    Map<String, String> labels = new LinkedHashMap<>();
    if (body == null || body.isEmpty()) return labels;
    Matcher m = LABEL.matcher(body);
    int at = 0;
    while (at < body.length()) {
      if (!m.find(at) || m.start() != at) throw malformed(n, line);
      if (labels.put(m.group(1), m.group(2).replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\")) != null) {
        throw malformed(n, line);
      }
      at = m.end();
    }
    return labels;
  }

  private static double value(String v, int n, String line) {
    return switch (v) {
      case "NaN" -> Double.NaN;
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      default -> {
        if (!FLOAT.matcher(v).matches()) throw malformed(n, line);
        yield Double.parseDouble(v);
      }
    };
  }

  private static AssertionError malformed(int n, String line) {
    return new AssertionError("malformed Prometheus exposition at line " + (n + 1) + ": " + line);
  }
}
