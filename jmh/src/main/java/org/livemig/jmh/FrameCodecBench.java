package org.livemig.jmh;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.livemig.engine.dataplane.DataPlaneSettings;
import org.livemig.engine.dataplane.FrameCodec;
import org.livemig.messages.Frame;
import org.livemig.messages.Pages;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The PAGES frame head of one batch: encoding it (the sender, per batch) and parsing it (the
 * receiver does the same parse on the bytes FrameCodec has buffered). The payload is not
 * touched by either: it goes from guest memory to the socket as views.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FrameCodecBench {
  @Param({"256", "1024"})
  int batchPages;

  private FrameCodec codec;
  private long firstPage;
  private ByteBuffer encodedBody;

  @Setup
  public void setUp() {
    codec = new FrameCodec(null, DataPlaneSettings.defaults()); // encode never touches the channel
    firstPage = 1_000_000;
    Frame f = frame();
    ByteBuffer framed = codec.encode(f); // the codec's reused buffer: copy the body out
    framed.position(CodedOutputStream.computeUInt32SizeNoTag(f.getSerializedSize())); // as readMessage skips the length
    encodedBody = ByteBuffer.allocateDirect(framed.remaining()).put(framed).flip();
  }

  private Frame frame() {
    Pages.Builder p = Pages.newBuilder().setPayloadBytes(batchPages * 4096);
    for (int i = 0; i < batchPages; i++) p.addIndices(firstPage + i);
    return Frame.newBuilder().setPages(p).build();
  }

  @Benchmark
  public ByteBuffer encodePagesFrame() {
    return codec.encode(frame());
  }

  @Benchmark
  public Frame decodePagesFrame() throws InvalidProtocolBufferException {
    return Frame.parser().parseFrom(encodedBody.duplicate());
  }
}
