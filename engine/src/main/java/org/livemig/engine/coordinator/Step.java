package org.livemig.engine.coordinator;

import org.livemig.messages.Phase;

/**
 * The commands a coordinator sends, numbered: with the migration id and epoch the number
 * identifies a command, so a host can answer a repeat with its earlier answer.
 */
enum Step {
  BEGIN(1, true, Phase.BEGIN),
  PREPARE(2, false, Phase.PREPARE),
  PERFORM(3, true, Phase.PERFORM),
  FINISH(4, false, Phase.FINISH),
  ACTIVATE(5, false, Phase.FINISH),
  CONFIRM(6, true, Phase.CONFIRM),
  DISCARD(7, false, Phase.CONFIRM),
  /** Postcopy: answered by the destination once every page is present; never times out. */
  PAGES_COMPLETE(8, false, Phase.CONFIRM);

  final int number;
  final boolean onSource;
  final Phase phase;

  Step(int number, boolean onSource, Phase phase) {
    this.number = number;
    this.onSource = onSource;
    this.phase = phase;
  }

  static Step of(int number) {
    for (Step s : values()) if (s.number == number) return s;
    throw new IllegalArgumentException("unknown step " + number);
  }

  String host(MigrationState s) {
    return onSource ? s.sourceHost() : s.destinationHost();
  }
}
