package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A node in its own JVM, started as operators start one (HostMain with a node file), once it has
 * printed its "livemig node <address> ... up" line; its output is kept for the test to read.
 */
public record HostProcess(Process process, String address, List<String> log) {
  public static HostProcess start(Path conf, String name) throws Exception {
    return start(conf, name, Map.of());
  }

  /** With extra environment variables (LIVEMIG_LOG_LEVEL=INFO shows every phase in the log). */
  public static HostProcess start(Path conf, String name, Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-cp", System.getProperty("java.class.path"), "org.livemig.config.HostMain", conf.toString())
        .redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    List<String> log = new CopyOnWriteArrayList<>();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && !line.startsWith("livemig node ")) log.add(line);
    if (line == null) p.destroyForcibly();
    assertNotNull(line, name + " printed its start line: " + log);
    Thread drain = new Thread(() -> {
      try {
        out.lines().forEach(log::add);
      } catch (java.io.UncheckedIOException closed) {
        log.add("(output closed: " + closed.getCause().getMessage() + ")"); // the process was destroyed
      }
    }, name + "-out");
    drain.setDaemon(true);
    drain.start();
    return new HostProcess(p, line.split(" ")[2], log);
  }

  public long pid() {
    return process.pid();
  }
}
