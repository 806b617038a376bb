import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { parseCsr, type Csr } from '../../../services/keyward/src/ca/index.ts';
import { ipToBytes } from '../../../services/keyward/src/ca/san.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { expectCode, opensslCsr, pemToDer, rsaKeyPem, Workdir, x509 } from './fixtures.ts';

/** How @peculiar/x509 reads the same CSR: the reference our strict reader is held to. */
async function libraryView(pem: string, verify = true) {
  const req = new x509.Pkcs10CertificateRequest(pem);
  const names = { E: 'emailAddress', '2.5.4.5': 'serialNumber' } as Record<string, string>;
  const subject = req.subjectName
    .toJSON()
    .flatMap((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((value) => ({ type: names[type] ?? type, value }))));
  const ext = req.extensions.find((e) => e.type === '2.5.29.17');
  const json = ext ? new x509.SubjectAlternativeNameExtension(ext.rawData).names.toJSON() : [];
  return {
    verified: verify ? await req.verify() : true,
    subject,
    dns: json.filter((n) => n.type === 'dns').map((n) => n.value),
    ip: json.filter((n) => n.type === 'ip').map((n) => Buffer.from(ipToBytes(n.value)!).toString('hex')),
    uri: json.filter((n) => n.type === 'url').map((n) => n.value),
    email: json.filter((n) => n.type === 'email').map((n) => n.value),
    spki: Buffer.from(req.publicKey.rawData).toString('hex'),
  };
}

const ourView = (c: Csr) => ({
  verified: true,
  subject: c.subject.map((a) => ({ ...a })),
  dns: [...c.sans.dns],
  ip: c.sans.ip.map((i) => Buffer.from(ipToBytes(i)!).toString('hex')),
  uri: [...c.sans.uri],
  email: [...c.sans.email],
  spki: Buffer.from(c.spki).toString('hex'),
});

describe('CSR (parseCsr)', () => {
  const dir = new Workdir();
  after(() => dir.remove());

  const allSans = [
    'DNS:api.apps.example.internal',
    'DNS:web.apps.example.internal',
    'IP:10.1.2.3',
    'IP:fd00::1:2',
    'URI:spiffe://example.internal/ns/prod/sa/api',
    'email:ops@example.internal',
  ];
  const fixtures: Array<{
    what: string;
    key: string;
    subject?: string;
    sans?: string[];
    digest?: string;
    extra?: string[];
    keyType: string;
    webCryptoCurve?: false;
  }> = [
    { what: 'an EC P-256 CSR with every kind of SAN', key: 'ec:P-256', sans: allSans, keyType: 'EC-P256' },
    { what: 'an EC P-384 CSR', key: 'ec:P-384', sans: ['DNS:api.example.internal'], keyType: 'EC-P384' },
    { what: 'an RSA-2048 CSR', key: 'rsa:2048', keyType: 'RSA-2048' },
    { what: 'an RSA-3072 CSR signed with SHA-384', key: 'rsa:3072', digest: 'sha384', keyType: 'RSA-3072' },
    { what: 'an EC P-256 CSR signed with SHA-512', key: 'ec:P-256', digest: 'sha512', keyType: 'EC-P256' },
    {
      what: 'a CSR with a long subject in order',
      key: 'ec:P-256',
      subject:
        '/DC=internal/DC=example/C=DE/ST=Berlin/L=Berlin/O=Example GmbH/OU=Ops/CN=api.apps.example.internal' +
        '/emailAddress=ops@example.internal/serialNumber=A-1234',
      keyType: 'EC-P256',
    },
    {
      what: 'a CSR with a UTF-8 subject',
      key: 'ec:P-256',
      subject: '/CN=Jürgen Müller/O=Bäckerei Ünal',
      extra: ['-utf8'],
      keyType: 'EC-P256',
    },
    {
      what: 'a CSR with a multi-valued RDN (flattened in order)',
      key: 'ec:P-256',
      subject: '/O=Example/CN=api+OU=Ops',
      extra: ['-multivalue-rdn'],
      keyType: 'EC-P256',
    },
    {
      what: 'a CSR with an empty subject and a SAN',
      key: 'ec:P-256',
      subject: '/',
      sans: ['DNS:api.example.internal'],
      keyType: 'EC-P256',
    },
    {
      what: 'a CSR asking for CA powers and its own key usages (read, not honoured)',
      key: 'ec:P-256',
      extra: [
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=keyCertSign,cRLSign',
        '-addext',
        'extendedKeyUsage=codeSigning',
      ],
      keyType: 'EC-P256',
    },
    { what: 'a weak RSA-1024 CSR (parsed; the policy refuses it)', key: 'rsa:1024', keyType: 'RSA-1024' },
    { what: 'an RSA CSR with public exponent 3 (parsed; no policy can allow it)', key: rsaKeyPem(2048, 3), keyType: 'RSA-2048-e3' },
    { what: 'a P-521 CSR', key: 'ec:P-521', keyType: 'EC-P521' },
    // WebCrypto has no secp256k1, so the library cannot verify this one; node:crypto can.
    { what: 'a secp256k1 CSR', key: 'ec:secp256k1', keyType: 'EC-secp256k1', webCryptoCurve: false },
  ];

  for (const f of fixtures) {
    it(`reads ${f.what} as @peculiar/x509 does, key type ${f.keyType}`, async () => {
      const { pem } = opensslCsr(dir, f);
      const csr = parseCsr(pem);
      expect(csr.keyType).to.equal(f.keyType);
      expect(ourView(csr)).to.deep.equal(await libraryView(pem, f.webCryptoCurve !== false));
      expect(csr.unsupportedSans).to.deep.equal([]);
      expect(Object.isFrozen(csr) && Object.isFrozen(csr.subject) && Object.isFrozen(csr.sans.dns)).to.equal(true);
      expect(csr.pem).to.match(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    });
  }

  it('reads the subject in certificate order with policy names', () => {
    const csr = parseCsr(
      opensslCsr(dir, { subject: '/C=DE/O=Example/OU=Ops/CN=api/emailAddress=ops@example.internal/serialNumber=7/DC=example' }).pem,
    );
    expect(csr.subject).to.deep.equal([
      { type: 'C', value: 'DE' },
      { type: 'O', value: 'Example' },
      { type: 'OU', value: 'Ops' },
      { type: 'CN', value: 'api' },
      { type: 'emailAddress', value: 'ops@example.internal' },
      { type: 'serialNumber', value: '7' },
      { type: 'DC', value: 'example' },
    ]);
  });

  it('names attribute types it has no name for by OID', () => {
    const csr = parseCsr(opensslCsr(dir, { subject: '/CN=api/title=Boss' }).pem);
    expect(csr.subject).to.deep.equal([
      { type: 'CN', value: 'api' },
      { type: '2.5.4.12', value: 'Boss' },
    ]);
  });

  it('writes IPv6 SANs in RFC 5952 form', () => {
    const csr = parseCsr(opensslCsr(dir, { sans: ['IP:FD00:0:0:0:0:0:0:1', 'IP:2001:db8:0:0:1:0:0:1', 'IP:::ffff:10.0.0.1'] }).pem);
    expect(csr.sans.ip).to.deep.equal(['fd00::1', '2001:db8::1:0:0:1', '::ffff:a00:1']);
  });

  it('records SAN kinds Keyward does not certify instead of dropping them', () => {
    const csr = parseCsr(
      opensslCsr(dir, { sans: ['DNS:api.example.internal', 'otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.internal', 'RID:1.2.3.4'] })
        .pem,
    );
    expect(csr.sans.dns).to.deep.equal(['api.example.internal']);
    expect(csr.unsupportedSans).to.deep.equal(['otherName', 'registeredID']);
  });

  it('accepts DER bytes, bare base64 and "NEW CERTIFICATE REQUEST" PEM', () => {
    const { pem } = opensslCsr(dir);
    const der = pemToDer(pem);
    const expected = parseCsr(pem).spki;
    expect(parseCsr(new Uint8Array(der)).spki).to.deep.equal(expected);
    expect(parseCsr(der.toString('base64')).spki).to.deep.equal(expected);
    expect(parseCsr(pem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST')).spki).to.deep.equal(expected);
    expect(parseCsr(`Certificate request made by openssl\n${pem}\ntrailing words`).spki).to.deep.equal(expected);
  });

  it('keeps its own copy of DER input', () => {
    const der = new Uint8Array(pemToDer(opensslCsr(dir).pem));
    const csr = parseCsr(der);
    der.fill(0);
    expect(csr.der[0]).to.equal(0x30);
  });

  describe('bad input', () => {
    let pem: string;
    let der: Buffer;
    before(() => {
      pem = opensslCsr(dir, { sans: ['DNS:api.example.internal'] }).pem;
      der = pemToDer(pem);
    });

    const malformed: Array<[string, () => string | Uint8Array]> = [
      ['an empty string', () => ''],
      ['text that is not PEM', () => 'hello world'],
      ['a PEM certificate instead of a request', () => pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE')],
      ['PEM with broken base64', () => pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!')],
      ['random bytes', () => new Uint8Array(200).fill(0x41)],
      ['a truncated DER', () => der.subarray(0, der.length - 10)],
      ['DER with trailing bytes', () => Buffer.concat([der, Buffer.from([0, 0])])],
      [
        'BER with an indefinite length',
        () => Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2), Buffer.from([0, 0])]),
      ],
      ['a CSR larger than 64 KiB', () => Buffer.concat([Buffer.from([0x30, 0x83, 0x01, 0x10, 0x00]), Buffer.alloc(0x11000)])],
    ];
    for (const [what, input] of malformed) {
      it(`refuses ${what} with csr.malformed`, () => {
        const err = expectCode(() => parseCsr(input()), 'csr.malformed');
        expect(err.status).to.equal(400);
      });
    }

    it('refuses every truncation of a valid CSR with csr.malformed', () => {
      for (let n = 0; n < der.length; n++) expectCode(() => parseCsr(der.subarray(0, n)), 'csr.malformed');
    });

    it('refuses every single-bit change of a valid CSR with a KeywardError (never another error, never a certificate)', () => {
      const codes = new Set<string>();
      for (let i = 0; i < der.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const mutated = Buffer.from(der);
          mutated[i]! ^= bit;
          try {
            parseCsr(mutated);
            expect.fail(`byte ${i} bit ${bit} was accepted`);
          } catch (err) {
            expect(err, `byte ${i}: ${String(err)}`).to.be.instanceOf(KeywardError);
            codes.add((err as KeywardError).code);
          }
        }
      }
      expect([...codes].sort()).to.include.members(['csr.bad_signature', 'csr.malformed']);
    });

    it('refuses a changed signature with csr.bad_signature', () => {
      const bad = Buffer.from(der);
      bad[bad.length - 1]! ^= 0x01;
      expectCode(() => parseCsr(bad), 'csr.bad_signature');
    });

    it('refuses a CSR carrying another key than the one that signed it with csr.bad_signature', () => {
      const other = parseCsr(opensslCsr(dir).pem).spki;
      const mine = parseCsr(pem).spki;
      const swapped = Buffer.from(der);
      const at = swapped.indexOf(Buffer.from(mine));
      expect(at).to.be.greaterThan(0);
      Buffer.from(other).copy(swapped, at);
      expectCode(() => parseCsr(swapped), 'csr.bad_signature');
    });

    it('refuses a CSR signed with SHA-1 with csr.bad_signature (no trustworthy proof of possession)', () => {
      expectCode(() => parseCsr(opensslCsr(dir, { digest: 'sha1' }).pem), 'csr.bad_signature', { signatureAlgorithm: '1.2.840.10045.4.1' });
    });

    it('refuses a DSA key with policy.key_not_allowed', () => {
      const key = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString();
      expectCode(() => parseCsr(opensslCsr(dir, { key }).pem), 'policy.key_not_allowed', { keyType: 'dsa' });
    });

    it('reads an Ed25519 CSR and verifies it (the policy then refuses the key type)', () => {
      expect(parseCsr(opensslCsr(dir, { key: 'ed25519' }).pem).keyType).to.equal('ed25519');
    });

    it('throws TypeError when called with something that is not text or bytes (misuse)', () => {
      expect(() => parseCsr(42 as never)).to.throw(TypeError);
    });
  });
});
