package org.livemig.engine.security;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/** The host id a verified certificate names: its first dNSName SAN (others may follow), else its CN. */
public final class PeerIdentity {
  private static final int DNS_NAME = 2;

  private PeerIdentity() {}

  public static Optional<String> of(X509Certificate cert) {
    try {
      var sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (san.size() >= 2 && Integer.valueOf(DNS_NAME).equals(san.get(0)) && san.get(1) instanceof String dns) {
            return Optional.of(dns);
          }
        }
      }
    } catch (CertificateParsingException e) {
      return Optional.empty(); // a malformed SAN extension names nobody; CN would be a weaker second guess
    }
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) return Optional.of(rdn.getValue().toString());
      }
    } catch (InvalidNameException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }
}
