import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, CRLNumber } from '@peculiar/asn1-x509';
import { expect } from 'chai';
import {
  buildCrl,
  buildCrlStreamed,
  issueCertificate,
  parseCsr,
  parseRevocationReason,
  REASON_CODES,
  REVOCATION_REASONS,
  type CaKeyType,
  type RevokedCertificate,
  type RevocationReason,
} from '../../../services/keyward/src/ca/index.ts';
import { crlTemplate } from '../../../services/keyward/src/ca/revocation/crl.ts';
import { newSerialHex } from '../../../services/keyward/src/kernel/ids.ts';
import {
  CRL_URL,
  DAY,
  expectCode,
  NOW,
  OCSP_URL,
  openssl,
  opensslCsr,
  opensslStatus,
  policy,
  testCas,
  webSigning,
  Workdir,
  x509,
  type TestCas,
} from './fixtures.ts';

/** openssl's wording of each reason in `openssl crl -text`. */
const OPENSSL_REASONS: Record<RevocationReason, string | undefined> = {
  unspecified: undefined,
  keyCompromise: 'Key Compromise',
  cACompromise: 'CA Compromise',
  affiliationChanged: 'Affiliation Changed',
  superseded: 'Superseded',
  cessationOfOperation: 'Cessation Of Operation',
  certificateHold: 'Certificate Hold',
  removeFromCRL: 'Remove From CRL',
  privilegeWithdrawn: 'Privilege Withdrawn',
  aACompromise: 'AA Compromise',
};

const tbsOf = (der: Uint8Array | ArrayBuffer) => Buffer.from(AsnConvert.parse(der, CertificateList).tbsCertListRaw!).toString('hex');

/** The TBSCertList's bytes read from the DER headers alone (the ASN.1 parser caps the number of nodes it reads). */
function rawTbs(der: Uint8Array): Buffer {
  const b = Buffer.from(der);
  const skip = (at: number) => (b[at + 1]! < 0x80 ? 2 : 2 + (b[at + 1]! & 0x7f));
  const length = (at: number) => (b[at + 1]! < 0x80 ? b[at + 1]! : b.readUIntBE(at + 2, b[at + 1]! & 0x7f));
  const start = skip(0);
  return b.subarray(start, start + skip(start) + length(start));
}

/** The slow path: @peculiar/x509's CRL generator for the same inputs. */
async function reference(
  cas: TestCas,
  entries: readonly RevokedCertificate[],
  crlNumber: bigint,
  thisUpdate: Date,
  nextUpdate: Date,
): Promise<x509.X509Crl> {
  const caCert = new x509.X509Certificate(cas.issuing.certificatePem);
  const signing = webSigning(cas.issuingKey);
  return x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: await signing.key,
    signingAlgorithm: signing.algorithm,
    entries: entries.map((e) => ({ serialNumber: e.serialHex, revocationDate: e.revokedAt, reason: REASON_CODES[e.reason] })),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      new x509.Extension('2.5.29.20', false, AsnConvert.serialize(new CRLNumber(Number(crlNumber)))),
    ],
  });
}

describe('revocation', () => {
  const dir = new Workdir();
  after(() => dir.remove());

  describe('reasons (parseRevocationReason)', () => {
    for (const name of REVOCATION_REASONS) {
      it(`accepts ${name} (code ${REASON_CODES[name]})`, () => expect(parseRevocationReason(name)).to.equal(name));
    }
    for (const bad of ['KeyCompromise', 'key_compromise', 'compromised', '', 7, undefined, null, 'constructor', 'toString']) {
      it(`refuses ${JSON.stringify(bad)} with certificate.invalid_reason`, () => {
        const err = expectCode(() => parseRevocationReason(bad), 'certificate.invalid_reason');
        expect(err.status).to.equal(400);
        expect(err.extras.allowed).to.deep.equal(REVOCATION_REASONS);
      });
    }
  });

  describe('CRL (buildCrl)', () => {
    const entries: RevokedCertificate[] = REVOCATION_REASONS.map((reason, i) => ({
      serialHex: newSerialHex(),
      revokedAt: new Date(NOW.getTime() - i * 3_600_000),
      reason,
    }));
    const thisUpdate = NOW;
    const nextUpdate = new Date(NOW.getTime() + DAY);

    for (const caType of ['EC-P256', 'EC-P384', 'RSA-2048'] as CaKeyType[]) {
      describe(`signed by an ${caType} CA`, () => {
        let der: Uint8Array;
        let cas: TestCas;
        before(async () => {
          cas = await testCas(caType);
          der = await buildCrl({ ca: cas.issuing, entries, crlNumber: 42n, thisUpdate, nextUpdate });
        });

        it('is byte for byte the TBSCertList the @peculiar/x509 generator makes', async () => {
          const withReasons = entries.filter((e) => e.reason !== 'unspecified');
          const ref = await reference(cas, withReasons, 42n, thisUpdate, nextUpdate);
          const ours = await buildCrl({ ca: cas.issuing, entries: withReasons, crlNumber: 42n, thisUpdate, nextUpdate });
          expect(tbsOf(ours)).to.equal(tbsOf(ref.rawData));
          // RSA PKCS#1 v1.5 signatures are deterministic: there the whole CRL is the same
          if (caType.startsWith('RSA-')) expect(Buffer.from(ours).equals(Buffer.from(ref.rawData))).to.equal(true);
        });

        it(
          'leaves out the entry extensions of an entry without a reason, ' + 'where the generator writes an empty (invalid) SEQUENCE',
          async () => {
            // RFC 5280 §4.1: Extensions ::= SEQUENCE SIZE (1..MAX); §5.3.1: reasonCode SHOULD be absent for unspecified.
            const only: RevokedCertificate[] = [{ serialHex: '0a0b', revokedAt: NOW, reason: 'unspecified' }];
            const ours = tbsOf(await buildCrl({ ca: cas.issuing, entries: only, crlNumber: 42n, thisUpdate, nextUpdate }));
            const ref = tbsOf((await reference(cas, only, 42n, thisUpdate, nextUpdate)).rawData);
            const entry = '02020a0b170d3236303330313132303030305a';
            expect(ours).to.include(`3013${entry}a0`); // SEQUENCE { serial, date } then crlExtensions [0]
            expect(ref).to.include(`3015${entry}3000`); // the generator's empty crlEntryExtensions
          },
        );

        it('is read by openssl crl, which lists every serial with its reason and verifies the signature', () => {
          const file = dir.file(`crl-${caType}.der`, der);
          const text = openssl([
            'crl',
            '-inform',
            'DER',
            '-in',
            file,
            '-noout',
            '-text',
            '-CAfile',
            dir.file(`issuing-${caType}.pem`, cas.issuing.certificatePem),
          ]);
          expect(text).to.include('verify OK');
          expect(text).to.match(/X509v3 CRL Number: \n\s+42\n/);
          expect(text).to.include(`Issuer: CN = Test Issuing ${caType}, O = Keyward Tests, C = DE`);
          expect(text).to.include('Last Update: Mar  1 12:00:00 2026 GMT');
          expect(text).to.include('Next Update: Mar  2 12:00:00 2026 GMT');
          for (const e of entries) {
            const block = text.slice(text.indexOf(`Serial Number: ${e.serialHex.toUpperCase()}`));
            expect(block, e.serialHex).to.not.equal(text.slice(-1));
            const next = block.indexOf('Serial Number:', 10);
            const entry = next > 0 ? block.slice(0, next) : block;
            const wording = OPENSSL_REASONS[e.reason];
            if (wording) expect(entry, e.reason).to.include(`CRL Reason Code: \n                ${wording}`);
            else expect(entry, e.reason).not.to.include('CRL Reason Code');
          }
        });

        it('is read by @peculiar/x509, whose signature check passes', async () => {
          const crl = new x509.X509Crl(der);
          expect(await crl.verify({ publicKey: new x509.X509Certificate(cas.issuing.certificatePem).publicKey })).to.equal(true);
          expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).to.deep.equal(entries.map((e) => e.serialHex));
          expect(crl.entries.map((e) => e.reason ?? 0)).to.deep.equal(entries.map((e) => REASON_CODES[e.reason]));
          expect(crl.entries[3]!.revocationDate).to.deep.equal(entries[3]!.revokedAt);
          expect(crl.thisUpdate).to.deep.equal(thisUpdate);
          expect(crl.nextUpdate).to.deep.equal(nextUpdate);
          const aki = crl.getExtension(x509.AuthorityKeyIdentifierExtension);
          expect(aki?.keyId).to.equal(Buffer.from(cas.issuing.subjectKeyId).toString('hex'));
        });
      });
    }

    it('makes openssl verify refuse a revoked certificate (-crl_check)', async () => {
      const cas = await testCas();
      const leaf = await issueCertificate({
        ca: cas.issuing,
        csr: parseCsr(opensslCsr(dir).pem),
        policy: policy(),
        validityDays: 30,
        serialHex: newSerialHex(),
        now: NOW,
        crlUrl: CRL_URL,
        ocspUrl: OCSP_URL,
      });
      const crl = await buildCrl({
        ca: cas.issuing,
        entries: [{ serialHex: leaf.serialHex, revokedAt: NOW, reason: 'keyCompromise' }],
        crlNumber: 1n,
        thisUpdate: NOW,
        nextUpdate: new Date(NOW.getTime() + DAY),
      });
      const crlPem = openssl(['crl', '-inform', 'DER', '-outform', 'PEM'], crl);
      const args = [
        'verify',
        '-crl_check',
        '-attime',
        String(NOW.getTime() / 1000 + 60),
        '-CAfile',
        dir.file('root.pem', cas.rootRecord.certificatePem),
        '-untrusted',
        dir.file('issuing.pem', cas.issuing.certificatePem),
        '-CRLfile',
        dir.file('crl.pem', crlPem),
        dir.file('leaf.pem', leaf.certificatePem),
      ];
      const r = opensslStatus(args);
      expect(r.status).to.not.equal(0);
      expect(r.output).to.include('certificate revoked');
    });

    it('omits revokedCertificates when nothing is revoked, and openssl reads it', async () => {
      const cas = await testCas();
      const der = await buildCrl({ ca: cas.issuing, entries: [], crlNumber: 1n, thisUpdate, nextUpdate });
      const text = openssl(['crl', '-inform', 'DER', '-noout', '-text'], der);
      expect(text).to.include('No Revoked Certificates.');
      expect(new x509.X509Crl(der).entries).to.deep.equal([]);
    });

    it('writes 100,000 entries that openssl counts', async () => {
      const cas = await testCas();
      const many: RevokedCertificate[] = Array.from({ length: 100_000 }, (_, i) => ({
        serialHex: newSerialHex(),
        revokedAt: new Date(NOW.getTime() - i * 1000),
        reason: REVOCATION_REASONS[i % REVOCATION_REASONS.length]!,
      }));
      const der = await buildCrl({ ca: cas.issuing, entries: many, crlNumber: 2n ** 70n, thisUpdate, nextUpdate });
      const text = openssl(
        ['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', dir.file('issuing-many.pem', cas.issuing.certificatePem)],
        der,
      );
      expect(text).to.include('verify OK');
      expect(text.match(/Serial Number: /g)).to.have.length(100_000);
      expect(text).to.match(/X509v3 CRL Number: \n\s+0x400000000000000000\n|X509v3 CRL Number: \n\s+1180591620717411303424\n/);
    });

    describe('streamed (buildCrlStreamed): entries in batches, as a database cursor delivers them', () => {
      async function* batches(all: readonly RevokedCertificate[], size: number) {
        for (let i = 0; i < all.length; i += size) {
          await new Promise((r) => setImmediate(r)); // a FETCH round trip between batches
          yield all.slice(i, i + size);
        }
      }
      const many: RevokedCertificate[] = Array.from({ length: 30_000 }, (_, i) => ({
        serialHex: newSerialHex(),
        revokedAt: new Date(NOW.getTime() - (30_000 - i) * 1000),
        reason: REVOCATION_REASONS[i % REVOCATION_REASONS.length]!,
      }));
      for (const caType of ['EC-P256', 'RSA-2048'] as CaKeyType[]) {
        describe(`signed by an ${caType} CA`, () => {
          let cas: TestCas;
          before(async () => {
            cas = await testCas(caType);
          });
          for (const [label, list] of [
            ['no entries', [] as RevokedCertificate[]],
            ['one entry per reason', entries],
            ['30,000 entries', many],
          ] as const) {
            for (const size of [1, 7, 5000]) {
              if (size === 1 && list.length > 100) continue;
              it(`writes the bytes of buildCrl for ${label}, in batches of ${size}`, async () => {
                const base = { ca: cas.issuing, crlNumber: 99n, thisUpdate, nextUpdate };
                const streamed = await buildCrlStreamed({ ...base, entries: batches(list, size) });
                const whole = await buildCrl({ ...base, entries: list });
                expect(streamed.count).to.equal(list.length);
                expect(rawTbs(streamed.der).equals(rawTbs(whole))).to.equal(true);
                if (list.length <= 100) expect(tbsOf(streamed.der)).to.equal(tbsOf(whole));
                // RSA PKCS#1 v1.5 signatures are deterministic: the whole CRL is the same
                if (caType.startsWith('RSA-')) expect(Buffer.from(streamed.der).equals(Buffer.from(whole))).to.equal(true);
              });
            }
          }

          it('is byte for byte the TBSCertList the @peculiar/x509 generator makes', async () => {
            const withReasons = many.filter((e) => e.reason !== 'unspecified').slice(0, 600);
            const ref = await reference(cas, withReasons, 42n, thisUpdate, nextUpdate);
            const ours = await buildCrlStreamed({
              ca: cas.issuing,
              crlNumber: 42n,
              thisUpdate,
              nextUpdate,
              entries: batches(withReasons, 333),
            });
            expect(tbsOf(ours.der)).to.equal(tbsOf(ref.rawData));
            if (caType.startsWith('RSA-')) expect(Buffer.from(ours.der).equals(Buffer.from(ref.rawData))).to.equal(true);
          });

          it('is read by openssl crl (every serial, signature verified) and by @peculiar/x509', async () => {
            const { der } = await buildCrlStreamed({
              ca: cas.issuing,
              crlNumber: 7n,
              thisUpdate,
              nextUpdate,
              entries: batches(many, 5000),
            });
            const text = openssl(
              [
                'crl',
                '-inform',
                'DER',
                '-noout',
                '-text',
                '-CAfile',
                dir.file(`issuing-streamed-${caType}.pem`, cas.issuing.certificatePem),
              ],
              der,
            );
            expect(text).to.include('verify OK');
            expect(text.match(/Serial Number: /g)).to.have.length(many.length);
            for (const e of many.slice(0, 50)) expect(text).to.include(`Serial Number: ${e.serialHex.toUpperCase()}`);
            // @peculiar/x509 reads at most some thousand ASN.1 nodes: its check runs on the first 600 entries
            const few = many.slice(0, 600);
            const small = await buildCrlStreamed({ ca: cas.issuing, crlNumber: 7n, thisUpdate, nextUpdate, entries: batches(few, 64) });
            const crl = new x509.X509Crl(small.der);
            expect(await crl.verify({ publicKey: new x509.X509Certificate(cas.issuing.certificatePem).publicKey })).to.equal(true);
            expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).to.deep.equal(few.map((e) => e.serialHex));
            expect(crl.entries.map((e) => e.reason ?? 0)).to.deep.equal(few.map((e) => REASON_CODES[e.reason]));
          });
        });
      }
    });

    it('refuses misuse: a negative or oversized CRL number, nextUpdate not after thisUpdate, an unknown reason', async () => {
      const cas = await testCas();
      const base = { ca: cas.issuing, entries: [], crlNumber: 1n, thisUpdate, nextUpdate };
      expect(() => crlTemplate({ ...base, crlNumber: -1n })).to.throw(TypeError);
      expect(() => crlTemplate({ ...base, crlNumber: 2n ** 160n })).to.throw(TypeError);
      expect(() => crlTemplate({ ...base, nextUpdate: thisUpdate })).to.throw(TypeError);
      expect(() => crlTemplate({ ...base, entries: [{ serialHex: 'ab', revokedAt: NOW, reason: 'nope' as never }] })).to.throw(TypeError);
    });
  });
});
