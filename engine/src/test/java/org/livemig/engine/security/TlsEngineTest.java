package org.livemig.engine.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.ssl.OpenSsl;
import org.junit.jupiter.api.Test;

class TlsEngineTest {
  @Test
  void theSettingNamesOneOfTwoEngines() {
    assertEquals(TlsEngine.OPENSSL, TlsEngine.fromConfig("openssl"));
    assertEquals(TlsEngine.JDK, TlsEngine.fromConfig(" JDK "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TlsEngine.fromConfig("boringssl"));
    assertTrue(e.getMessage().contains("livemig.host.data-plane.tls.engine must be openssl or jdk"), e.getMessage());
  }

  /** The build ships BoringSSL for linux-x86_64: there the setting's default must not fall back. */
  @Test
  void boringSslLoadsHere() {
    assertTrue(OpenSsl.isAvailable(), () -> "BoringSSL did not load: " + OpenSsl.unavailabilityCause());
    assertEquals(TlsEngine.OPENSSL, TlsEngine.usable(TlsEngine.OPENSSL));
    assertEquals(TlsEngine.JDK, TlsEngine.usable(TlsEngine.JDK));
  }
}
