package org.livemig.engine.coordinator;

import org.livemig.messages.MigrationEvent;

/**
 * What the coordinators running on this node tell listeners on this node (its metrics), through
 * the actor system's event stream: never across the cluster. Each coordinator runs on exactly one
 * node at a time, so a node that reports only these reports every migration once however many
 * nodes are asked, where every node hears the cluster-wide topic.
 */
public sealed interface CoordinatedHere {
  /** The event the coordinator published on the topic, in the same order. */
  record Published(MigrationEvent event) implements CoordinatedHere {}

  /**
   * The coordinator stopped on this node: passivated once ended, handed to another node (which
   * publishes its phase again when it takes over), or the node is stopping.
   */
  record Stopped(String migrationId) implements CoordinatedHere {}
}
