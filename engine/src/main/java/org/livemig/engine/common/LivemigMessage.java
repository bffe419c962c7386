package org.livemig.engine.common;

/** Marker for actor messages that cross nodes; bound to {@link LivemigSerializer} (protobuf). */
public interface LivemigMessage {}
