package org.livemig.it.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What a host process holds, seen from outside through /proc and ss: the files it has open, the
 * ports it listens on, and its migration threads (data plane) and guest workload threads. Taken
 * before a migration and after it ended, the difference is what the migration leaked.
 */
record ProcessLeaks(Set<String> files, Set<String> listening, List<String> threads) {

  static ProcessLeaks of(long pid) throws IOException, InterruptedException {
    Set<String> files = new TreeSet<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      for (Path fd : (Iterable<Path>) fds::iterator) {
        String target;
        try {
          target = Files.readSymbolicLink(fd).toString();
        } catch (IOException closedMeanwhile) {
          continue; // the descriptor closed while we listed it
        }
        if (target.startsWith("/") && !target.startsWith("/dev/") && !target.startsWith("/proc/")
            && !target.endsWith(".jar") && !target.contains("/jvm/")) {
          files.add(target);
        }
      }
    }
    Set<String> listening = new TreeSet<>();
    Process ss = new ProcessBuilder("ss", "-Htlnp").redirectErrorStream(true).start();
    for (String l : new String(ss.getInputStream().readAllBytes()).lines().toList()) {
      if (l.contains("pid=" + pid + ",")) listening.add(l.trim().split("\\s+")[3]);
    }
    ss.waitFor(10, TimeUnit.SECONDS);
    List<String> threads = new ArrayList<>();
    try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        String comm;
        try {
          comm = Files.readString(t.resolve("comm")).trim();
        } catch (IOException endedMeanwhile) {
          continue; // the thread ended while we listed it
        }
        // Linux keeps 15 characters of a thread's name: "dataplane-rx-ch", "guest-g-1-workl". The
        // acceptor, the handshake gate and the watchdogs of the data-plane server and the senders
        // live as long as the node.
        if (migrationThread(comm) || comm.startsWith("guest-")) {
          threads.add(comm);
        }
      }
    }
    return new ProcessLeaks(files, listening, threads);
  }

  private static boolean migrationThread(String comm) {
    return (comm.startsWith("dataplane-") && !comm.startsWith("dataplane-accep") && !comm.startsWith("dataplane-hands")
        && !comm.startsWith("dataplane-watch"))
        || comm.startsWith("postcopy-");
  }

  /**
   * What this snapshot holds beyond the one taken before the migration: new open files, new
   * listening ports, data-plane threads, and more workload threads than the guests the host
   * lists now.
   */
  List<String> beyond(ProcessLeaks before, int guestsHeld) {
    List<String> out = new ArrayList<>();
    Set<String> newFiles = new TreeSet<>(files);
    newFiles.removeAll(before.files);
    if (!newFiles.isEmpty()) out.add("files still open: " + newFiles);
    Set<String> newPorts = new TreeSet<>(listening);
    newPorts.removeAll(before.listening);
    if (!newPorts.isEmpty()) out.add("ports still listening: " + newPorts);
    List<String> dataPlane = threads.stream().filter(ProcessLeaks::migrationThread).toList();
    if (!dataPlane.isEmpty()) out.add("data-plane threads still running: " + dataPlane);
    long workloads = threads.stream().filter(t -> t.startsWith("guest-")).count();
    if (workloads > guestsHeld) out.add(workloads + " guest workload threads for " + guestsHeld + " guest(s) held");
    return out;
  }
}
