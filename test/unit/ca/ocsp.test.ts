import { BasicOCSPResponse, OCSPRequest, OCSPResponse } from '@peculiar/asn1-ocsp';
import { AsnConvert } from '@peculiar/asn1-schema';
import { expect } from 'chai';
import {
  answerOcsp,
  buildOcspResponse,
  isIssuedBy,
  issueCertificate,
  ocspErrorResponse,
  ocspRequestFromGetPath,
  parseCsr,
  parseOcspRequest,
  REASON_CODES,
  REVOCATION_REASONS,
  type CaKeyType,
  type CertificateStatus,
  type IssuedCertificate,
} from '../../../services/keyward/src/ca/index.ts';
import { explicit, NULL, octetString, oid, sequence, tlv } from '../../../services/keyward/src/ca/der/writer.ts';
import { newSerialHex } from '../../../services/keyward/src/kernel/ids.ts';
import { CRL_URL, expectCode, OCSP_URL, openssl, opensslCsr, opensslStatus, policy, testCas, Workdir, type TestCas } from './fixtures.ts';

/** openssl ocsp checks thisUpdate/nextUpdate against the real clock, so these run on it. */
const now = () => new Date();

describe('OCSP', () => {
  const dir = new Workdir();
  after(() => dir.remove());

  async function leaf(cas: TestCas): Promise<{ issued: IssuedCertificate; file: string }> {
    const issued = await issueCertificate({
      ca: cas.issuing,
      csr: parseCsr(opensslCsr(dir).pem),
      policy: policy(),
      validityDays: 30,
      serialHex: newSerialHex(),
      now: now(),
      crlUrl: CRL_URL,
      ocspUrl: OCSP_URL,
    });
    return { issued, file: dir.file(`leaf-${issued.serialHex}.pem`, issued.certificatePem) };
  }
  const files = (cas: TestCas, tag: string) => ({
    issuer: dir.file(`issuing-${tag}.pem`, cas.issuing.certificatePem),
    root: dir.file(`root-${tag}.pem`, cas.rootRecord.certificatePem),
  });

  /** `openssl ocsp -reqout`: a request as a real client makes it. */
  function request(args: string[]): Buffer {
    const out = dir.at(`req${Math.random().toString(36).slice(2)}.der`);
    openssl(['ocsp', ...args, '-reqout', out]);
    return dir.read(out.slice(dir.path.length + 1));
  }

  describe('requests (parseOcspRequest)', () => {
    it('reads openssl requests as @peculiar/asn1-ocsp does: one or more CertIDs, SHA-1 or SHA-256, with or without a nonce', async () => {
      const cas = await testCas();
      const f = files(cas, 'p');
      const a = await leaf(cas);
      const b = await leaf(cas);
      const variants = [
        ['-issuer', f.issuer, '-cert', a.file],
        ['-issuer', f.issuer, '-cert', a.file, '-no_nonce'],
        ['-sha256', '-issuer', f.issuer, '-cert', a.file, '-cert', b.file],
        ['-issuer', f.issuer, '-serial', '0x0102'],
      ];
      for (const args of variants) {
        const der = request(args);
        const ours = parseOcspRequest(der);
        const lib = AsnConvert.parse(der, OCSPRequest);
        expect(
          ours.certIds.map((c) => ({
            alg: c.hashAlgorithm,
            name: Buffer.from(c.issuerNameHash).toString('hex'),
            key: Buffer.from(c.issuerKeyHash).toString('hex'),
            serial: c.serialHex,
            der: Buffer.from(c.der).toString('hex'),
          })),
          args.join(' '),
        ).to.deep.equal(
          lib.tbsRequest.requestList.map((r) => ({
            alg: r.reqCert.hashAlgorithm.algorithm,
            name: Buffer.from(r.reqCert.issuerNameHash.buffer).toString('hex'),
            key: Buffer.from(r.reqCert.issuerKeyHash.buffer).toString('hex'),
            serial: Buffer.from(r.reqCert.serialNumber)
              .toString('hex')
              .replace(/^00(?=..)/, ''),
            der: Buffer.from(AsnConvert.serialize(r.reqCert)).toString('hex'),
          })),
        );
        const nonce = lib.tbsRequest.requestExtensions?.find((e) => e.extnID === '1.3.6.1.5.5.7.48.1.2');
        expect(ours.nonceExtension ? Buffer.from(ours.nonceExtension).toString('hex') : undefined).to.equal(
          nonce ? Buffer.from(AsnConvert.serialize(nonce)).toString('hex') : undefined,
        );
        expect(ours.certIds.every((c) => isIssuedBy(c, cas.issuing))).to.equal(true);
      }
      expect(parseOcspRequest(request(['-issuer', f.issuer, '-serial', '0x0102'])).certIds[0]!.serialHex).to.equal('0102');
    });

    it('does not take a CertID of another CA for one of ours', async () => {
      const other = await testCas('EC-P384');
      const der = request(['-issuer', files(other, 'other').issuer, '-serial', '0x01']);
      expect(isIssuedBy(parseOcspRequest(der).certIds[0]!, (await testCas()).issuing)).to.equal(false);
      expect(isIssuedBy(parseOcspRequest(der).certIds[0]!, other.issuing)).to.equal(true);
    });

    it('reads the GET form: base64 in the path, percent-encoded or URL-safe (RFC 6960 Appendix A.1)', async () => {
      const der = request(['-issuer', files(await testCas(), 'g').issuer, '-serial', '0xfffe']);
      const b64 = der.toString('base64');
      for (const path of [b64, encodeURIComponent(b64), `/${encodeURIComponent(b64)}`, der.toString('base64url')]) {
        expect(Buffer.from(ocspRequestFromGetPath(path)).equals(der), path).to.equal(true);
      }
    });

    it('refuses GET paths that are not base64 with ocsp.malformed', () => {
      for (const path of ['', '%zz', 'not base64!', 'A'.repeat(5000)]) expectCode(() => ocspRequestFromGetPath(path), 'ocsp.malformed');
    });

    describe('bad input', () => {
      let der: Buffer;
      before(async () => {
        der = request(['-issuer', files(await testCas(), 'm').issuer, '-serial', '0x0a']);
      });
      const cases: Array<[string, (d: Buffer) => Uint8Array]> = [
        ['nothing', () => new Uint8Array(0)],
        ['random bytes', () => new Uint8Array(64).fill(0x42)],
        ['a truncated request', (d) => d.subarray(0, d.length - 3)],
        ['trailing bytes', (d) => Buffer.concat([d, Buffer.from([0])])],
        ['an empty request list', () => Buffer.from('30043002' + '3000', 'hex')],
        [
          'a CertID with a negative serial',
          () => {
            const certId = sequence(
              sequence(oid('1.3.14.3.2.26'), NULL),
              octetString(Buffer.alloc(20)),
              octetString(Buffer.alloc(20)),
              tlv(0x02, Buffer.from([0xff])),
            );
            return sequence(sequence(sequence(sequence(certId))));
          },
        ],
        [
          'a nonce of 100 octets',
          (d) => {
            const certId = parseOcspRequest(d).certIds[0]!.der;
            const nonce = sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(Buffer.alloc(100, 1))));
            return sequence(sequence(sequence(sequence(certId)), explicit(2, sequence(nonce))));
          },
        ],
        [
          '65 CertIDs',
          (d) => {
            const request = sequence(parseOcspRequest(d).certIds[0]!.der);
            return sequence(sequence(sequence(...Array<Buffer>(65).fill(request))));
          },
        ],
        ['a certificate instead of a request', () => Buffer.from('3003020100', 'hex')],
      ];
      for (const [what, make] of cases) {
        it(`refuses ${what} with ocsp.malformed`, () => {
          const err = expectCode(() => parseOcspRequest(make(der)), 'ocsp.malformed');
          expect(err.status).to.equal(400);
        });
      }

      it('accepts a well-formed request built the same way (the cases above differ only in what they break)', () => {
        const certId = parseOcspRequest(der).certIds[0]!.der;
        const nonce = sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(Buffer.alloc(16, 1))));
        expect(parseOcspRequest(sequence(sequence(sequence(sequence(certId)), explicit(2, sequence(nonce))))).certIds).to.have.length(1);
      });
      it('refuses every truncation with ocsp.malformed', () => {
        for (let n = 0; n < der.length; n++) expectCode(() => parseOcspRequest(der.subarray(0, n)), 'ocsp.malformed');
      });
    });
  });

  for (const caType of ['EC-P256', 'EC-P384', 'RSA-2048'] as CaKeyType[]) {
    describe(`responses signed by an ${caType} issuing CA`, () => {
      let cas: TestCas;
      let f: { issuer: string; root: string };
      before(async () => {
        cas = await testCas(caType);
        f = files(cas, `r-${caType}`);
      });

      const statuses: Array<[string, CertificateStatus, RegExp]> = [
        ['good', { status: 'good' }, /: good\n/],
        ['unknown', { status: 'unknown' }, /: unknown\n/],
        [
          'revoked with its time and reason',
          { status: 'revoked', revokedAt: new Date('2026-05-04T03:02:01Z'), reason: 'keyCompromise' },
          /: revoked\n[\s\S]*Reason: keyCompromise\n\s+Revocation Time: May  4 03:02:01 2026 GMT/,
        ],
        [
          'revoked without a reason (unspecified)',
          { status: 'revoked', revokedAt: new Date('2026-05-04T03:02:01Z'), reason: 'unspecified' },
          /: revoked\n\s+This Update: .*\n\s+Next Update: .*\n\s+Revocation Time: May  4 03:02:01 2026 GMT/,
        ],
      ];
      for (const [what, status, expected] of statuses) {
        it(`answers ${what}, and openssl ocsp verifies the response against the chain`, async () => {
          const l = await leaf(cas);
          const der = request(['-issuer', f.issuer, '-cert', l.file, '-no_nonce']);
          const seen: string[] = [];
          const resp = await answerOcsp(cas.issuing, der, (serial) => (seen.push(serial), status), now());
          expect(seen).to.deep.equal([l.issued.serialHex]);
          const out = openssl([
            'ocsp',
            '-respin',
            dir.file(`resp-${l.issued.serialHex}.der`, resp),
            '-issuer',
            f.issuer,
            '-cert',
            l.file,
            '-CAfile',
            f.root,
            '-no_nonce',
          ]);
          expect(out).to.include('Response verify OK');
          expect(out).to.match(expected);
        });
      }

      it('echoes the nonce, which openssl checks against its request', async () => {
        const l = await leaf(cas);
        const der = request(['-issuer', f.issuer, '-cert', l.file]);
        const resp = await answerOcsp(cas.issuing, der, () => ({ status: 'good' }), now());
        expect(
          openssl([
            'ocsp',
            '-respin',
            dir.file('nonce.der', resp),
            '-reqin',
            dir.file('nonce-req.der', der),
            '-CAfile',
            f.root,
            '-verify_other',
            f.issuer,
          ]),
        ).to.include('Response verify OK');
        const other = request(['-issuer', f.issuer, '-cert', l.file]);
        expect(() =>
          openssl([
            'ocsp',
            '-respin',
            dir.file('nonce.der', resp),
            '-reqin',
            dir.file('other-req.der', other),
            '-CAfile',
            f.root,
            '-verify_other',
            f.issuer,
          ]),
        ).to.throw(/Nonce Verify error/);
      });

      it('is DER the ASN.1 library reads and writes back unchanged, with responderID byKey and the CA signature algorithm', async () => {
        const l = await leaf(cas);
        const req = parseOcspRequest(request(['-issuer', f.issuer, '-cert', l.file]));
        const resp = await buildOcspResponse({
          ca: cas.issuing,
          responses: req.certIds.map((certId) => ({
            certId,
            status: { status: 'revoked', revokedAt: now(), reason: 'superseded' } as const,
          })),
          nonceExtension: req.nonceExtension,
          now: now(),
          validitySeconds: 600,
        });
        const parsed = AsnConvert.parse(resp, OCSPResponse);
        expect(Buffer.from(AsnConvert.serialize(parsed)).equals(Buffer.from(resp))).to.equal(true);
        const basic = AsnConvert.parse(parsed.responseBytes!.response, BasicOCSPResponse);
        expect(Buffer.from(AsnConvert.serialize(basic)).equals(Buffer.from(parsed.responseBytes!.response.buffer))).to.equal(true);
        expect(Buffer.from(basic.tbsResponseData.responderID.byKey!.buffer).equals(cas.issuing.certIdHashes.sha1.key)).to.equal(true);
        expect(basic.signatureAlgorithm.algorithm).to.equal(cas.issuing.signer.algorithm.oid);
        const single = basic.tbsResponseData.responses[0]!;
        expect(single.nextUpdate!.getTime() - single.thisUpdate.getTime()).to.equal(600_000);
        expect(single.certStatus.revoked!.revocationReason!.reason).to.equal(4);
      });
    });
  }

  it('answers each CertID of a request, unknown for those of another CA', async () => {
    const cas = await testCas();
    const other = await testCas('EC-P384');
    const fMine = files(cas, 'mix-a');
    const fOther = files(other, 'mix-b');
    const mine = await leaf(cas);
    const theirs = await leaf(other);
    const der = request(['-issuer', fMine.issuer, '-cert', mine.file, '-issuer', fOther.issuer, '-cert', theirs.file, '-no_nonce']);
    const resp = await answerOcsp(cas.issuing, der, () => ({ status: 'good' }), now());
    const basic = AsnConvert.parse(AsnConvert.parse(resp, OCSPResponse).responseBytes!.response, BasicOCSPResponse);
    expect(
      basic.tbsResponseData.responses.map((r) =>
        r.certStatus.good === null ? 'good' : r.certStatus.unknown === null ? 'unknown' : 'revoked',
      ),
    ).to.deep.equal(['good', 'unknown']);
  });

  it('answers unauthorized when no CertID names this CA, and malformedRequest for garbage', async () => {
    const cas = await testCas();
    const other = await testCas('EC-P384');
    const foreign = request(['-issuer', files(other, 'u').issuer, '-serial', '0x01']);
    const unauthorized = await answerOcsp(cas.issuing, foreign, () => expect.fail('no lookup for a foreign CA'), now());
    expect(AsnConvert.parse(unauthorized, OCSPResponse).responseStatus).to.equal(6);
    expect(Buffer.from(unauthorized).toString('hex')).to.equal('30030a0106');
    expect(opensslStatus(['ocsp', '-respin', dir.file('unauth.der', unauthorized), '-resp_text', '-noverify']).output).to.include(
      'unauthorized (6)',
    );
    const malformed = await answerOcsp(cas.issuing, Buffer.from('garbage'), () => ({ status: 'good' }), now());
    expect(Buffer.from(malformed).toString('hex')).to.equal('30030a0101');
    expect(opensslStatus(['ocsp', '-respin', dir.file('malformed.der', malformed), '-resp_text', '-noverify']).output).to.include(
      'malformedrequest (1)',
    );
  });

  it('writes every error status, and refuses "successful" as one (misuse)', () => {
    expect(
      ['malformedRequest', 'internalError', 'tryLater', 'sigRequired', 'unauthorized'].map((s) =>
        Buffer.from(ocspErrorResponse(s as never)).toString('hex'),
      ),
    ).to.deep.equal(['30030a0101', '30030a0102', '30030a0103', '30030a0105', '30030a0106']);
    expect(() => ocspErrorResponse('successful' as never)).to.throw(TypeError);
  });

  it('knows a code for every revocation reason', async () => {
    const cas = await testCas();
    const req = parseOcspRequest(request(['-issuer', files(cas, 'reasons').issuer, '-serial', '0x01', '-no_nonce']));
    for (const reason of REVOCATION_REASONS) {
      const resp = await buildOcspResponse({
        ca: cas.issuing,
        responses: [{ certId: req.certIds[0]!, status: { status: 'revoked', revokedAt: now(), reason } }],
        now: now(),
      });
      // openssl names codes 0–8 and prints the others as (UNKNOWN) with their code.
      const text = openssl(['ocsp', '-respin', dir.file('reason.der', resp), '-resp_text', '-noverify']);
      if (reason === 'unspecified') expect(text).to.include('Cert Status: revoked').and.not.include('Revocation Reason');
      else expect(text, reason).to.include(`(0x${REASON_CODES[reason].toString(16)})`);
    }
  });
});
