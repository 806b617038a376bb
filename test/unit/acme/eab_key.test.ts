/** EAB HMAC keys as ACME clients take them on a command line (certbot --eab-hmac-key K, lego --hmac K). */
import { expect } from 'chai';
import { hmacKeyBytes } from '../../../services/keyward/src/acme/actions/eab.ts';

describe('acme EAB keys', () => {
  it('are 256 random bits whose base64url form never starts with "-" (it would read as an option)', () => {
    const seen = new Set<string>();
    // One random key in 64 would start with '-': 4,000 keys would show about 60 of them.
    for (let i = 0; i < 4000; i++) {
      const k = Buffer.from(hmacKeyBytes()).toString('base64url');
      expect(k).to.have.length(43);
      expect(k[0]).to.not.equal('-');
      seen.add(k);
    }
    expect(seen.size).to.equal(4000);
  });
});
