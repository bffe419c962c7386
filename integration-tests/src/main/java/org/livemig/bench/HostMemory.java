package org.livemig.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Memory of a host JVM as the kernel and the JVM see it: resident set and its peak from
 * /proc (the peak can be reset, so one migration's peak is measured on its own), and the
 * heap in use after a full collection (jcmd), which must not grow with the guest size; and the
 * CPU time it used.
 */
final class HostMemory {
  private static final Pattern HEAP_USED = Pattern.compile("total \\d+K, used (\\d+)K");

  private HostMemory() {}

  /** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
  private static final double USER_HZ = 100.0;

  /** User plus system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15). */
  static double cpuSeconds(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / USER_HZ;
  }

  static long rssKib(long pid) throws IOException {
    return status(pid, "VmRSS:");
  }

  static long peakRssKib(long pid) throws IOException {
    return status(pid, "VmHWM:");
  }

  /** Sets the peak to the current resident set ("5" in clear_refs, Linux 4.0 and later). */
  static void resetPeak(long pid) throws IOException {
    Files.writeString(Path.of("/proc", Long.toString(pid), "clear_refs"), "5");
  }

  private static long status(long pid, String key) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith(key)) return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }
    throw new IOException("no " + key + " in /proc/" + pid + "/status");
  }

  /** Heap in use after a full GC, in KiB. */
  static long heapUsedAfterGcKib(long pid) throws IOException, InterruptedException {
    jcmd(pid, "GC.run");
    String info = jcmd(pid, "GC.heap_info");
    Matcher m = HEAP_USED.matcher(info);
    if (!m.find()) throw new IOException("cannot read the heap from jcmd GC.heap_info: " + info);
    return Long.parseLong(m.group(1));
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    Process p = new ProcessBuilder(jcmd, Long.toString(pid), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("jcmd " + command + " failed: " + out);
    return out;
  }
}
