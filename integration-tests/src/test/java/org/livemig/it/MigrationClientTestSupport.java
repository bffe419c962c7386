package org.livemig.it;

import org.livemig.messages.MigrationInfo;
import org.livemig.messages.MigrationStatus;

final class MigrationClientTestSupport {
  private MigrationClientTestSupport() {}

  static boolean ended(MigrationInfo i) {
    return i.getStatus() == MigrationStatus.COMPLETED || i.getStatus() == MigrationStatus.FAILED
        || i.getStatus() == MigrationStatus.CANCELLED;
  }
}
