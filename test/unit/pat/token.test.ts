import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { generatePat, hashPat, patId, patMatches } from '../../../services/keyward/src/pat/token.ts';
import { redact } from '../../../services/keyward/src/kernel/log.ts';

describe('personal access token format', () => {
  it('is kwp_<16 hex id>_<43 base62 secret>, random every time, stored as SHA-256 of the whole token', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = generatePat();
      expect(t.token).to.match(/^kwp_[0-9a-f]{16}_[0-9A-Za-z]{43}$/);
      expect(t.token.startsWith(`kwp_${t.id}_`)).to.equal(true);
      expect(Buffer.from(t.hash).toString('hex')).to.equal(createHash('sha256').update(t.token).digest('hex'));
      seen.add(t.token);
      seen.add(t.id);
    }
    expect(seen.size).to.equal(400);
  });

  const malformed: Array<[string, string]> = [
    ['another prefix', `kwx_0123456789abcdef_${'a'.repeat(43)}`],
    ['an upper-case id', `kwp_0123456789ABCDEF_${'a'.repeat(43)}`],
    ['a short id', `kwp_0123456789abcde_${'a'.repeat(43)}`],
    ['a short secret', `kwp_0123456789abcdef_${'a'.repeat(42)}`],
    ['a secret outside base62', `kwp_0123456789abcdef_${'a'.repeat(42)}-`],
    ['a third part', `kwp_0123456789abcdef_${'a'.repeat(43)}_x`],
    ['nothing after the prefix', 'kwp_'],
  ];
  for (const [what, token] of malformed) {
    it(`reads no id from a token with ${what}`, () => {
      expect(patId(token)).to.equal(undefined);
    });
  }

  it('matches only the token itself, and never when the id is unknown', () => {
    const t = generatePat();
    expect(patMatches(t.token, t.hash)).to.equal(true);
    expect(patMatches(t.token.slice(0, -1) + (t.token.endsWith('A') ? 'B' : 'A'), t.hash)).to.equal(false);
    expect(patMatches(t.token, undefined)).to.equal(false);
    expect(patMatches(t.token, hashPat(generatePat().token))).to.equal(false);
    expect(patMatches(t.token, new Uint8Array(5))).to.equal(false);
  });

  it('is redacted from log lines', () => {
    const { token } = generatePat();
    expect(JSON.stringify(redact({ msg: `Authorization: Bearer ${token}` }))).to.not.contain(token.slice(4));
  });
});
