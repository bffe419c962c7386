package org.livemig.config.demo;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The demo's --name value options; an unknown option is an error. */
final class Options {
  private Options() {}

  /** Arguments may also come as one string (Maven's -Ddemo.args); blanks are ignored. */
  static Map<String, String> parse(String[] raw, List<String> known) {
    String[] args = String.join(" ", raw).trim().isEmpty() ? new String[0] : String.join(" ", raw).trim().split("\\s+");
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'; options: " + known);
      String name = a.substring(2);
      if (!known.contains(name)) throw new IllegalArgumentException("unknown option --" + name + "; options: " + known);
      if (i + 1 >= args.length) throw new IllegalArgumentException("option --" + name + " needs a value");
      out.put(name, args[++i]);
    }
    return out;
  }
}
