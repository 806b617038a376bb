import { Ajv } from 'ajv';
import { expect } from 'chai';
import {
  maxValiditySeconds,
  parsePolicy,
  policyJsonSchema,
  validateKey,
  validateSans,
  validateSubject,
  validateValidity,
  type NameAttribute,
  type Sans,
} from '../../../services/keyward/src/ca/index.ts';
import { expectCode, policy, POLICY_DOCUMENT } from './fixtures.ts';

const sans = (s: Partial<Sans>): Sans => ({ dns: [], ip: [], uri: [], email: [], ...s });

describe('certificate policy', () => {
  describe('the document (parsePolicy)', () => {
    it('accepts the documented example and returns a frozen copy', () => {
      const p = parsePolicy(structuredClone(POLICY_DOCUMENT));
      expect(p).to.deep.equal(POLICY_DOCUMENT);
      expect(Object.isFrozen(p) && Object.isFrozen(p.san) && Object.isFrozen(p.san.dns)).to.equal(true);
    });

    it('accepts an optional description', () => {
      expect(parsePolicy({ ...structuredClone(POLICY_DOCUMENT), description: 'TLS servers of the apps cluster' }).description).to.equal(
        'TLS servers of the apps cluster',
      );
    });

    const doc = structuredClone(POLICY_DOCUMENT) as Record<string, unknown> & typeof POLICY_DOCUMENT;

    describe('maxValidity (an ISO 8601 duration)', () => {
      const { maxValidityDays: _days, ...noDays } = structuredClone(POLICY_DOCUMENT) as Record<string, unknown>;
      for (const [text, seconds] of [
        ['PT24H', 86_400],
        ['PT2M', 120],
        ['P90D', 90 * 86_400],
        ['P1DT12H', 129_600],
      ] as const) {
        it(`accepts ${text} (${seconds} s)`, () => {
          const p = parsePolicy({ ...noDays, maxValidity: text });
          expect(p.maxValidity).to.equal(text);
          expect(maxValiditySeconds(p)).to.equal(seconds);
        });
      }
      it('keeps maxValidityDays working', () => expect(maxValiditySeconds(parsePolicy(POLICY_DOCUMENT))).to.equal(90 * 86_400));
      it('refuses both maxValidity and maxValidityDays with validity.conflict (422)', () => {
        const err = expectCode(() => parsePolicy({ ...noDays, maxValidity: 'PT24H', maxValidityDays: 1 }), 'validity.conflict');
        expect(err.status).to.equal(422);
      });
      it('refuses neither with policy.invalid at /maxValidity', () => {
        expectCode(() => parsePolicy(noDays), 'policy.invalid', { path: '/maxValidity' });
      });
      it('refuses less than a minute with validity.too_short (422)', () => {
        const err = expectCode(() => parsePolicy({ ...noDays, maxValidity: 'PT59S' }), 'validity.too_short', { path: '/maxValidity' });
        expect(err.status).to.equal(422);
      });
      for (const bad of ['P1Y', 'PT1.5H', '24h', 'P', 'PT']) {
        it(`refuses ${bad}`, () => {
          const err = expectCode(() => parsePolicy({ ...noDays, maxValidity: bad }), 'validity.malformed');
          expect(err.message).to.match(/maxValidity/);
        });
      }
      it('refuses more than 3650 days', () => expectCode(() => parsePolicy({ ...noDays, maxValidity: 'P3651D' }), 'policy.invalid'));
    });
    const cases: Array<[string, unknown, string]> = [
      ['something that is not an object', 'policy', '/'],
      ['an unknown key type', { ...doc, keyTypes: ['DSA-1024'] }, '/keyTypes/0'],
      ['no key type', { ...doc, keyTypes: [] }, '/keyTypes'],
      ['a zero validity', { ...doc, maxValidityDays: 0 }, '/maxValidityDays'],
      ['a fractional validity', { ...doc, maxValidityDays: 1.5 }, '/maxValidityDays'],
      ['a missing field', { ...doc, approval: undefined }, '/approval'],
      ['a missing SAN kind', { ...doc, san: { dns: [], ip: [], uri: [] } }, '/san/email'],
      ['an unknown field', { ...doc, colour: 'blue' }, '/colour'],
      ['a bad approval', { ...doc, approval: 'maybe' }, '/approval'],
      ['an unknown subject attribute', { ...doc, subject: { required: [], allowed: ['CN', 'title'] } }, '/subject/allowed/1'],
      [
        'a required subject attribute that is not allowed',
        { ...doc, subject: { required: ['O'], allowed: ['CN'] } },
        '/subject/required/0',
      ],
      ['a DNS pattern with a wildcard inside', { ...doc, san: { ...doc.san, dns: ['a.*.b'] } }, '/san/dns/0'],
      ['a DNS pattern with a partial-label wildcard', { ...doc, san: { ...doc.san, dns: ['api-*.example.internal'] } }, '/san/dns/0'],
      ['a second bad DNS pattern', { ...doc, san: { ...doc.san, dns: ['ok.example', 'bad name'] } }, '/san/dns/1'],
      ['a CIDR with too many bits', { ...doc, san: { ...doc.san, ip: ['10.0.0.0/33'] } }, '/san/ip/0'],
      ['an IPv6 CIDR with too many bits', { ...doc, san: { ...doc.san, ip: ['10.0.0.0/8', 'fd00::/129'] } }, '/san/ip/1'],
      ['something that is not an address', { ...doc, san: { ...doc.san, ip: ['ten.0.0.0/8'] } }, '/san/ip/0'],
      ['a URI pattern without scheme', { ...doc, san: { ...doc.san, uri: ['example/*'] } }, '/san/uri/0'],
      ['an e-mail pattern without @', { ...doc, san: { ...doc.san, email: ['example.internal'] } }, '/san/email/0'],
      ['an unknown key usage', { ...doc, keyUsage: ['everything'] }, '/keyUsage/0'],
      ['keyCertSign (end-entity policies only)', { ...doc, keyUsage: ['digitalSignature', 'keyCertSign'] }, '/keyUsage/1'],
      ['cRLSign (end-entity policies only)', { ...doc, keyUsage: ['cRLSign'] }, '/keyUsage/0'],
      ['encipherOnly without keyAgreement', { ...doc, keyUsage: ['encipherOnly'] }, '/keyUsage/0'],
      ['an unknown extended key usage', { ...doc, extendedKeyUsage: ['anyExtendedKeyUsage'] }, '/extendedKeyUsage/0'],
      ['a duplicate key type', { ...doc, keyTypes: ['EC-P256', 'EC-P256'] }, '/keyTypes'],
    ];
    for (const [what, input, path] of cases) {
      it(`refuses ${what} with policy.invalid at ${path}`, () => {
        const err = expectCode(() => parsePolicy(input), 'policy.invalid', { path });
        expect(err.status).to.equal(400);
        expect(err.message).to.include(path);
      });
    }

    it('publishes a JSON Schema that realm-config files can reuse', () => {
      const validate = new Ajv({ strict: false }).compile(policyJsonSchema);
      expect(validate(structuredClone(POLICY_DOCUMENT))).to.equal(true);
      expect(validate({ ...structuredClone(POLICY_DOCUMENT), approval: 'sometimes' })).to.equal(false);
      expect(policyJsonSchema.$id).to.match(/^https:\/\//);
    });
  });

  describe('validateKey', () => {
    const p = policy({ keyTypes: ['EC-P256', 'RSA-3072'] });
    const table: Array<[string, boolean]> = [
      ['EC-P256', true],
      ['RSA-3072', true],
      ['EC-P384', false],
      ['RSA-2048', false],
      ['RSA-1024', false],
      ['RSA-3072-e3', false],
      ['EC-secp256k1', false],
      ['ed25519', false],
      ['unknown-1.2.3', false],
    ];
    for (const [keyType, allowed] of table) {
      it(`${allowed ? 'allows' : 'refuses with policy.key_not_allowed'} ${keyType}`, () => {
        if (allowed) validateKey(p, keyType);
        else expectCode(() => validateKey(p, keyType), 'policy.key_not_allowed', { keyType, allowed: ['EC-P256', 'RSA-3072'] });
      });
    }
  });

  describe('validateSubject', () => {
    const p = policy({ subject: { required: ['CN', 'O'], allowed: ['CN', 'O', 'OU', 'C', 'emailAddress'] } });
    const table: Array<[string, NameAttribute[], string | undefined]> = [
      [
        'the required attributes',
        [
          { type: 'CN', value: 'billing' },
          { type: 'O', value: 'Example' },
        ],
        undefined,
      ],
      [
        'allowed optional attributes in any order',
        [
          { type: 'O', value: 'Example' },
          { type: 'OU', value: 'Ops' },
          { type: 'CN', value: 'billing' },
          { type: 'C', value: 'DE' },
        ],
        undefined,
      ],
      [
        'a CN that is a host name the DNS patterns allow',
        [
          { type: 'CN', value: 'api.apps.example.internal' },
          { type: 'O', value: 'Example' },
        ],
        undefined,
      ],
      [
        'a unicode organisation',
        [
          { type: 'CN', value: 'billing' },
          { type: 'O', value: 'Müller & Söhne' },
        ],
        undefined,
      ],
      ['a missing required attribute', [{ type: 'CN', value: 'billing' }], 'O'],
      [
        'an attribute the policy does not allow',
        [
          { type: 'CN', value: 'billing' },
          { type: 'O', value: 'Example' },
          { type: 'L', value: 'Berlin' },
        ],
        'L',
      ],
      [
        'an attribute type without a name',
        [
          { type: 'CN', value: 'billing' },
          { type: 'O', value: 'Example' },
          { type: '2.5.4.12', value: 'Boss' },
        ],
        '2.5.4.12',
      ],
      [
        'a CN that is a host name outside the DNS patterns',
        [
          { type: 'CN', value: 'www.evil.example' },
          { type: 'O', value: 'Example' },
        ],
        'CN',
      ],
      [
        'a CN longer than 64 characters',
        [
          { type: 'CN', value: 'x'.repeat(65) },
          { type: 'O', value: 'Example' },
        ],
        'CN',
      ],
      [
        'an empty value',
        [
          { type: 'CN', value: '' },
          { type: 'O', value: 'Example' },
        ],
        'CN',
      ],
      [
        'a country that is not a two-letter code',
        [
          { type: 'CN', value: 'billing' },
          { type: 'O', value: 'Example' },
          { type: 'C', value: 'Germany' },
        ],
        'C',
      ],
      [
        'a control character',
        [
          { type: 'CN', value: 'bill\ning' },
          { type: 'O', value: 'Example' },
        ],
        'CN',
      ],
      [
        'a non-ASCII emailAddress',
        [
          { type: 'CN', value: 'billing' },
          { type: 'O', value: 'Example' },
          { type: 'emailAddress', value: 'jürgen@example.internal' },
        ],
        'emailAddress',
      ],
    ];
    for (const [what, subject, refused] of table) {
      it(refused ? `refuses ${what} with policy.subject_not_allowed` : `allows ${what}`, () => {
        if (!refused) validateSubject(p, subject);
        else expectCode(() => validateSubject(p, subject), 'policy.subject_not_allowed', { attribute: refused });
      });
    }
  });

  describe('validateSans', () => {
    const p = policy();
    const table: Array<[string, Partial<Sans>, string | undefined]> = [
      ['one label under a *. pattern', { dns: ['web.apps.example.internal'] }, undefined],
      ['an exact DNS name, in any case', { dns: ['API.Example.Internal'] }, undefined],
      ['the wildcard name the *. pattern itself covers', { dns: ['*.apps.example.internal'] }, undefined],
      ['two labels under a *. pattern', { dns: ['a.b.apps.example.internal'] }, 'dns:a.b.apps.example.internal'],
      ['the parent of a *. pattern', { dns: ['apps.example.internal'] }, 'dns:apps.example.internal'],
      ['a name that merely ends like the pattern', { dns: ['evilapps.example.internal'] }, 'dns:evilapps.example.internal'],
      ['a wildcard one level up', { dns: ['*.example.internal'] }, 'dns:*.example.internal'],
      ['a name with a trailing dot', { dns: ['api.example.internal.'] }, 'dns:api.example.internal.'],
      ['a label that is not a host name label', { dns: ['we b.apps.example.internal'] }, 'dns:we b.apps.example.internal'],
      ['an IPv4 address inside a CIDR range', { ip: ['10.200.3.4'] }, undefined],
      ['an IPv6 address inside a CIDR range', { ip: ['fd12:3456::1'] }, undefined],
      ['an IPv4 address outside', { ip: ['192.168.1.1'] }, 'ip:192.168.1.1'],
      ['an IPv6 address outside', { ip: ['2001:db8::1'] }, 'ip:2001:db8::1'],
      ['a URI matching the glob', { uri: ['spiffe://example.internal/ns/prod/sa/billing'] }, undefined],
      ['a URI of another trust domain', { uri: ['spiffe://evil.internal/ns/prod'] }, 'uri:spiffe://evil.internal/ns/prod'],
      ['a URI that only shares a prefix', { uri: ['spiffe://example.internal.evil/x'] }, 'uri:spiffe://example.internal.evil/x'],
      ['a mailbox at the allowed domain', { email: ['alice@example.internal'] }, undefined],
      ['a mailbox at a subdomain', { email: ['alice@sub.example.internal'] }, 'email:alice@sub.example.internal'],
      ['something that is not a mailbox', { email: ['alice@@example.internal'] }, 'email:alice@@example.internal'],
      [
        'all kinds at once',
        { dns: ['x.apps.example.internal'], ip: ['10.0.0.1'], uri: ['spiffe://example.internal/a'], email: ['b@example.internal'] },
        undefined,
      ],
    ];
    for (const [what, s, refused] of table) {
      it(refused ? `refuses ${what} with policy.san_not_allowed` : `allows ${what}`, () => {
        if (!refused) validateSans(p, sans(s));
        else expectCode(() => validateSans(p, sans(s)), 'policy.san_not_allowed', { san: refused });
      });
    }

    it('allows none of a kind whose list is empty', () => {
      const none = policy({ san: { dns: [], ip: [], uri: [], email: [] } });
      validateSans(none, sans({}));
      expectCode(() => validateSans(none, sans({ dns: ['api.example.internal'] })), 'policy.san_not_allowed');
      expectCode(() => validateSans(none, sans({ ip: ['10.0.0.1'] })), 'policy.san_not_allowed');
      expectCode(() => validateSans(none, sans({ uri: ['spiffe://example.internal/a'] })), 'policy.san_not_allowed');
      expectCode(() => validateSans(none, sans({ email: ['a@example.internal'] })), 'policy.san_not_allowed');
    });

    it('matches single addresses as /32 and /128', () => {
      const single = policy({ san: { dns: [], ip: ['192.0.2.7', '2001:db8::7'], uri: [], email: [] } });
      validateSans(single, sans({ ip: ['192.0.2.7', '2001:db8:0::7'] }));
      expectCode(() => validateSans(single, sans({ ip: ['192.0.2.8'] })), 'policy.san_not_allowed');
    });

    it('applies the rules of an unfrozen policy object too (no stale cache)', () => {
      const doc = JSON.parse(JSON.stringify(policy()));
      validateSans(doc, sans({ dns: ['api.example.internal'] }));
      doc.san.dns = [];
      expectCode(() => validateSans(doc, sans({ dns: ['api.example.internal'] })), 'policy.san_not_allowed');
    });
  });

  describe('validateValidity', () => {
    const DAY = 86_400;
    const p = policy({ maxValidityDays: 30 });
    it('allows the maximum', () => validateValidity(p, 30 * DAY));
    it('refuses one day more with policy.validity_exceeded, in days for a policy in days', () => {
      expectCode(() => validateValidity(p, 31 * DAY), 'policy.validity_exceeded', { maximum: 30, requested: 31 });
    });
    for (const bad of [1.5, Number.NaN]) {
      it(`refuses ${bad} seconds as a malformed request`, () => {
        expectCode(() => validateValidity(p, bad), 'request.malformed', { path: '/validity' });
      });
    }
    for (const short of [0, -1, 59]) {
      it(`refuses ${short} seconds with validity.too_short`, () => {
        expectCode(() => validateValidity(p, short), 'validity.too_short', { minimum: 'PT1M' });
      });
    }
    it('allows one minute', () => validateValidity(p, 60));
    const short = policy({ maxValidityDays: undefined, maxValidity: 'PT2M' });
    it('bounds a policy with maxValidity PT2M: 120 s pass, 121 s do not (in ISO 8601 durations)', () => {
      validateValidity(short, 120);
      expectCode(() => validateValidity(short, 121), 'policy.validity_exceeded', { maximum: 'PT2M', requested: 'PT2M1S' });
    });
  });
});
