package org.livemig.engine.security;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DevPkiTest {
  @TempDir Path dir;

  @Test
  void nodeCertificatesNameTheirHostAndChainToTheCa() throws Exception {
    DevPki.ensure(dir, "host-a", "host-b");
    X509Certificate ca = Pem.readCertificates(dir.resolve(DevPki.CA_CERT)).get(0);
    for (String node : List.of("host-a", "host-b")) {
      X509Certificate cert = Pem.readCertificates(DevPki.certFile(dir, node)).get(0);
      cert.verify(ca.getPublicKey()); // throws unless the CA signed it
      cert.checkValidity();
      assertEquals(node, PeerIdentity.of(cert).orElseThrow());
      assertEquals("CN=" + node, cert.getSubjectX500Principal().getName());
      assertEquals(-1, cert.getBasicConstraints(), "a node certificate is no CA");
      assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
          Files.getPosixFilePermissions(DevPki.keyFile(dir, node)));
      assertTrue(Files.readString(DevPki.keyFile(dir, node)).startsWith("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    }
    assertTrue(ca.getBasicConstraints() >= 0, "the CA is a CA");
    assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
        Files.getPosixFilePermissions(dir.resolve(DevPki.CA_KEY)));
  }

  @Test
  void existingFilesAreNeverOverwrittenAndNewNodesShareTheCa() throws Exception {
    DevPki.ensure(dir, "host-a");
    byte[] ca = Files.readAllBytes(dir.resolve(DevPki.CA_CERT));
    byte[] cert = Files.readAllBytes(DevPki.certFile(dir, "host-a"));
    byte[] key = Files.readAllBytes(DevPki.keyFile(dir, "host-a"));

    DevPki.ensure(dir, "host-a", "host-b");

    assertArrayEquals(ca, Files.readAllBytes(dir.resolve(DevPki.CA_CERT)));
    assertArrayEquals(cert, Files.readAllBytes(DevPki.certFile(dir, "host-a")));
    assertArrayEquals(key, Files.readAllBytes(DevPki.keyFile(dir, "host-a")));
    X509Certificate b = Pem.readCertificates(DevPki.certFile(dir, "host-b")).get(0);
    b.verify(Pem.readCertificates(dir.resolve(DevPki.CA_CERT)).get(0).getPublicKey());
  }

  @Test
  void aCertificateWithoutItsKeyIsAnErrorNotReplaced() throws Exception {
    DevPki.ensure(dir, "host-a");
    Files.delete(DevPki.keyFile(dir, "host-a"));
    byte[] cert = Files.readAllBytes(DevPki.certFile(dir, "host-a"));
    IOException e = assertThrows(IOException.class, () -> DevPki.ensure(dir, "host-a"));
    assertTrue(e.getMessage().contains("host-a.crt without its key"), e.getMessage());
    assertArrayEquals(cert, Files.readAllBytes(DevPki.certFile(dir, "host-a")));
  }

  @ParameterizedTest
  @EnumSource(TlsEngine.class)
  void concurrentCallersEndWithOneCaThatSignedEveryNode(TlsEngine engine) throws Exception {
    int callers = 4;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    CyclicBarrier start = new CyclicBarrier(callers);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        String own = "host-" + i;
        done.add(pool.submit(() -> {
          start.await();
          DevPki.ensure(dir, own, "shared");
          return null;
        }));
      }
      for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    X509Certificate ca = Pem.readCertificates(dir.resolve(DevPki.CA_CERT)).get(0);
    for (String node : List.of("host-0", "host-1", "host-2", "host-3", "shared")) {
      Pem.readCertificates(DevPki.certFile(dir, node)).get(0).verify(ca.getPublicKey());
      assertEquals(engine, new TlsCredentials(dir, node, engine).engine()); // key matches certificate; the engines build from it
    }
  }

  @Test
  void replacedFilesGetANewSerial() throws Exception {
    DevPki.ensure(dir, "host-a");
    X509Certificate first = Pem.readCertificates(DevPki.certFile(dir, "host-a")).get(0);
    Files.delete(DevPki.certFile(dir, "host-a"));
    Files.delete(DevPki.keyFile(dir, "host-a"));
    DevPki.ensure(dir, "host-a");
    assertNotEquals(first.getSerialNumber(), Pem.readCertificates(DevPki.certFile(dir, "host-a")).get(0).getSerialNumber());
  }

  @Test
  void namesThatAreNoHostIdsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> DevPki.ensure(dir, "../etc/passwd"));
    assertThrows(IllegalArgumentException.class, () -> DevPki.ensure(dir, "ca"));
  }
}
