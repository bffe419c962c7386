package org.livemig.engine.security;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A development PKI in one key directory: a self-signed CA ({@code ca.crt}, {@code ca.key}) and
 * per-node certificates signed by it ({@code <node>.crt}, {@code <node>.key}). A node's identity
 * (its host id) is the certificate's CN and its first dNSName SAN; then come {@link #CLUSTER_NAME}
 * (Akka's TLS provider lets only peers that share a subject name with it talk to it),
 * "localhost" and 127.0.0.1 (an operator's HTTPS client on the node itself checks the name).
 * Keys are RSA (Akka's provider reads no other), PKCS#8 PEM, mode 0600.
 *
 * <p>For demos and tests: every node sharing the directory trusts the same CA. Production keeps
 * {@code ca.key} off the hosts and supplies real certificates under the same file names.
 */
public final class DevPki {
  private static final Logger log = LoggerFactory.getLogger(DevPki.class);
  public static final String CA_CERT = "ca.crt";
  public static final String CA_KEY = "ca.key";
  private static final String LOCK_FILE = ".devpki.lock";
  private static final String SIGNATURE = "SHA256withRSA";
  /** The subject name every node certificate shares. */
  public static final String CLUSTER_NAME = "livemig-cluster";
  private static final Duration CA_VALIDITY = Duration.ofDays(3650);
  private static final Duration NODE_VALIDITY = Duration.ofDays(825);
  private static final SecureRandom RANDOM = new SecureRandom();

  private DevPki() {}

  public static Path certFile(Path dir, String node) {
    return dir.resolve(checkedName(node) + ".crt");
  }

  public static Path keyFile(Path dir, String node) {
    return dir.resolve(checkedName(node) + ".key");
  }

  /**
   * Creates the CA when it is missing and a certificate for each node that has none; existing
   * files are never overwritten. Safe when several threads or JVMs call it on one directory at
   * once (a file lock serializes them). A node with only one of its two files is an error.
   */
  public static void ensure(Path dir, String... nodes) throws IOException {
    for (String node : nodes) checkedName(node);
    Files.createDirectories(dir);
    // FileLock excludes other JVMs only; threads of this JVM would get OverlappingFileLockException.
    synchronized (DevPki.class) {
      try (FileChannel lockChannel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock ignored = lockChannel.lock()) {
        Ca ca = loadOrCreateCa(dir);
        for (String node : nodes) ensureNode(dir, ca, node);
      } catch (GeneralSecurityException | OperatorCreationException e) {
        throw new IOException("cannot create development certificates in " + dir + ": " + e.getMessage(), e);
      }
    }
  }

  private record Ca(X509Certificate certificate, PrivateKey key) {}

  private static Ca loadOrCreateCa(Path dir) throws IOException, GeneralSecurityException, OperatorCreationException {
    Path crt = dir.resolve(CA_CERT);
    Path key = dir.resolve(CA_KEY);
    boolean haveCrt = Files.exists(crt);
    boolean haveKey = Files.exists(key);
    if (haveCrt && haveKey) return new Ca(Pem.readCertificates(crt).get(0), Pem.readPrivateKey(key));
    if (haveCrt || haveKey) {
      throw new IOException(dir + " has " + (haveCrt ? CA_CERT + " without " + CA_KEY : CA_KEY + " without " + CA_CERT)
          + ": cannot sign development certificates (supply node certificates yourself or remove it)");
    }
    KeyPair pair = newKeyPair();
    X500Name name = new X500Name("CN=livemig development CA");
    Instant now = Instant.now();
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(Duration.ofMinutes(5))),
        Date.from(now.plus(CA_VALIDITY)), name, pair.getPublic())
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
        .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
    X509Certificate cert = sign(b, pair.getPrivate());
    // Key first: a CA certificate without its key could never sign anything.
    writeAtomically(key, pem(pair.getPrivate()), true);
    writeAtomically(crt, pem(cert), false);
    log.info("created development CA in {}", dir);
    return new Ca(cert, pair.getPrivate());
  }

  private static void ensureNode(Path dir, Ca ca, String node) throws IOException, GeneralSecurityException, OperatorCreationException {
    Path crt = certFile(dir, node);
    Path key = keyFile(dir, node);
    boolean haveCrt = Files.exists(crt);
    boolean haveKey = Files.exists(key);
    if (haveCrt && haveKey) return;
    if (haveCrt || haveKey) {
      throw new IOException(dir + " has " + (haveCrt ? crt.getFileName() : key.getFileName()) + " without its "
          + (haveCrt ? "key" : "certificate") + ": remove it to have both created");
    }
    KeyPair pair = newKeyPair();
    Instant now = Instant.now();
    JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca.certificate(), serial(),
        Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(NODE_VALIDITY)),
        new X500Name("CN=" + node), pair.getPublic())
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
        // Every host both dials (client) and listens (server) on the data plane.
        .addExtension(Extension.extendedKeyUsage, false,
            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
        .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.dNSName, node), new GeneralName(GeneralName.dNSName, CLUSTER_NAME),
            new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")}))
        .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca.certificate()))
        .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
    X509Certificate cert = sign(b, ca.key());
    writeAtomically(key, pem(pair.getPrivate()), true);
    writeAtomically(crt, pem(cert), false);
    log.info("created development certificate for {} in {} (serial {})", node, dir, cert.getSerialNumber().toString(16));
  }

  private static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048, RANDOM);
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE); // positive, at most 16 bytes (RFC 5280)
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey issuerKey)
      throws OperatorCreationException, GeneralSecurityException {
    ContentSigner signer = new JcaContentSignerBuilder(SIGNATURE).build(issuerKey);
    return new JcaX509CertificateConverter().getCertificate(b.build(signer));
  }

  private static String pem(Object o) throws IOException {
    StringWriter s = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(s)) {
      // PrivateKey.getEncoded() is PKCS#8: written as "PRIVATE KEY", what OpenSSL and JSSE tools expect.
      if (o instanceof PrivateKey k) w.writeObject(new PemObject("PRIVATE KEY", k.getEncoded()));
      else w.writeObject(o);
    }
    return s.toString();
  }

  /** Writes a temporary file (0600 from its creation if secret) and moves it into place; the target must not exist. */
  private static void writeAtomically(Path target, String content, boolean secret) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    Path tmp = posix
        ? Files.createTempFile(dir, ".tmp-", ".pem", PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--")))
        : Files.createTempFile(dir, ".tmp-", ".pem");
    try {
      Files.write(tmp, content.getBytes(StandardCharsets.US_ASCII));
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** A node name becomes a file name and a DNS name: letters, digits, '-', '_' and '.', not starting with '.'. */
  private static String checkedName(String node) {
    if (node == null || !node.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
      throw new IllegalArgumentException("not a usable node name: " + node);
    }
    if (node.equals("ca")) throw new IllegalArgumentException("node name 'ca' is the CA's");
    return node;
  }
}
