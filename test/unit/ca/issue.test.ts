import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { expect } from 'chai';
import { createPublicKey, verify } from 'node:crypto';
import {
  createIssuingCa,
  createRootCa,
  issueCertificate,
  parseCsr,
  unprotectKey,
  type CaKeyType,
  type Csr,
  type IssueRequest,
  type NameAttribute,
  type Policy,
  type Sans,
  sealedBlobOf,
} from '../../../services/keyward/src/ca/index.ts';
import { newSerialHex } from '../../../services/keyward/src/kernel/ids.ts';
import {
  CRL_URL,
  DAY,
  expectCodeAsync,
  KEK,
  NOW,
  OCSP_URL,
  openssl,
  opensslCsr,
  policy,
  testCas,
  webSigning,
  Workdir,
  x509,
  type CsrOptions,
  type TestCas,
} from './fixtures.ts';

const attime = (d: Date) => String(Math.floor(d.getTime() / 1000) + 60);

/** RFC 5280 names and OIDs written out here, independently of ca/oids.ts. */
const EKU: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
};
const LIBRARY_NAMES: Record<string, string> = { emailAddress: 'E', serialNumber: '2.5.4.5' };
const STRING_TYPES: Record<string, keyof x509.JsonAttributeObject> = {
  C: 'printableString',
  serialNumber: 'printableString',
  emailAddress: 'ia5String',
  DC: 'ia5String',
};

/**
 * The slow path: what @peculiar/x509's X509CertificateGenerator makes for
 * the same inputs — CSR parsed and its key taken by the library, SKI and AKI
 * computed by the library, extensions in our documented order.
 */
async function reference(
  cas: TestCas,
  csrPem: string,
  p: Policy,
  subject: readonly NameAttribute[],
  sans: Sans,
  serialHex: string,
  notBefore: Date,
  notAfter: Date,
): Promise<x509.X509Certificate> {
  const req = new x509.Pkcs10CertificateRequest(csrPem);
  const caCert = new x509.X509Certificate(cas.issuing.certificatePem);
  const signing = webSigning(cas.issuingKey);
  const names: x509.JsonGeneralName[] = [
    ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
    ...sans.ip.map((value) => ({ type: 'ip' as const, value })),
    ...sans.uri.map((value) => ({ type: 'url' as const, value })),
    ...sans.email.map((value) => ({ type: 'email' as const, value })),
  ];
  const flags = p.keyUsage.reduce((acc, u) => acc | x509.KeyUsageFlags[u], 0);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
  if (flags) extensions.push(new x509.KeyUsagesExtension(flags, true));
  if (p.extendedKeyUsage.length)
    extensions.push(
      new x509.ExtendedKeyUsageExtension(
        p.extendedKeyUsage.map((e) => EKU[e]!),
        false,
      ),
    );
  extensions.push(
    await x509.SubjectKeyIdentifierExtension.create(req.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  );
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names, subject.length === 0));
  extensions.push(new x509.CRLDistributionPointsExtension([CRL_URL]), new x509.AuthorityInfoAccessExtension({ ocsp: [OCSP_URL] }));
  return x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: subject.map((a) => ({ [LIBRARY_NAMES[a.type] ?? a.type]: [{ [STRING_TYPES[a.type] ?? 'utf8String']: a.value }] })) as never,
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey: req.publicKey,
    signingKey: await signing.key,
    signingAlgorithm: signing.algorithm,
    extensions,
  });
}

const tbsOf = (der: Uint8Array | ArrayBuffer) => Buffer.from(AsnConvert.parse(der, Certificate).tbsCertificateRaw!).toString('hex');

describe('issuance (issueCertificate)', () => {
  const dir = new Workdir();
  after(() => dir.remove());

  const request = (cas: TestCas, csr: Csr, o: Partial<IssueRequest> = {}): IssueRequest => ({
    ca: cas.issuing,
    csr,
    policy: policy(),
    validityDays: 30,
    serialHex: newSerialHex(),
    now: NOW,
    crlUrl: CRL_URL,
    ocspUrl: OCSP_URL,
    ...o,
  });

  describe('is byte for byte what the @peculiar/x509 generator makes, and openssl accepts the chain', () => {
    const variants: Array<{ what: string; csr: CsrOptions; policy?: Record<string, unknown>; validityDays?: number }> = [
      {
        what: 'a P-256 key, a long subject and every kind of SAN',
        csr: {
          key: 'ec:P-256',
          subject:
            '/DC=internal/DC=example/C=DE/ST=Berlin/L=Berlin/O=Example/OU=Ops/CN=api.apps.example.internal' +
            '/emailAddress=ops@example.internal/serialNumber=A-1',
          sans: [
            'DNS:api.apps.example.internal',
            'DNS:api.example.internal',
            'IP:10.1.2.3',
            'IP:fd00::1',
            'URI:spiffe://example.internal/ns/prod/sa/api',
            'email:ops@example.internal',
          ],
        },
      },
      { what: 'an RSA-2048 key without SANs', csr: { key: 'rsa:2048', subject: '/O=Example/CN=billing' }, validityDays: 90 },
      {
        what: 'a P-384 key, an empty subject and a critical SAN',
        csr: { key: 'ec:P-384', subject: '/', sans: ['DNS:web.apps.example.internal'] },
        policy: { subject: { required: [], allowed: ['CN'] } },
      },
      {
        what: 'a UTF-8 subject',
        csr: { key: 'ec:P-256', subject: '/CN=Jürgen Müller/O=Bäckerei Ünal', extra: ['-utf8'] },
        validityDays: 1,
      },
      { what: 'a policy without key usages', csr: { key: 'ec:P-256' }, policy: { keyUsage: [], extendedKeyUsage: [] } },
      {
        what: 'a policy with every extended key usage',
        csr: { key: 'rsa:3072' },
        policy: {
          keyUsage: [
            'digitalSignature',
            'nonRepudiation',
            'keyEncipherment',
            'dataEncipherment',
            'keyAgreement',
            'encipherOnly',
            'decipherOnly',
          ],
          extendedKeyUsage: Object.keys(EKU),
        },
      },
      {
        what: 'a CSR asking for CA powers and code signing (the policy decides)',
        csr: {
          key: 'ec:P-256',
          extra: [
            '-addext',
            'basicConstraints=critical,CA:TRUE',
            '-addext',
            'keyUsage=critical,keyCertSign',
            '-addext',
            'extendedKeyUsage=codeSigning',
          ],
        },
      },
    ];
    for (const caType of ['EC-P256', 'EC-P384', 'RSA-2048'] as CaKeyType[]) {
      for (const v of variants) {
        it(`${caType} CA: ${v.what}`, async () => {
          const cas = await testCas(caType);
          const { pem } = opensslCsr(dir, v.csr);
          const p = policy(v.policy);
          const issued = await issueCertificate(
            request(cas, parseCsr(pem), { policy: p, validityDays: v.validityDays ?? 30, now: new Date(NOW.getTime() + 123) }),
          );
          const csr = parseCsr(pem);
          // the slow path, same inputs
          const ref = await reference(cas, pem, p, csr.subject, csr.sans, issued.serialHex, issued.notBefore, issued.notAfter);
          expect(tbsOf(issued.der)).to.equal(tbsOf(ref.rawData));
          // RSA PKCS#1 v1.5 signatures are deterministic: there the whole certificate is the same
          if (caType.startsWith('RSA-')) expect(Buffer.from(issued.der).equals(Buffer.from(ref.rawData))).to.equal(true);
          // our signature verifies with the CA key, through node:crypto and through the library
          const asn = AsnConvert.parse(issued.der, Certificate);
          expect(
            verify(
              cas.issuing.signer.algorithm.hash,
              Buffer.from(asn.tbsCertificateRaw!),
              createPublicKey(cas.issuingKey),
              Buffer.from(asn.signatureValue),
            ),
          ).to.equal(true);
          const parsed = new x509.X509Certificate(issued.certificatePem);
          expect(
            await parsed.verify({ publicKey: new x509.X509Certificate(cas.issuing.certificatePem).publicKey, signatureOnly: true }),
          ).to.equal(true);
          expect(parsed.serialNumber.toLowerCase()).to.equal(issued.serialHex);
          expect(parsed.notBefore.toISOString()).to.equal(NOW.toISOString());
          expect(parsed.getExtension(x509.BasicConstraintsExtension)!.ca).to.equal(false);
          // openssl parses it and accepts the chain
          const leaf = dir.file(`leaf-${issued.serialHex}.pem`, issued.certificatePem);
          expect(openssl(['x509', '-in', leaf, '-noout', '-text'])).to.include(`Signature Algorithm: ${cas.issuing.signer.algorithm.name}`);
          const out = openssl([
            'verify',
            '-CAfile',
            dir.file(`root-${caType}.pem`, cas.rootRecord.certificatePem),
            '-untrusted',
            dir.file(`issuing-${caType}.pem`, cas.issuing.certificatePem),
            '-attime',
            attime(NOW),
            leaf,
          ]);
          expect(out).to.include(': OK');
        });
      }
    }

    it('writes GeneralizedTime for a notAfter from 2050 on, as the generator does', async () => {
      const root = await createRootCa({
        subject: [{ type: 'CN', value: 'Long Root' }],
        keyType: 'EC-P256',
        validityDays: 40 * 365,
        now: NOW,
        kek: KEK,
      });
      const issuing = await createIssuingCa({
        parent: root.ca,
        subject: [{ type: 'CN', value: 'Long Issuing' }],
        validityDays: 40 * 365,
        now: NOW,
        kek: KEK,
      });
      const cas = { issuing: issuing.ca, issuingKey: unprotectKey(KEK, sealedBlobOf(issuing.record.key)) } as TestCas;
      const { pem } = opensslCsr(dir);
      const now = new Date('2049-12-15T00:00:00Z');
      const issued = await issueCertificate(request(cas, parseCsr(pem), { now, validityDays: 60 }));
      expect(issued.notAfter.toISOString()).to.equal('2050-02-13T00:00:00.000Z');
      const csr = parseCsr(pem);
      const ref = await reference(cas, pem, policy(), csr.subject, csr.sans, issued.serialHex, issued.notBefore, issued.notAfter);
      expect(tbsOf(issued.der)).to.equal(tbsOf(ref.rawData));
      expect(openssl(['x509', '-noout', '-enddate'], issued.certificatePem)).to.include('notAfter=Feb 13 00:00:00 2050 GMT');
    });
  });

  describe('the end-entity profile', () => {
    it('takes key usage and extended key usage from the policy, never from the CSR', async () => {
      const cas = await testCas();
      const csr = parseCsr(
        opensslCsr(dir, {
          extra: [
            '-addext',
            'basicConstraints=critical,CA:TRUE',
            '-addext',
            'keyUsage=critical,keyCertSign,cRLSign',
            '-addext',
            'extendedKeyUsage=codeSigning',
          ],
        }).pem,
      );
      const issued = await issueCertificate(
        request(cas, csr, { policy: policy({ keyUsage: ['digitalSignature'], extendedKeyUsage: ['clientAuth'] }) }),
      );
      const text = openssl(['x509', '-noout', '-text'], issued.certificatePem);
      expect(text).to.match(/Basic Constraints: critical\s+CA:FALSE\n/);
      expect(text).to.match(/Key Usage: critical\s+Digital Signature\n/);
      expect(text).to.match(/Extended Key Usage: \s*TLS Web Client Authentication\n/);
      expect(text).not.to.include('Certificate Sign');
      expect(text).not.to.include('Code Signing');
    });

    it('carries the CRL distribution point and the OCSP responder', async () => {
      const issued = await issueCertificate(request(await testCas(), parseCsr(opensslCsr(dir).pem)));
      const text = openssl(['x509', '-noout', '-text'], issued.certificatePem);
      expect(text).to.include(`URI:${CRL_URL}`);
      expect(text).to.include(`OCSP - URI:${OCSP_URL}`);
      expect(openssl(['x509', '-noout', '-ocsp_uri'], issued.certificatePem).trim()).to.equal(OCSP_URL);
    });

    it('starts now (whole seconds) and lasts validityDays', async () => {
      const issued = await issueCertificate(
        request(await testCas(), parseCsr(opensslCsr(dir).pem), { now: new Date(NOW.getTime() + 999), validityDays: 7 }),
      );
      expect(issued.notBefore).to.deep.equal(NOW);
      expect(issued.notAfter.getTime() - issued.notBefore.getTime()).to.equal(7 * DAY);
    });

    it('ends no later than the issuing CA', async () => {
      const root = await createRootCa({
        subject: [{ type: 'CN', value: 'Short Root' }],
        keyType: 'EC-P256',
        validityDays: 10,
        now: NOW,
        kek: KEK,
      });
      const issuing = await createIssuingCa({ parent: root.ca, subject: [{ type: 'CN', value: 'Short Issuing' }], now: NOW, kek: KEK });
      const issued = await issueCertificate({
        ...request(await testCas(), parseCsr(opensslCsr(dir).pem)),
        ca: issuing.ca,
        validityDays: 90,
      });
      expect(issued.notAfter).to.deep.equal(issuing.ca.notAfter);
    });

    it('reports what it certified', async () => {
      const csr = parseCsr(
        opensslCsr(dir, { subject: '/CN=api.apps.example.internal/O=Example', sans: ['DNS:api.apps.example.internal', 'IP:10.9.8.7'] }).pem,
      );
      const issued = await issueCertificate(request(await testCas(), csr, { serialHex: '7e'.repeat(16) }));
      expect(issued).to.deep.include({
        serialHex: '7e'.repeat(16),
        subject: 'CN=api.apps.example.internal, O=Example',
        keyType: 'EC-P256',
      });
      expect(issued.sans).to.deep.equal({ dns: ['api.apps.example.internal'], ip: ['10.9.8.7'], uri: [], email: [] });
      expect(issued.certificatePem).to.match(/^-----BEGIN CERTIFICATE-----\n(.{64}\n)+.{1,64}\n-----END CERTIFICATE-----\n$/);
    });

    it("certifies the end entity's subject and names instead of the CSR's when overridden, still within the policy", async () => {
      const cas = await testCas();
      const csr = parseCsr(
        opensslCsr(dir, { subject: '/CN=whatever', sans: ['DNS:evil.example', 'otherName:1.3.6.1.4.1.311.20.2.3;UTF8:x@y'] }).pem,
      );
      const issued = await issueCertificate(
        request(cas, csr, {
          subjectOverride: [
            { type: 'CN', value: 'billing' },
            { type: 'O', value: 'Example' },
          ],
          sansOverride: { dns: ['billing.apps.example.internal'], ip: [], uri: [], email: [] },
        }),
      );
      const cert = new x509.X509Certificate(issued.certificatePem);
      expect(cert.subject).to.equal('CN=billing, O=Example');
      expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).to.deep.equal([
        { type: 'dns', value: 'billing.apps.example.internal' },
      ]);
      await expectCodeAsync(
        () =>
          issueCertificate(
            request(cas, csr, {
              sansOverride: { dns: ['evil.example'], ip: [], uri: [], email: [] },
              subjectOverride: [{ type: 'CN', value: 'x' }],
            }),
          ),
        'policy.san_not_allowed',
      );
    });
  });

  describe('refusals, in pipeline order', () => {
    const table: Array<{
      what: string;
      csr: CsrOptions;
      policy?: Record<string, unknown>;
      validityDays?: number;
      code:
        | 'policy.key_not_allowed'
        | 'policy.subject_not_allowed'
        | 'policy.san_not_allowed'
        | 'policy.validity_exceeded'
        | 'request.malformed';
      extras?: Record<string, unknown>;
    }> = [
      { what: 'a weak RSA-1024 key', csr: { key: 'rsa:1024' }, code: 'policy.key_not_allowed', extras: { keyType: 'RSA-1024' } },
      {
        what: 'a P-521 key the policy does not list',
        csr: { key: 'ec:P-521' },
        code: 'policy.key_not_allowed',
        extras: { keyType: 'EC-P521' },
      },
      { what: 'an Ed25519 key', csr: { key: 'ed25519' }, code: 'policy.key_not_allowed', extras: { keyType: 'ed25519' } },
      {
        what: 'an RSA-4096 key when the policy allows only EC',
        csr: { key: 'rsa:4096' },
        policy: { keyTypes: ['EC-P256'] },
        code: 'policy.key_not_allowed',
      },
      {
        what: 'a weak key even when its names are also wrong (the key is checked first)',
        csr: { key: 'rsa:1024', sans: ['DNS:evil.example'] },
        code: 'policy.key_not_allowed',
      },
      {
        what: 'a subject attribute outside the policy',
        csr: { subject: '/CN=api/L=Berlin' },
        policy: { subject: { required: ['CN'], allowed: ['CN'] } },
        code: 'policy.subject_not_allowed',
        extras: { attribute: 'L' },
      },
      {
        what: 'a missing required CN',
        csr: { subject: '/O=Example', sans: ['DNS:api.example.internal'] },
        code: 'policy.subject_not_allowed',
        extras: { attribute: 'CN' },
      },
      {
        what: 'a host-name CN outside the DNS patterns',
        csr: { subject: '/CN=www.evil.example' },
        code: 'policy.subject_not_allowed',
        extras: { attribute: 'CN' },
      },
      {
        what: 'neither subject nor SANs',
        csr: { subject: '/' },
        policy: { subject: { required: [], allowed: ['CN'] } },
        code: 'policy.subject_not_allowed',
      },
      {
        what: 'a DNS SAN outside the policy',
        csr: { sans: ['DNS:api.apps.example.internal', 'DNS:evil.example'] },
        code: 'policy.san_not_allowed',
        extras: { san: 'dns:evil.example' },
      },
      { what: 'a DNS SAN two labels below a *. pattern', csr: { sans: ['DNS:a.b.apps.example.internal'] }, code: 'policy.san_not_allowed' },
      {
        what: 'an IP SAN outside the CIDR ranges',
        csr: { sans: ['IP:192.168.0.1'] },
        code: 'policy.san_not_allowed',
        extras: { san: 'ip:192.168.0.1' },
      },
      { what: 'a URI SAN of another trust domain', csr: { sans: ['URI:spiffe://evil.internal/x'] }, code: 'policy.san_not_allowed' },
      {
        what: 'an e-mail SAN when the policy allows none',
        csr: { sans: ['email:a@example.internal'] },
        policy: { san: { dns: ['*.apps.example.internal'], ip: [], uri: [], email: [] } },
        code: 'policy.san_not_allowed',
      },
      {
        what: 'a kind of SAN Keyward does not certify',
        csr: { sans: ['DNS:api.example.internal', 'otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.internal'] },
        code: 'policy.san_not_allowed',
        extras: { san: 'otherName' },
      },
      { what: 'a validity above the maximum', csr: {}, validityDays: 91, code: 'policy.validity_exceeded', extras: { maximum: 90 } },
      { what: 'a validity of zero days', csr: {}, validityDays: 0, code: 'request.malformed' },
    ];
    for (const t of table) {
      it(`refuses ${t.what} with ${t.code}`, async () => {
        const csr = parseCsr(opensslCsr(dir, t.csr).pem);
        const cas = await testCas();
        const err = await expectCodeAsync(
          () => issueCertificate(request(cas, csr, { policy: policy(t.policy), validityDays: t.validityDays ?? 30 })),
          t.code,
          t.extras,
        );
        if (t.code.startsWith('policy.')) expect(err.status).to.equal(422);
      });
    }
  });

  describe('misuse', () => {
    it('refuses a Csr that parseCsr did not make (no verified proof of possession)', async () => {
      const cas = await testCas();
      const real = parseCsr(opensslCsr(dir).pem);
      let err: unknown;
      await issueCertificate(request(cas, { ...real })).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(TypeError);
    });

    for (const serialHex of ['', '00', 'ABCD', 'xyz', '80' + '00'.repeat(19), 'f'.repeat(42)]) {
      it(`refuses the serial ${JSON.stringify(serialHex)}`, async () => {
        let err: unknown;
        await issueCertificate(request(await testCas(), parseCsr(opensslCsr(dir).pem), { serialHex })).catch((e: unknown) => (err = e));
        expect(err).to.be.instanceOf(TypeError);
      });
    }

    it('accepts the largest serial RFC 5280 allows (20 octets)', async () => {
      const issued = await issueCertificate(request(await testCas(), parseCsr(opensslCsr(dir).pem), { serialHex: '7f' + 'ff'.repeat(19) }));
      expect(new x509.X509Certificate(issued.der).serialNumber.toLowerCase()).to.equal('7f' + 'ff'.repeat(19));
    });

    it('refuses URLs that are not http(s), and a CA that is not valid at `now`', async () => {
      const cas = await testCas();
      const csr = parseCsr(opensslCsr(dir).pem);
      for (const o of [
        { crlUrl: 'ldap://x' },
        { ocspUrl: 'http://has space' },
        { now: new Date(cas.issuing.notBefore.getTime() - 1000) },
        { now: cas.issuing.notAfter },
      ]) {
        let err: unknown;
        await issueCertificate(request(cas, csr, o)).catch((e: unknown) => (err = e));
        expect(err, JSON.stringify(o)).to.be.instanceOf(TypeError);
      }
    });
  });
});
