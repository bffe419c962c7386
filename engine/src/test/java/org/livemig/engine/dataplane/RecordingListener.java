package org.livemig.engine.dataplane;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Records every inbound event so tests can wait for and assert on them. */
public final class RecordingListener implements InboundListener {
  public final List<String> events = new CopyOnWriteArrayList<>();
  public final List<byte[]> deviceStates = new CopyOnWriteArrayList<>();
  public final List<long[]> discards = new CopyOnWriteArrayList<>();
  /** False: behave like a listener written before postcopy (the interface's default). */
  public volatile boolean handlesPostcopy = true;
  public final BlockingQueue<String> endOfStreams = new LinkedBlockingQueue<>();
  public final BlockingQueue<String> failures = new LinkedBlockingQueue<>();

  @Override
  public void onChannelOpened(int channel) {
    events.add("opened " + channel);
  }

  @Override
  public void onDeviceState(byte[] state) {
    events.add("device-state " + state.length);
    deviceStates.add(state);
  }

  @Override
  public void onIterationEnd(int round, long pages) {
    events.add("iteration-end " + round + " " + pages);
  }

  @Override
  public void onEndOfStream(int channel, long totalPages) {
    events.add("eos " + channel + " " + totalPages);
    endOfStreams.add(channel + " " + totalPages);
  }

  @Override
  public void onPostcopyDiscard(long[] words) {
    if (!handlesPostcopy) InboundListener.super.onPostcopyDiscard(words);
    events.add("discard " + org.livemig.engine.guest.DirtyBitmap.count(words));
    discards.add(words);
  }

  @Override
  public void onChannelFailed(int channel, String reason) {
    events.add("failed " + channel + " " + reason);
    failures.add(reason);
  }

  public String awaitEndOfStream() throws InterruptedException {
    String s = endOfStreams.poll(10, TimeUnit.SECONDS);
    if (s == null) throw new AssertionError("no end of stream within 10 s; events " + events);
    return s;
  }

  public String awaitFailure(long seconds) throws InterruptedException {
    String s = failures.poll(seconds, TimeUnit.SECONDS);
    if (s == null) throw new AssertionError("no channel failure within " + seconds + " s; events " + events);
    return s;
  }

  /** True if no event beyond channel open/failure happened: no page, state or stream events. */
  boolean sawNoDataEvents() {
    return events.stream().allMatch(e -> e.startsWith("opened") || e.startsWith("failed"));
  }
}
