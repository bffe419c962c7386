package org.livemig.it;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A node in its own JVM, started as operators start one (HostMain with a node file), once it has
 * printed its "livemig node <address> ... up" line; its output is kept for the test to read.
 */
record HostProcess(Process process, String address, List<String> log) {
  static HostProcess start(Path conf, String name) throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-cp", System.getProperty("java.class.path"), "org.livemig.config.HostMain", conf.toString())
        .redirectErrorStream(true).start();
    List<String> log = new CopyOnWriteArrayList<>();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && !line.startsWith("livemig node ")) log.add(line);
    if (line == null) p.destroyForcibly();
    assertNotNull(line, name + " printed its start line: " + log);
    Thread drain = new Thread(() -> out.lines().forEach(log::add), name + "-out");
    drain.setDaemon(true);
    drain.start();
    return new HostProcess(p, line.split(" ")[2], log);
  }

  long pid() {
    return process.pid();
  }
}
