package org.livemig.engine.dataplane;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.livemig.messages.ChannelHeader;
import org.livemig.messages.StreamKind;

/** One expected incoming migration: who may connect, and which handler takes each kind of stream. */
final class Registration {
  final String migrationId;
  final String token;
  /** The host id the source must prove on an authenticating transport; null = any. */
  final String sourceHost;

  // Guarded by this.
  private final Map<StreamKind, StreamHandler> handlers = new EnumMap<>(StreamKind.class);
  private boolean forgotten;

  Registration(String migrationId, String token, String sourceHost) {
    this.migrationId = migrationId;
    this.token = token;
    this.sourceHost = sourceHost;
  }

  /** From now on streams of kind go to handler; registering the same handler again changes nothing. */
  synchronized void register(StreamKind kind, StreamHandler handler) {
    if (kind == StreamKind.UNRECOGNIZED) throw new IllegalArgumentException("not a stream kind: " + kind);
    if (forgotten) throw new IllegalStateException("migration " + migrationId + " is no longer expected");
    StreamHandler old = handlers.get(kind);
    if (old != null && old != handler) {
      throw new IllegalStateException("migration " + migrationId + " already has a " + kind + " handler");
    }
    handlers.put(kind, handler);
  }

  /** The admission of an authenticated channel by the handler of its kind; refused if there is none. */
  StreamHandler.Admission admit(ChannelHeader header, DataChannel channel) {
    StreamHandler handler;
    synchronized (this) {
      if (forgotten) return StreamHandler.Admission.refuse("unknown migration " + migrationId);
      handler = handlers.get(header.getKind());
    }
    if (handler == null) return StreamHandler.Admission.refuse(noHandler(header));
    return handler.admit(header, channel);
  }

  private String noHandler(ChannelHeader header) {
    return switch (header.getKind()) {
      // The source's first postcopy connection may beat the destination's Finish: it retries on this reason.
      case POSTCOPY_PAGES -> "migration " + migrationId + " is " + DataPlane.NOT_IN_POSTCOPY + " yet";
      case UNRECOGNIZED -> "unknown stream kind " + header.getKindValue() + " for migration " + migrationId;
      default -> "migration " + migrationId + " expects no " + header.getKind() + " stream";
    };
  }

  /** Marks the registration dead and returns its handlers, for the caller to forget. */
  synchronized List<StreamHandler> forget() {
    forgotten = true;
    List<StreamHandler> all = new ArrayList<>(handlers.values());
    handlers.clear();
    return all;
  }
}
