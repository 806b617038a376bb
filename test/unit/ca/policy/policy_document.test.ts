import { expect } from 'chai';
import { parsePolicy } from '../../../../services/keyward/src/ca/index.ts';

const valid = {
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 90,
  subject: { required: ['CN'], allowed: ['CN', 'O'] },
  san: {
    dns: ['*.apps.example.internal', 'api.example.internal'],
    ip: ['10.0.0.0/8', 'fd00::/8'],
    uri: ['spiffe://example.internal/*'],
    email: [],
  },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
};

describe('certificate policy document', () => {
  it('accepts the documented example', () => {
    expect(parsePolicy(valid)).to.deep.equal(valid);
  });

  const cases: Array<[string, unknown, string]> = [
    ['an unknown key type', { ...valid, keyTypes: ['DSA-1024'] }, '/keyTypes/0'],
    ['no key type', { ...valid, keyTypes: [] }, '/keyTypes'],
    ['a zero validity', { ...valid, maxValidityDays: 0 }, '/maxValidityDays'],
    ['a missing field', { ...valid, approval: undefined }, '/approval'],
    ['an unknown field', { ...valid, colour: 'blue' }, '/colour'],
    ['a bad approval', { ...valid, approval: 'maybe' }, '/approval'],
    ['a bad CIDR', { ...valid, san: { ...valid.san, ip: ['10.0.0.0/33'] } }, '/san/ip/0'],
    ['a bad DNS pattern', { ...valid, san: { ...valid.san, dns: ['a.*.b'] } }, '/san/dns/0'],
    ['a URI pattern without scheme', { ...valid, san: { ...valid.san, uri: ['example/*'] } }, '/san/uri/0'],
    [
      'a required subject attribute that is not allowed',
      { ...valid, subject: { required: ['O'], allowed: ['CN'] } },
      '/subject/required/0',
    ],
    ['an unknown key usage', { ...valid, keyUsage: ['everything'] }, '/keyUsage/0'],
  ];
  for (const [what, doc, path] of cases) {
    it(`refuses ${what} with policy.invalid at ${path}`, () => {
      try {
        parsePolicy(doc);
        expect.fail('accepted');
      } catch (err) {
        expect(err).to.deep.include({ code: 'policy.invalid', status: 400 });
        expect((err as { extras: { path: string } }).extras.path).to.equal(path);
      }
    });
  }
});
