import javax.security.auth.x500.X500Principal;
import java.io.FileInputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;

/** Does Java's X500Principal (what Keycloak's client-x509 authenticator compares) read args[1] as the subject of certificate args[0]? */
public class DnCheck {
  public static void main(String[] args) throws Exception {
    X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new FileInputStream(args[0]));
    X500Principal expected = new X500Principal(args[1]);
    System.out.println(c.getSubjectX500Principal().equals(expected) ? "match" : "no match: " + c.getSubjectX500Principal().getName());
  }
}
