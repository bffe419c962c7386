package org.livemig.engine.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's TLS credentials from PEM files in a key directory: its certificate and key
 * ({@code <node>.crt}, {@code <node>.key}) and the only trusted CA ({@code ca.crt}).
 *
 * <p>{@link #current()} is called once per new connection: it rereads the files and rebuilds the
 * context when their content changed (content, not modification times, whose resolution may be a
 * second). Existing connections keep the engine they were made with. If a changed set of files
 * does not load (e.g. a certificate replaced before its key), the last good context stays in use
 * and the failure is logged; the next connection tries again. Thread-safe.
 */
public final class TlsCredentials {
  private static final Logger log = LoggerFactory.getLogger(TlsCredentials.class);
  public static final String PROTOCOL = "TLSv1.3";

  private final Path caFile;
  private final Path certFile;
  private final Path keyFile;
  private final String node;
  private final TlsEngine engine;
  // Guarded by this.
  private byte[] loadedDigest;
  private Loaded loaded;

  /**
   * The JDK context (Artery, HTTPS, and the data plane's JDK engine), the data plane's engines
   * (made from the same key and trust managers), and this node's certificate they present.
   */
  public record Loaded(SSLContext context, SslEngines engines, X509Certificate certificate) {}

  /** JDK engines only; see {@link #TlsCredentials(Path, String, TlsEngine)}. */
  public TlsCredentials(Path keyDir, String node) throws IOException {
    this(keyDir, node, TlsEngine.JDK);
  }

  /**
   * Loads now: missing or unreadable files fail here, at start, rather than at the first
   * connection. The data plane's engines are of the kind wanted, or JDK where BoringSSL does not
   * load ({@link TlsEngine#usable}).
   */
  public TlsCredentials(Path keyDir, String node, TlsEngine wanted) throws IOException {
    this.caFile = keyDir.resolve(DevPki.CA_CERT);
    this.certFile = DevPki.certFile(keyDir, node);
    this.keyFile = DevPki.keyFile(keyDir, node);
    this.node = node;
    this.engine = TlsEngine.usable(wanted);
    byte[] digest = digest();
    this.loaded = load();
    this.loadedDigest = digest;
    log.info("TLS credentials of {} loaded from {} (serial {}, {} engine)", node, keyDir, loaded.certificate().getSerialNumber().toString(16),
        engine.configName());
  }

  public String node() {
    return node;
  }

  /** The kind of {@link Loaded#engines()}: the one asked for, unless it is not available here. */
  public TlsEngine engine() {
    return engine;
  }

  /** The contexts to make the next connection's engine with, rebuilt first if the files changed. */
  public synchronized Loaded current() {
    byte[] digest;
    try {
      digest = digest();
    } catch (IOException e) {
      log.warn("cannot read TLS files of {} ({}); keeping the loaded ones", node, e.toString());
      return loaded;
    }
    if (Arrays.equals(digest, loadedDigest)) return loaded;
    try {
      Loaded fresh = load();
      loaded = fresh;
      log.info("TLS credentials of {} reloaded (serial {})", node, fresh.certificate().getSerialNumber().toString(16));
    } catch (IOException e) {
      log.warn("changed TLS files of {} do not load ({}); keeping the loaded ones", node, e.getMessage());
    }
    loadedDigest = digest; // a broken set is retried when it changes again, not on every connection
    return loaded;
  }

  /** A certificate replaced without its key (or the reverse) fails here, not at every peer's handshake. */
  private void requireMatch(PrivateKey key, X509Certificate cert) throws GeneralSecurityException, IOException {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> throw new IOException(keyFile + " holds an unsupported " + key.getAlgorithm() + " key");
    };
    byte[] probe = new byte[32];
    new SecureRandom().nextBytes(probe);
    Signature s = Signature.getInstance(algorithm);
    s.initSign(key);
    s.update(probe);
    byte[] signature = s.sign();
    s.initVerify(cert.getPublicKey());
    s.update(probe);
    if (!s.verify(signature)) throw new IOException(keyFile + " is not the key of " + certFile);
  }

  private byte[] digest() throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Path p : List.of(caFile, certFile, keyFile)) {
        md.update(Files.readAllBytes(p));
        md.update((byte) 0);
      }
      return md.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  /**
   * A client context that trusts only the CA in caFile and presents no certificate: an
   * operator's HTTPS client (migratectl), which authenticates with a bearer token instead.
   */
  public static SSLContext trusting(Path caFile) throws IOException {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      List<X509Certificate> cas = Pem.readCertificates(caFile);
      for (int i = 0; i < cas.size(); i++) trust.setCertificateEntry("ca-" + i, cas.get(i));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trust);
      SSLContext context = SSLContext.getInstance(PROTOCOL);
      context.init(null, tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot trust the CA of " + caFile + ": " + e, e);
    }
  }

  private Loaded load() throws IOException {
    List<X509Certificate> cas = Pem.readCertificates(caFile);
    List<X509Certificate> chain = new ArrayList<>(Pem.readCertificates(certFile));
    PrivateKey key = Pem.readPrivateKey(keyFile);
    X509Certificate own = chain.get(0);
    if (PeerIdentity.of(own).filter(node::equals).isEmpty()) {
      throw new IOException(certFile + " does not name " + node + " (it names " + PeerIdentity.of(own).orElse("nobody") + ")");
    }
    if (chain.size() == 1) chain.add(cas.get(0));
    try {
      requireMatch(key, own);
      char[] none = new char[0];
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry(node, key, none, chain.toArray(new X509Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
      kmf.init(keys, none);
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      for (int i = 0; i < cas.size(); i++) trust.setCertificateEntry("ca-" + i, cas.get(i));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trust);
      SSLContext context = SSLContext.getInstance(PROTOCOL);
      context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return new Loaded(context, SslEngines.of(engine, context, kmf, tmf), own);
    } catch (GeneralSecurityException | SSLException e) {
      // The message of a key-store failure does not carry key bytes; the key itself is not logged.
      throw new IOException("cannot build TLS context of " + node + ": " + e, e);
    }
  }
}
