package org.livemig.engine.security;

import io.netty.handler.ssl.OpenSsl;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which SSLEngine the data plane's TLS runs on ({@code livemig.host.data-plane.tls.engine}):
 * BoringSSL through netty-tcnative, or the JDK's own (JSSE). Both speak the same TLS 1.3 with
 * the same credentials and checks, so hosts with different engines talk to each other.
 */
public enum TlsEngine {
  /** BoringSSL (netty-tcnative's statically linked native library); JDK where it cannot load. */
  OPENSSL,
  /** JSSE's SSLEngine. */
  JDK;

  private static final Logger log = LoggerFactory.getLogger(TlsEngine.class);
  private static final AtomicBoolean warned = new AtomicBoolean();

  /** "openssl" or "jdk" (any case); anything else is an error naming the setting. */
  public static TlsEngine fromConfig(String value) {
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "openssl" -> OPENSSL;
      case "jdk" -> JDK;
      default -> throw new IllegalArgumentException("livemig.host.data-plane.tls.engine must be openssl or jdk, not \"" + value + "\"");
    };
  }

  /**
   * The engine this JVM can run for wanted: OPENSSL when BoringSSL's native library loads here,
   * else JDK, with one WARN per JVM that names the reason.
   */
  public static TlsEngine usable(TlsEngine wanted) {
    if (wanted == JDK || OpenSsl.isAvailable()) return wanted;
    if (warned.compareAndSet(false, true)) {
      Throwable cause = OpenSsl.unavailabilityCause();
      log.warn("data-plane TLS engine openssl (BoringSSL, netty-tcnative) is not available here, using the JDK's: {}", String.valueOf(cause));
      log.debug("why BoringSSL did not load", cause);
    }
    return JDK;
  }

  /** As in the setting: "openssl" or "jdk". */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
