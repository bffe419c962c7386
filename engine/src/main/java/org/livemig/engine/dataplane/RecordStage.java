package org.livemig.engine.dataplane;

import java.nio.ByteBuffer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * For a TLS engine that makes one record of each source buffer (netty's BoringSSL engine): small
 * source buffers, such as 4 KiB page views, are copied into one record's worth of plaintext before
 * they are wrapped, so records stay full. A buffer that fills a record by itself is wrapped as it is.
 */
final class RecordStage {
  /** The most plaintext one TLS record holds (2^14). */
  static final int RECORD_PLAINTEXT = 1 << 14;

  private final ByteBuffer stage = ByteBuffer.allocateDirect(RECORD_PLAINTEXT).flip(); // read mode

  /**
   * One record from srcs into netOut: what the stage still holds, else the first buffer itself when
   * it fills a record, else as many bytes of srcs as one record holds (their positions move on at
   * the copy, and the result counts them when the stage is wrapped).
   */
  SSLEngineResult wrap(SSLEngine engine, ByteBuffer[] srcs, int offset, int length, ByteBuffer netOut)
      throws SSLException {
    if (!stage.hasRemaining()) {
      int first = offset;
      while (first < offset + length && !srcs[first].hasRemaining()) first++;
      if (first < offset + length && srcs[first].remaining() >= RECORD_PLAINTEXT) return engine.wrap(srcs[first], netOut);
      stage.clear();
      for (int i = first; i < offset + length && stage.hasRemaining(); i++) Sockets.move(srcs[i], stage);
      stage.flip();
    }
    return engine.wrap(stage, netOut);
  }
}
