package org.livemig.engine.serialization;

/** Marker for actor messages that cross nodes; bound to {@link LivemigSerializer} (protobuf). */
public interface LivemigMessage {}
