import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createIssuingCa,
  createRootCa,
  importParentCa,
  issueCertificate,
  loadCa,
  localSigner,
  MIN_PARENT_LIFETIME_DAYS,
  openCa,
  parseCsr,
  toPem,
  type CaKeyType,
  sealedBlobOf,
} from '../../../services/keyward/src/ca/index.ts';
import { CRL_URL, DAY, expectCode, KEK, NOW, OCSP_URL, openssl, opensslCsr, policy, testCas, Workdir, x509 } from './fixtures.ts';

const attime = (d: Date) => String(Math.floor(d.getTime() / 1000) + 3600);

describe('certificate authorities', () => {
  const dir = new Workdir();
  after(() => dir.remove());

  for (const [rootType, issuingType] of [
    ['EC-P384', 'EC-P256'],
    ['EC-P256', 'EC-P384'],
    ['RSA-3072', 'RSA-2048'],
    ['RSA-2048', 'EC-P256'],
  ] as Array<[CaKeyType, CaKeyType]>) {
    describe(`root ${rootType}, issuing CA ${issuingType}`, () => {
      it('makes a self-signed root that openssl and @peculiar/x509 accept, with the root profile', async () => {
        const { root, rootRecord } = await testCas(issuingType, rootType);
        const rootFile = dir.file(`root-${rootType}.pem`, rootRecord.certificatePem);
        expect(openssl(['verify', '-CAfile', rootFile, '-attime', attime(NOW), rootFile])).to.include(': OK');
        const text = openssl(['x509', '-in', rootFile, '-noout', '-text']);
        expect(text).to.match(/Basic Constraints: critical\s+CA:TRUE\n/);
        expect(text).to.match(/Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
        const cert = new x509.X509Certificate(rootRecord.certificatePem);
        expect(await cert.isSelfSigned()).to.equal(true);
        expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).to.equal(rootRecord.subjectKeyId);
        expect(rootRecord).to.deep.include({
          keyType: rootType,
          kekId: sealedBlobOf(rootRecord.key).kek,
          subject: `CN=Test Root ${rootType}, O=Keyward Tests`,
          serialHex: cert.serialNumber.toLowerCase(),
        });
        expect(rootRecord.chainPem).to.deep.equal([]);
        expect(root.notAfter.getTime() - root.notBefore.getTime()).to.equal(7300 * DAY);
      });

      it('makes an issuing CA that chains to the root, with pathLen 0, SKI and AKI', async () => {
        const { issuingRecord, rootRecord } = await testCas(issuingType, rootType);
        const rootFile = dir.file(`root-${rootType}-${issuingType}.pem`, rootRecord.certificatePem);
        const issuingFile = dir.file(`issuing-${rootType}-${issuingType}.pem`, issuingRecord.certificatePem);
        expect(openssl(['verify', '-CAfile', rootFile, '-attime', attime(NOW), issuingFile])).to.include(': OK');
        const text = openssl(['x509', '-in', issuingFile, '-noout', '-text']);
        expect(text).to.match(/Basic Constraints: critical\s+CA:TRUE, pathlen:0\n/);
        expect(text).to.match(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign\n/);
        const cert = new x509.X509Certificate(issuingRecord.certificatePem);
        expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).to.equal(rootRecord.subjectKeyId);
        expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).to.equal(issuingRecord.subjectKeyId);
        expect(
          await cert.verify({ publicKey: new x509.X509Certificate(rootRecord.certificatePem).publicKey, signatureOnly: true }),
        ).to.equal(true);
        expect(issuingRecord.chainPem).to.deep.equal([rootRecord.certificatePem]);
        expect(cert.subject).to.equal(`CN=Test Issuing ${issuingType}, O=Keyward Tests, C=DE`);
      });
    });
  }

  it('ends an issuing CA no later than its parent', async () => {
    const root = await createRootCa({
      subject: [{ type: 'CN', value: 'Short Root' }],
      keyType: 'EC-P256',
      validityDays: 30,
      now: NOW,
      kek: KEK,
    });
    const issuing = await createIssuingCa({ parent: root.ca, subject: [{ type: 'CN', value: 'Short Issuing' }], now: NOW, kek: KEK });
    expect(issuing.record.notAfter).to.deep.equal(root.record.notAfter);
  });

  it('refuses a second level under an issuing CA (pathLen 0) as misuse', async () => {
    const { issuing } = await testCas();
    let err: unknown;
    await createIssuingCa({ parent: issuing, subject: [{ type: 'CN', value: 'Too deep' }], now: NOW, kek: KEK }).catch(
      (e: unknown) => (err = e),
    );
    expect(err).to.be.instanceOf(TypeError);
  });

  it('opens a stored CA with the KEK and signs with it', async () => {
    const { issuingRecord, rootRecord } = await testCas();
    const reopened = openCa(JSON.parse(JSON.stringify(issuingRecord)), KEK);
    expect(reopened.subjectName).to.equal(issuingRecord.subject);
    const csr = parseCsr(opensslCsr(dir).pem);
    const leaf = await issueCertificate({
      ca: reopened,
      csr,
      policy: policy(),
      validityDays: 30,
      serialHex: '5a'.repeat(16),
      now: NOW,
      crlUrl: CRL_URL,
      ocspUrl: OCSP_URL,
    });
    const out = openssl([
      'verify',
      '-CAfile',
      dir.file('r.pem', rootRecord.certificatePem),
      '-untrusted',
      dir.file('i.pem', issuingRecord.certificatePem),
      '-attime',
      attime(NOW),
      dir.file('l.pem', leaf.certificatePem),
    ]);
    expect(out).to.include(': OK');
  });

  it("refuses a signer whose key is not the certificate's (misuse)", async () => {
    const { issuingRecord } = await testCas();
    expect(() => loadCa(issuingRecord, localSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey))).to.throw(
      TypeError,
      /not the CA certificate's key/,
    );
  });

  describe('importing an operator CA (importParentCa)', () => {
    /** openssl stamps its certificates with the real clock; import a minute later. */
    const now = new Date(Date.now() + 60_000);
    function operatorCa(o: { key?: string[]; ext?: string[]; days?: string } = {}): { cert: string; key: string } {
      const keyFile = dir.at(`op${Math.random().toString(36).slice(2)}.key`);
      const certFile = `${keyFile}.crt`;
      openssl([
        'req',
        '-x509',
        ...(o.key ?? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
        '-nodes',
        '-keyout',
        keyFile,
        '-subj',
        '/CN=Operator Root/O=Operator',
        '-days',
        o.days ?? '365',
        ...(o.ext ?? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
        '-out',
        certFile,
      ]);
      return {
        cert: dir.read(certFile.slice(dir.path.length + 1)).toString(),
        key: dir.read(keyFile.slice(dir.path.length + 1)).toString(),
      };
    }

    it('imports a CA made by openssl and issues a Keyward issuing CA under it that openssl accepts', async () => {
      const op = operatorCa();
      const imported = importParentCa({ certificatePem: op.cert, keyPem: op.key, now, kek: KEK });
      expect(imported.record.subject).to.equal('CN=Operator Root, O=Operator');
      const issuing = await createIssuingCa({
        parent: imported.ca,
        subject: [{ type: 'CN', value: 'Keyward demo Issuing CA' }],
        now,
        kek: KEK,
      });
      expect(
        openssl([
          'verify',
          '-CAfile',
          dir.file('op.pem', op.cert),
          '-attime',
          attime(now),
          dir.file('op-issuing.pem', issuing.record.certificatePem),
        ]),
      ).to.include(': OK');
      expect(issuing.record.chainPem).to.deep.equal([imported.record.certificatePem]);
    });

    it('keeps the chain that follows the CA certificate in the PEM', () => {
      const op = operatorCa();
      const other = operatorCa();
      const imported = importParentCa({ certificatePem: `${op.cert}${other.cert}`, keyPem: op.key, now, kek: KEK });
      expect(imported.record.chainPem).to.have.length(1);
      expect(imported.record.chainPem[0]).to.equal(
        toPem(Buffer.from(other.cert.replace(/-----[^-]+-----|\s/g, ''), 'base64'), 'CERTIFICATE'),
      );
    });

    const refusals: Array<[string, () => { cert: string; key: string }]> = [
      ['a certificate that is not a CA', () => operatorCa({ ext: ['-addext', 'basicConstraints=critical,CA:FALSE'] })],
      [
        'a CA that allows no CA below it (pathlen 0)',
        () => operatorCa({ ext: ['-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0'] }),
      ],
      [
        'a CA whose key usage lacks keyCertSign',
        () => operatorCa({ ext: ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature'] }),
      ],
      ["a key that is not the certificate's", () => ({ cert: operatorCa().cert, key: operatorCa().key })],
      [
        'an encrypted key',
        () => {
          const op = operatorCa();
          return {
            cert: op.cert,
            key: openssl(['pkey', '-aes256', '-passout', 'pass:secret'], op.key).replace(/^[\s\S]*?(-----BEGIN)/, '$1'),
          };
        },
      ],
      ['text that is not a certificate', () => ({ cert: 'not a certificate', key: operatorCa().key })],
      [
        'a certificate with broken DER',
        () => {
          const op = operatorCa();
          return { cert: op.cert.replace(/\n[A-Za-z0-9+/]{8}/, '\nAAAAAAAA'), key: op.key };
        },
      ],
      ['an Ed25519 CA (unsupported key type)', () => operatorCa({ key: ['-newkey', 'ed25519'] })],
    ];
    // What cannot be read at all is malformed input (400); a readable CA that does not suit is refused with 422.
    const unreadable = ['an encrypted key', 'text that is not a certificate', 'a certificate with broken DER'];
    for (const [what, make] of refusals) {
      const [code, status] = unreadable.includes(what) ? (['ca.malformed', 400] as const) : (['ca.invalid', 422] as const);
      it(`refuses ${what} with ${code}`, () => {
        const { cert, key } = make();
        const err = expectCode(() => importParentCa({ certificatePem: cert, keyPem: key, now, kek: KEK }), code);
        expect(err.status).to.equal(status);
      });
    }

    it('refuses a CA that is not valid at the time of import with ca.invalid', () => {
      const op = operatorCa({ days: '1' });
      expectCode(
        () => importParentCa({ certificatePem: op.cert, keyPem: op.key, now: new Date(now.getTime() + 3 * DAY), kek: KEK }),
        'ca.invalid',
      );
    });
    it('refuses a CA that ends before a useful lifetime (MIN_PARENT_LIFETIME_DAYS) with ca.invalid', () => {
      const op = operatorCa({ days: String(MIN_PARENT_LIFETIME_DAYS - 1) });
      const err = expectCode(() => importParentCa({ certificatePem: op.cert, keyPem: op.key, now, kek: KEK }), 'ca.invalid');
      expect(err.detail).to.match(/days left/);
    });

    it('imports an RSA-3072 PKCS#8 key from openssl right after refusing a key of another type', () => {
      const rsa = operatorCa({ key: ['-newkey', 'rsa:3072'] });
      const ec = operatorCa();
      expectCode(() => importParentCa({ certificatePem: rsa.cert, keyPem: ec.key, now, kek: KEK }), 'ca.invalid');
      expect(importParentCa({ certificatePem: rsa.cert, keyPem: rsa.key, now, kek: KEK }).record.keyType).to.equal('RSA-3072');
    });

    it('accepts traditional PKCS#1 and SEC1 keys, including openssl ecparam output with its EC PARAMETERS block', () => {
      const pkcs1 = dir.at('trad-rsa.key');
      openssl(['genrsa', '-traditional', '-out', pkcs1, '2048']);
      const sec1 = dir.at('trad-ec.key');
      openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-out', sec1]);
      for (const keyFile of [pkcs1, sec1]) {
        const certFile = `${keyFile}.crt`;
        openssl([
          'req',
          '-x509',
          '-key',
          keyFile,
          '-subj',
          '/CN=Operator Root',
          '-days',
          '365',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-out',
          certFile,
        ]);
        const keyPem = readFileSync(keyFile, 'utf8');
        expect(keyPem).to.match(/BEGIN (RSA|EC) PRIVATE KEY/);
        expect(importParentCa({ certificatePem: readFileSync(certFile, 'utf8'), keyPem, now, kek: KEK }).record.subject).to.equal(
          'CN=Operator Root',
        );
      }
    });
  });
});
