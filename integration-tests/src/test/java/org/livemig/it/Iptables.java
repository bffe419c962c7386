package org.livemig.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** iptables rules in the OUTPUT chain for the tests' partitions (loopback only; each test removes its own). */
public final class Iptables {
  private Iptables() {}

  /** True when iptables can be run here (installed, and we are root). */
  public static boolean works() {
    try {
      Process p = new ProcessBuilder("iptables", "-S", "OUTPUT").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  /** Inserts (-I) or deletes (-D) a rule of the OUTPUT chain; throws with iptables' words if it fails. */
  public static void output(String action, String rule) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("iptables", "-w", action, "OUTPUT"));
    cmd.addAll(List.of(rule.split(" ")));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
    }
  }
}
