import { expect } from 'chai';
import {
  PROFILES,
  backdate,
  generateCaKey,
  localSigner,
  signCertificate,
  spkiOf,
  type CertificateProfile,
} from '../../../services/keyward/src/ca/index.ts';
import { newSerialHex } from '../../../services/keyward/src/kernel/ids.ts';
import { DAY, NOW, openssl, testCas, Workdir, x509 } from './fixtures.ts';

const attime = (d: Date) => String(Math.floor(d.getTime() / 1000));

describe('the certificate writer (signCertificate) and its profiles', () => {
  const dir = new Workdir();
  after(() => dir.remove());

  const expected: Record<string, { ca: boolean; pathLength?: number; ku: number; eku: string[] }> = {
    clientAuth: { ca: false, ku: x509.KeyUsageFlags.digitalSignature, eku: [x509.ExtendedKeyUsage.clientAuth] },
    apiClient: { ca: false, ku: x509.KeyUsageFlags.digitalSignature, eku: [x509.ExtendedKeyUsage.clientAuth] },
    tlsServer: {
      ca: false,
      ku: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      eku: [x509.ExtendedKeyUsage.serverAuth],
    },
    devTls: { ca: false, ku: x509.KeyUsageFlags.digitalSignature, eku: [x509.ExtendedKeyUsage.serverAuth] },
    issuingCa: {
      ca: true,
      pathLength: 0,
      ku: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      eku: [],
    },
    clusterCa: { ca: true, pathLength: 0, ku: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, eku: [] },
  };

  for (const [name, want] of Object.entries(expected)) {
    it(`writes the ${name} profile's basic constraints, key usages and EKUs under a CA, and openssl verifies the chain`, async () => {
      const cas = await testCas();
      const profile = (PROFILES as Record<string, CertificateProfile>)[name]!;
      const key = await generateCaKey('EC-P256');
      const notBefore = backdate(NOW, profile);
      const { pem } = await signCertificate({
        issuer: cas.issuing,
        profile,
        subject: [{ type: 'CN', value: `${name}.example.internal` }],
        sans: { dns: [`${name}.example.internal`], ip: [], uri: [], email: [] },
        spki: spkiOf(key),
        serialHex: newSerialHex(),
        notBefore,
        notAfter: new Date(notBefore.getTime() + DAY),
      });
      const cert = new x509.X509Certificate(pem);
      const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
      expect({ ca: bc.ca, critical: bc.critical }).to.deep.equal({ ca: want.ca, critical: true });
      if (want.ca) expect(bc.pathLength).to.equal(want.pathLength);
      expect(cert.getExtension(x509.KeyUsagesExtension)!.usages).to.equal(want.ku);
      expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).to.deep.equal(want.eku);
      expect(cert.getExtension(x509.CRLDistributionPointsExtension), 'no revocation pointers').to.equal(null);
      expect(cert.notBefore.toISOString()).to.equal(new Date(NOW.getTime() - profile.backdateSeconds * 1000).toISOString());
      const files = [
        dir.file(`${name}-root.pem`, cas.rootRecord.certificatePem),
        dir.file(`${name}-issuing.pem`, cas.issuing.certificatePem),
      ];
      const leaf = dir.file(`${name}.pem`, pem);
      expect(openssl(['verify', '-CAfile', files[0]!, '-untrusted', files[1]!, '-attime', attime(NOW), leaf])).to.include(': OK');
    });
  }

  it('writes a self-signed certificate without an authority key identifier, verified by openssl', async () => {
    const signer = localSigner(await generateCaKey('EC-P384'));
    const notBefore = backdate(NOW, PROFILES.rootCa);
    const { pem } = await signCertificate({
      issuer: { selfSigned: signer },
      profile: PROFILES.rootCa,
      subject: [{ type: 'CN', value: 'Self Root' }],
      spki: signer.spki,
      serialHex: newSerialHex(),
      notBefore,
      notAfter: new Date(notBefore.getTime() + DAY),
    });
    const cert = new x509.X509Certificate(pem);
    expect(await cert.isSelfSigned()).to.equal(true);
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)).to.equal(null);
    const file = dir.file('self-root.pem', pem);
    expect(openssl(['verify', '-CAfile', file, '-attime', attime(NOW), file])).to.include(': OK');
  });

  it("refuses misuse with TypeError: a self-signed certificate for another key, a leaf profile without the CA's URLs", async () => {
    const cas = await testCas();
    const signer = localSigner(await generateCaKey('EC-P256'));
    const other = spkiOf(await generateCaKey('EC-P256'));
    const base = {
      subject: [{ type: 'CN', value: 'x' }],
      serialHex: newSerialHex(),
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + DAY),
    };
    let err: unknown;
    await signCertificate({ ...base, issuer: { selfSigned: signer }, profile: PROFILES.devTls, spki: other }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(TypeError);
    err = undefined;
    const leaf = { ...PROFILES.clientAuth, name: 'leaf', revocationPointers: true };
    await signCertificate({ ...base, issuer: cas.issuing, profile: leaf, spki: other }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(TypeError);
  });
});
