import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { must, work } from '../../support/openssl.ts';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  checkChainSize,
  clientIdForAlias,
  colonHex,
  deviceCertificate,
  normalizeAlias,
  parseUuid,
  renderUuid,
  rfc2253,
  uploadedChain,
} from '../../../services/keyward/src/devices/device_certificate.ts';
import { isKeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { RateLimiter } from '../../../services/keyward/src/kernel/rate_limiter.ts';
import { negotiateLanguage } from '../../../services/keyward/src/http/routes/sklm.ts';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isKeywardError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('device onboarding: aliases (as IBM SKLM has them)', () => {
  it('stores aliases lower-case and trimmed', () => {
    expect(normalizeAlias('MY Cert1')).to.equal('my cert1');
    expect(normalizeAlias('  Tape-Library ')).to.equal('tape-library');
  });

  it('refuses slashes, backslashes, the reserved key-group form, empty and control characters', () => {
    for (const a of ['a/b', 'a\\b', 'aaa000000000000000002', 'ABC123456789012345678', '', '   ', 'a\u0007b', 'x'.repeat(129), 42]) {
      expect(
        refusal(() => normalizeAlias(a)),
        String(a),
      ).to.equal('device.alias_invalid');
    }
    // Close to the reserved form but not it.
    expect(normalizeAlias('aaa00000000000000002')).to.equal('aaa00000000000000002');
    expect(normalizeAlias('aaaa000000000000000002')).to.equal('aaaa000000000000000002');
    expect(normalizeAlias('aa1000000000000000002')).to.equal('aa1000000000000000002');
  });

  it('derives a valid Keycloak clientId from the alias', () => {
    expect(clientIdForAlias('my cert1')).to.equal('my-cert1');
    expect(clientIdForAlias('sklmcertificate1')).to.equal('sklmcertificate1');
    expect(clientIdForAlias('Ärger über #7')).to.equal('arger-uber-7');
    expect(clientIdForAlias('__x__')).to.equal('x__');
    expect(clientIdForAlias('!!!')).to.equal('device');
    expect(clientIdForAlias('keyward-grant.a.b')).to.equal('device-keyward-grant.a.b');
    expect(clientIdForAlias('x'.repeat(100))).to.have.length(64);
  });

  it('renders and parses CERTIFICATE-<uuid>', () => {
    const id = '4e064e39-5c15-4e29-83ab-ebd4d275e148';
    expect(renderUuid(id)).to.equal(`CERTIFICATE-${id}`);
    expect(parseUuid(`CERTIFICATE-${id.toUpperCase()}`)).to.equal(id);
    expect(parseUuid(id)).to.equal(undefined);
    expect(parseUuid('CERTIFICATE-nope')).to.equal(undefined);
  });
});

describe('device onboarding: pushed certificates', () => {
  const dir = work();
  const now = new Date();

  async function selfSigned(subject: string, extra: string[]): Promise<string> {
    const crt = join(dir, `${Math.random().toString(36).slice(2)}.crt`);
    await must([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      crt.replace(/crt$/, 'key'),
      '-out',
      crt,
      '-subj',
      subject,
      '-days',
      '30',
      ...extra,
    ]);
    return readFileSync(crt, 'utf8');
  }

  it('describes a device certificate: display subject, RFC 2253 subject, fingerprint as openssl shows it', async () => {
    const pem = await selfSigned('/C=DE/O=Acme, Inc./CN=dev\\+1', ['-addext', 'basicConstraints=critical,CA:FALSE']);
    const [der] = uploadedChain(pem);
    const d = deviceCertificate(der!, now);
    expect(d.subject).to.equal('C=DE, O=Acme\\, Inc., CN=dev\\+1');
    expect(d.subjectRfc2253).to.equal('CN=dev\\+1,O=Acme\\, Inc.,C=DE');
    const fp = (await must(['x509', '-noout', '-fingerprint', '-sha256'], pem)).trim().replace(/^.*=/, '');
    expect(colonHex(d.fingerprint)).to.equal(fp);
    expect(d.serial).to.equal(new X509Certificate(pem).serialNumber.toLowerCase());
  });

  it('refuses CA certificates, garbage and keys, and chains that are too long', async () => {
    const ca = await selfSigned('/CN=A CA', []);
    expect(refusal(() => deviceCertificate(uploadedChain(ca)[0]!, now))).to.equal('device.certificate_is_ca');
    expect(refusal(() => deviceCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), now))).to.equal('device.certificate_malformed');
    expect(refusal(() => uploadedChain('no pem here'))).to.equal('device.certificate_malformed');
    expect(refusal(() => uploadedChain(new Uint8Array()))).to.equal('device.certificate_malformed');
    expect(refusal(() => uploadedChain(`${ca}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`))).to.equal(
      'device.certificate_malformed',
    );
    const one = uploadedChain(ca)[0]!;
    expect(() => checkChainSize([one, one, one, one])).not.to.throw();
    expect(refusal(() => checkChainSize([one, one, one, one, one]))).to.equal('device.chain_too_large');
    expect(refusal(() => checkChainSize([new Uint8Array(40_000)]))).to.equal('device.chain_too_large');
  });

  it('refuses certificates outside their validity', async () => {
    const pem = await selfSigned('/CN=dev', ['-addext', 'basicConstraints=critical,CA:FALSE']);
    const der = uploadedChain(pem)[0]!;
    expect(refusal(() => deviceCertificate(der, new Date(Date.now() + 40 * 86_400_000)))).to.equal('device.certificate_expired');
    expect(refusal(() => deviceCertificate(der, new Date(Date.now() - 86_400_000)))).to.equal('device.certificate_expired');
  });

  it('renders RFC 2253 like Java: last RDN first, keywords, escapes', () => {
    expect(
      rfc2253([
        { type: 'C', value: 'DE' },
        { type: 'O', value: 'A;B' },
        { type: 'CN', value: ' lead' },
      ]),
    ).to.equal('CN=\\ lead,O=A\\;B,C=DE');
    expect(
      rfc2253([
        { type: 'emailAddress', value: 'a@b' },
        { type: '2.5.4.97', value: 'x' },
      ]),
    ).to.equal('2.5.4.97=x,EMAILADDRESS=a@b');
  });
});

describe('SKLM path: Accept-Language', () => {
  it('picks the best of en and de by quality, English by default', () => {
    expect(negotiateLanguage(undefined)).to.equal('en');
    expect(negotiateLanguage('de')).to.equal('de');
    expect(negotiateLanguage('de-DE,de;q=0.9,en;q=0.8')).to.equal('de');
    expect(negotiateLanguage('en;q=0.5, de;q=0.7')).to.equal('de');
    expect(negotiateLanguage('fr, de;q=0.1')).to.equal('de');
    expect(negotiateLanguage('fr')).to.equal('en');
    expect(negotiateLanguage('de;q=0, en')).to.equal('en');
    expect(negotiateLanguage('*')).to.equal('en');
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then one event per interval, per key', () => {
    let t = 0;
    const r = new RateLimiter({ perMinute: 6, burst: 2, now: () => t });
    expect([r.take('a'), r.take('a')]).to.deep.equal([0, 0]);
    expect(r.take('a')).to.equal(10);
    expect(r.take('b')).to.equal(0);
    t += 10_000;
    expect(r.take('a')).to.equal(0);
    expect(r.take('a')).to.be.greaterThan(0);
  });
});
