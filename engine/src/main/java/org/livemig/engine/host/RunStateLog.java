package org.livemig.engine.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.livemig.engine.guest.RunState;
import org.livemig.engine.guest.RunStateListener;

/**
 * A host's guest run-state log (livemig.host.run-state-log): one line per transition,
 * "{@code <epoch micros> <host> <guest> <state>}", appended by a write of its own so that the
 * line is in the file the moment the transition happened, even if the process is killed the
 * next instant. Lines of several hosts merged and sorted prove that a guest never ran on two
 * hosts at once (the chaos harness checks exactly that). Transitions also go to this class's
 * logger at INFO.
 */
final class RunStateLog implements RunStateListener {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RunStateLog.class);

  private final String hostId;
  private final Path file; // null: the logger only
  private final java.util.Set<String> checkpointed = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private RunStateLog(String hostId, Path file) {
    this.hostId = hostId;
    this.file = file;
  }

  static RunStateLog of(HostSettings settings) {
    return new RunStateLog(settings.hostId(), settings.runStateLog().isEmpty() ? null : Path.of(settings.runStateLog()));
  }

  @Override
  public void checkpointed(String guestId, boolean on) {
    if (on) checkpointed.add(guestId);
    else checkpointed.remove(guestId);
  }

  @Override
  public synchronized void changed(String guestId, RunState state, long atMicros) {
    String line = atMicros + " " + hostId + " " + guestId + " " + state;
    if (checkpointed.contains(guestId)) log.debug("run state: {}", line); // every checkpoint: in the file, not at INFO
    else log.info("run state: {}", line);
    if (file == null) return;
    try {
      Files.write(file, (line + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE,
          StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    } catch (IOException e) {
      // The guest's transition has happened either way; a log that cannot be written must be seen.
      log.error("cannot append to the run-state log {}: {} (lost line: {})", file, e.toString(), line);
    }
  }
}
