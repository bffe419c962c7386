package org.livemig.engine.guest.disk;

import java.io.IOException;

/** A disk file's superblock is not the one expected (another guest's, disk's or identity's file of that name). */
public final class OtherDiskException extends IOException {
  public OtherDiskException(String message) {
    super(message);
  }
}
