package org.livemig.engine.guest;

/** Where a guest's external output goes: the network to its clients, or a gate that holds it first. */
@FunctionalInterface
public interface OutputSink {
  void emit(Output output);

  /** One external message of a guest: the number-th it emitted, at the step that made its step count step. */
  record Output(long number, long step) {}
}
