package org.livemig.engine.security;

import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * The data plane's SSLEngines, made from one node's key material: TLS 1.3 only, AES-128-GCM
 * preferred, a client certificate required by the server. No peer host is given to either
 * engine, so no session is ever resumed: every connection verifies a certificate, and reloaded
 * credentials take effect at once.
 */
public abstract sealed class SslEngines {
  // AES-128-GCM first: with AES-NI the cheapest of the TLS 1.3 suites per byte, and strong enough.
  static final List<String> SUITES = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384");
  // BoringSSL's TLS 1.3 suites cannot be chosen: it always offers these three (AES-GCM first where
  // the CPU has AES instructions). Named as they are, so that netty does not log at every build
  // that the list it was given is not the one used.
  static final List<String> BORINGSSL_SUITES = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

  private SslEngines() {}

  /** The engine kind these make. */
  public abstract TlsEngine kind();

  /** A new engine for one connection, set up for the client or the server side. */
  public abstract SSLEngine newEngine(boolean client);

  static SslEngines of(TlsEngine kind, SSLContext jdk, KeyManagerFactory keys, TrustManagerFactory trust) throws SSLException {
    return kind == TlsEngine.OPENSSL ? new BoringSsl(keys, trust) : new Jsse(jdk);
  }

  /** JSSE's SSLEngine from the node's SSLContext. */
  static final class Jsse extends SslEngines {
    private final SSLContext context;

    Jsse(SSLContext context) {
      this.context = context;
    }

    @Override
    public TlsEngine kind() {
      return TlsEngine.JDK;
    }

    @Override
    public SSLEngine newEngine(boolean client) {
      SSLEngine engine = context.createSSLEngine(); // no peer host: JSSE then never resumes a session
      engine.setUseClientMode(client);
      SSLParameters p = engine.getSSLParameters();
      p.setProtocols(new String[] {TlsCredentials.PROTOCOL});
      p.setCipherSuites(SUITES.toArray(new String[0]));
      p.setUseCipherSuitesOrder(true);
      if (!client) p.setNeedClientAuth(true);
      engine.setSSLParameters(p);
      return engine;
    }
  }

  /**
   * BoringSSL's SSLEngine (netty-tcnative), from the same KeyManagerFactory and TrustManagerFactory
   * as the JDK's: the chain is verified by the same PKIX trust manager. Engines of
   * {@link SslProvider#OPENSSL} free their native state when collected, so none is released by hand.
   * BoringSSL's TLS 1.3 suites are fixed ({@link #BORINGSSL_SUITES}); between two hosts with AES
   * instructions AES-128-GCM is chosen, as with the JDK's engine.
   */
  static final class BoringSsl extends SslEngines {
    private final SslContext client;
    private final SslContext server;

    BoringSsl(KeyManagerFactory keys, TrustManagerFactory trust) throws SSLException {
      client = withoutSessionCache(SslContextBuilder.forClient()
          .sslProvider(SslProvider.OPENSSL)
          .keyManager(keys)
          .trustManager(trust)
          .endpointIdentificationAlgorithm(null) // the peer's name is checked after the handshake (PeerIdentity)
          .protocols(TlsCredentials.PROTOCOL)
          .ciphers(BORINGSSL_SUITES)
          .build());
      server = withoutSessionCache(SslContextBuilder.forServer(keys)
          .sslProvider(SslProvider.OPENSSL)
          .trustManager(trust)
          .clientAuth(ClientAuth.REQUIRE)
          .protocols(TlsCredentials.PROTOCOL)
          .ciphers(BORINGSSL_SUITES)
          .build());
    }

    /** No session cache (netty already sends no session tickets): every handshake is a full one. */
    private static SslContext withoutSessionCache(SslContext context) {
      if (context.sessionContext() instanceof OpenSslSessionContext s) s.setSessionCacheEnabled(false);
      return context;
    }

    @Override
    public TlsEngine kind() {
      return TlsEngine.OPENSSL;
    }

    @Override
    public SSLEngine newEngine(boolean client) {
      return (client ? this.client : server).newEngine(UnpooledByteBufAllocator.DEFAULT);
    }
  }
}
