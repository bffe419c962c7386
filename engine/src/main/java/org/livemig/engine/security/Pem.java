package org.livemig.engine.security;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/** Reads PEM certificates and private keys. Errors name the file, never its content. */
final class Pem {
  private Pem() {}

  /** All certificates of a PEM file, in order; at least one. */
  static List<X509Certificate> readCertificates(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      List<X509Certificate> out = new ArrayList<>();
      for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) out.add((X509Certificate) c);
      if (out.isEmpty()) throw new IOException("no certificate in " + file);
      return out;
    } catch (CertificateException e) {
      throw new IOException("cannot read certificates from " + file + ": " + e.getMessage(), e);
    }
  }

  /** The private key of a PEM file: PKCS#8 ("PRIVATE KEY"), or a traditional EC/RSA key pair. Unencrypted. */
  static PrivateKey readPrivateKey(Path file) throws IOException {
    Object o;
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
      o = p.readObject();
    } catch (IOException | RuntimeException e) {
      // Not e.getMessage(): a parser's message could quote key material.
      throw new IOException("cannot parse private key " + file + " (" + e.getClass().getSimpleName() + ")");
    }
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    if (o instanceof PrivateKeyInfo info) return converter.getPrivateKey(info);
    if (o instanceof PEMKeyPair pair) return converter.getKeyPair(pair).getPrivate();
    throw new IOException("no unencrypted private key in " + file + (o == null ? "" : " (found " + o.getClass().getSimpleName() + ")"));
  }
}
