import { expect } from 'chai';
import { UsageError } from '../../../services/keyward/src/cli/command.ts';
import { renewalTime } from '../../../services/keyward/src/cli/commands/certificate.ts';
import { keyTypeOption, sanOption } from '../../../services/keyward/src/cli/certificate_files.ts';

describe('keyward certificate: options', () => {
  describe('--san', () => {
    const good: Array<[string, { type: string; value: string }]> = [
      ['DNS:web.example', { type: 'dns', value: 'web.example' }],
      ['dns:*.apps.example', { type: 'dns', value: '*.apps.example' }],
      ['IP:10.0.0.1', { type: 'ip', value: '10.0.0.1' }],
      ['IP:2001:db8::1', { type: 'ip', value: '2001:db8::1' }],
      ['URI:spiffe://example.internal/web', { type: 'url', value: 'spiffe://example.internal/web' }],
      ['email:ops@example.internal', { type: 'email', value: 'ops@example.internal' }],
    ];
    for (const [text, want] of good) it(`reads ${text}`, () => expect(sanOption(text)).to.deep.equal(want));
    for (const bad of ['web.example', 'DNS:', 'DNS:web..example', 'IP:10.0.0.300', 'URI:not a uri', 'email:nobody', 'RID:1.2.3']) {
      it(`refuses ${JSON.stringify(bad)} as a usage error`, () => expect(() => sanOption(bad)).to.throw(UsageError, /bad --san/));
    }
  });

  describe('--key-type', () => {
    it('defaults to EC-P256', () => expect(keyTypeOption(undefined)).to.equal('EC-P256'));
    it('takes the key types policies name', () => expect(keyTypeOption('RSA-3072')).to.equal('RSA-3072'));
    it('refuses others, naming the choices', () => expect(() => keyTypeOption('DSA-1024')).to.throw(UsageError, /EC-P256, EC-P384/));
  });

  describe('--renew-before', () => {
    const nb = new Date('2026-12-03T12:00:00Z');
    const na = new Date('2026-12-03T12:02:00Z');
    it('renews when a percentage of the lifetime is left', () => {
      expect(renewalTime(nb, na, '33%', 0).toISOString()).to.equal('2026-12-03T12:01:20.400Z');
      expect(renewalTime(nb, na, '40%', 0).toISOString()).to.equal('2026-12-03T12:01:12.000Z');
    });
    it('or a duration before the end', () => expect(renewalTime(nb, na, 'PT30S', 0).toISOString()).to.equal('2026-12-03T12:01:30.000Z'));
    it('moves earlier by at most 5 % of the lifetime of jitter', () => {
      expect(renewalTime(nb, na, '33%', 1).toISOString()).to.equal('2026-12-03T12:01:14.400Z');
    });
    it('refuses a duration that is not ISO 8601 as a usage error', () => {
      expect(() => renewalTime(nb, na, '30s', 0)).to.throw(UsageError, /--renew-before/);
    });
  });
});
