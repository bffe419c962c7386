package org.livemig.engine.replication;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;
import org.livemig.engine.guest.OutputSink;

/**
 * A host's released guest output, as its clients would have received it: each output is one
 * line "guest number step" appended to a file (written at once, so a kill -9 of the host loses
 * none that was released), or only counted when no file is configured
 * (livemig.host.replication.output-log).
 */
public final class OutputLog implements AutoCloseable {
  private final FileChannel file; // null: counted only
  private final AtomicLong released = new AtomicLong();

  private OutputLog(FileChannel file) {
    this.file = file;
  }

  public static OutputLog open(String path) {
    if (path == null || path.isBlank()) return new OutputLog(null);
    try {
      Path p = Path.of(path);
      if (p.getParent() != null) Files.createDirectories(p.getParent());
      return new OutputLog(FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.APPEND));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the output log " + path, e);
    }
  }

  /** The sink of one guest's released output. */
  public OutputSink forGuest(String guestId) {
    return output -> {
      released.incrementAndGet();
      if (file == null) return;
      byte[] line = (guestId + " " + output.number() + " " + output.step() + "\n").getBytes(StandardCharsets.UTF_8);
      try {
        synchronized (this) {
          ByteBuffer b = ByteBuffer.wrap(line);
          while (b.hasRemaining()) file.write(b);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot append to the output log", e);
      }
    };
  }

  /** Outputs released on this host since it started. */
  public long released() {
    return released.get();
  }

  @Override
  public void close() throws IOException {
    if (file != null) file.close();
  }
}
