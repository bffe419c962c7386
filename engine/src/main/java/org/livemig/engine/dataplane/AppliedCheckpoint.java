package org.livemig.engine.dataplane;

/**
 * The secondary's state after a whole checkpoint was applied: what a failover resumes from.
 *
 * @param checkpoint its number (1 = the first after the initial sync)
 * @param steps the guest's step count at the primary's pause (memory is the oracle's at this count)
 * @param outputsUpto the last external output the guest had emitted at that pause
 * @param pages pages the checkpoint carried
 * @param bytes page bytes the checkpoint carried
 */
public record AppliedCheckpoint(long checkpoint, long steps, long outputsUpto, long pages, long bytes) {}
