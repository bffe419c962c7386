package org.livemig.engine.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;
import org.livemig.engine.security.DevPki;
import org.livemig.engine.security.TlsCredentials;
import org.livemig.engine.security.TlsEngine;

/**
 * Who may talk over TlsTransport on each SSLEngine: only holders of a certificate from our CA,
 * only over TLS 1.3, only the expected host.
 */
@ParameterizedClass
@EnumSource(TlsEngine.class)
class TlsAuthenticationTest {
  @Parameter TlsEngine engine;
  @TempDir Path keys;
  @TempDir Path elsewhere;
  private TlsRig rig;
  private Transport.Acceptor acceptor;

  @BeforeEach
  void start() throws IOException {
    rig = new TlsRig(keys, engine);
    acceptor = rig.transport("host-b").listen("127.0.0.1", 0, TlsRig.OPTIONS);
  }

  @AfterEach
  void stop() throws IOException {
    acceptor.close();
    rig.close();
  }

  /** The server's first read: it runs the handshake, so a refused client fails it. */
  private Future<Integer> serverReadsOnce() {
    return rig.async(() -> {
      try (Connection c = acceptor.acceptConnection()) {
        return c.read(ByteBuffer.allocate(100));
      }
    });
  }

  @Test
  void aClientWithACertificateFromAnotherCaIsRefused() throws Exception {
    // host-a's name, but signed by another CA; it trusts our CA, so only the server can object.
    DevPki.ensure(elsewhere, "host-a");
    Path mixed = Files.createDirectory(elsewhere.resolve("mixed"));
    Files.copy(keys.resolve(DevPki.CA_CERT), mixed.resolve(DevPki.CA_CERT));
    Files.copy(DevPki.certFile(elsewhere, "host-a"), DevPki.certFile(mixed, "host-a"), StandardCopyOption.COPY_ATTRIBUTES);
    Files.copy(DevPki.keyFile(elsewhere, "host-a"), DevPki.keyFile(mixed, "host-a"), StandardCopyOption.COPY_ATTRIBUTES);
    Future<Integer> server = serverReadsOnce();

    // TLS 1.3: the client finishes its side before the server has checked its certificate; the
    // server's alert reaches it at the latest on its first read.
    IOException clientSide = assertThrows(IOException.class, () -> {
      try (Connection c = TlsRig.transport(mixed, "host-a", TlsRig.TIMEOUT, engine).dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS, TlsRig.TIMEOUT)) {
        c.write(ByteBuffer.wrap(new byte[] {1}));
        c.read(ByteBuffer.allocate(1));
      }
    });
    assertTrue(clientSide instanceof SSLException, clientSide.toString());
    assertServerRefusedHandshake(server);
  }

  @Test
  void aClientWithoutACertificateIsRefused() throws Exception {
    Future<Integer> server = serverReadsOnce();
    SSLContext anonymous = SSLContext.getInstance("TLSv1.3");
    anonymous.init(null, trustingOurCa().getTrustManagers(), null);
    try (SSLSocket s = (SSLSocket) anonymous.getSocketFactory().createSocket("127.0.0.1", acceptor.port())) {
      s.setEnabledProtocols(new String[] {"TLSv1.3"});
      // The alert, or a broken pipe if the server already closed: either way nothing goes through.
      assertThrows(IOException.class, () -> {
        s.startHandshake();
        s.getOutputStream().write(1);
        s.getInputStream().read();
      });
    }
    assertServerRefusedHandshake(server);
  }

  @Test
  void tls12IsNotNegotiatedEvenWithAValidCertificate() throws Exception {
    Future<Integer> server = serverReadsOnce();
    SSLContext context = new TlsCredentials(keys, "host-a").current().context();
    try (SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", acceptor.port())) {
      s.setEnabledProtocols(new String[] {"TLSv1.2"});
      assertThrows(SSLHandshakeException.class, s::startHandshake);
    }
    assertServerRefusedHandshake(server);
  }

  @Test
  void theDiallerRefusesAServerWithAnotherNameAndSendsItNothing() throws Exception {
    Future<Long> server = rig.async(() -> {
      try (Connection c = acceptor.acceptConnection()) {
        long n = TlsRig.drain(c);
        assertEquals(Optional.of("host-a"), c.peerIdentity(), "the handshake itself completed");
        return n;
      }
    });
    SSLPeerUnverifiedException e = assertThrows(SSLPeerUnverifiedException.class,
        () -> rig.transport("host-a").dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS.expecting("host-c"), TlsRig.TIMEOUT));
    assertTrue(e.getMessage().contains("is host-b, not the expected host-c"), e.getMessage());
    assertEquals(0L, server.get(10, TimeUnit.SECONDS), "not one application byte (no channel header) reached the wrong host");
  }

  @Test
  void theDestinationSeesWhoDialled() throws Exception {
    Future<Optional<String>> server = rig.async(() -> {
      try (Connection c = acceptor.acceptConnection()) {
        c.read(ByteBuffer.allocate(1));
        return c.peerIdentity();
      }
    });
    try (Connection c = rig.transport("host-c").dial("127.0.0.1", acceptor.port(), TlsRig.OPTIONS.expecting("host-b"), TlsRig.TIMEOUT)) {
      c.write(ByteBuffer.wrap(new byte[] {1}));
      assertEquals(Optional.of("host-c"), server.get(10, TimeUnit.SECONDS));
    }
  }

  private static void assertServerRefusedHandshake(Future<Integer> server) throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class, () -> server.get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof SSLHandshakeException, "server side: " + e.getCause());
  }

  private TrustManagerFactory trustingOurCa() throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(keys.resolve(DevPki.CA_CERT))) {
      trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(trust);
    return tmf;
  }
}
