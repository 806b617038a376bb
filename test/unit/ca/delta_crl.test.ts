import { expect } from 'chai';
import { buildCrl, buildDeltaCrl, crlEntries, deltaEntries, type RevokedCertificate } from '../../../services/keyward/src/ca/index.ts';
import { DAY, NOW, openssl, testCas, Workdir, type TestCas } from './fixtures.ts';

const at = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

describe('delta CRLs (RFC 5280 §5.2.4)', () => {
  const dir = new Workdir();
  after(() => dir.remove());
  let cas: TestCas;
  before(async () => {
    cas = await testCas('EC-P256');
  });

  const base: RevokedCertificate[] = [
    { serialHex: 'a1', revokedAt: at(5), reason: 'keyCompromise' },
    { serialHex: '0b2', revokedAt: at(4), reason: 'certificateHold' }, // released since
    { serialHex: 'c3', revokedAt: at(3), reason: 'certificateHold' }, // made permanent since
    { serialHex: 'd4', revokedAt: at(2), reason: 'unspecified' },
  ];
  const now: RevokedCertificate[] = [
    { serialHex: 'a1', revokedAt: at(5), reason: 'keyCompromise' },
    { serialHex: 'c3', revokedAt: at(1), reason: 'cessationOfOperation' },
    { serialHex: 'd4', revokedAt: at(2), reason: 'unspecified' },
    { serialHex: 'e5', revokedAt: at(0), reason: 'certificateHold' }, // new
  ];

  it('reads the entries of a CRL back from its DER (serials without leading zeros, dates, reasons)', async () => {
    const der = await buildCrl({
      ca: cas.issuing,
      entries: base,
      crlNumber: 7n,
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    });
    expect(crlEntries(der)).to.deep.equal(base.map((e) => ({ ...e, serialHex: e.serialHex.replace(/^0+/, '') })));
    const empty = await buildCrl({
      ca: cas.issuing,
      entries: [],
      crlNumber: 8n,
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    });
    expect(crlEntries(empty)).to.deep.equal([]);
  });

  it('lists what changed since the base: new entries, changed reasons, removeFromCRL for released holds', () => {
    const released = at(0.5);
    const listed = base.map((e) => ({ ...e, serialHex: e.serialHex.replace(/^0+/, '') }));
    expect(deltaEntries(listed, now, () => released)).to.deep.equal([
      { serialHex: 'c3', revokedAt: at(1), reason: 'cessationOfOperation' },
      { serialHex: 'e5', revokedAt: at(0), reason: 'certificateHold' },
      { serialHex: 'b2', revokedAt: released, reason: 'removeFromCRL' },
    ]);
    expect(
      deltaEntries(now, now, () => released),
      'nothing changed',
    ).to.deep.equal([]);
  });

  it('signs a delta CRL that openssl reads: critical Delta CRL Indicator naming the base, Remove From CRL entries', async () => {
    const entries = deltaEntries(
      crlEntries(
        await buildCrl({ ca: cas.issuing, entries: base, crlNumber: 7n, thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + DAY) }),
      ),
      now,
      () => NOW,
    );
    const der = await buildDeltaCrl({
      ca: cas.issuing,
      baseCrlNumber: 7n,
      crlNumber: 9n,
      entries,
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    });
    const file = dir.file('delta.crl', der);
    const issuer = dir.file('issuing.pem', cas.issuingRecord.certificatePem);
    const text = openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text', '-CAfile', issuer]);
    expect(text).to.match(/verify OK/);
    expect(text).to.match(/X509v3 Delta CRL Indicator: critical\s+7\b/);
    expect(text).to.match(/X509v3 CRL Number:\s+9\b/);
    expect(text).to.match(/Serial Number: B2[\s\S]*?Remove From CRL/);
    expect(text).to.match(/Serial Number: C3[\s\S]*?Cessation Of Operation/);
    expect(text).not.to.match(/Serial Number: A1/);
  });

  it('names the delta CRL in the complete CRL (freshestCRL, §5.2.6), and refuses a base that is not older', async () => {
    const url = 'http://keyward.test/v1/realms/demo/crl/delta';
    const der = await buildCrl({
      ca: cas.issuing,
      entries: base,
      crlNumber: 7n,
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
      freshestCrlUrl: url,
    });
    const text = openssl(['crl', '-inform', 'DER', '-in', dir.file('full.crl', der), '-noout', '-text']);
    expect(text).to.match(/Freshest CRL:[\s\S]*?URI:http:\/\/keyward\.test\/v1\/realms\/demo\/crl\/delta/);
    let err: unknown;
    await buildDeltaCrl({
      ca: cas.issuing,
      baseCrlNumber: 9n,
      crlNumber: 9n,
      entries: [],
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + DAY),
    }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(TypeError);
  });
});
