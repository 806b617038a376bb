import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { kekId, protectKey, rewrap, unprotectKey } from '../../../services/keyward/src/crypto/key_protection.ts';

describe('CA key protection', () => {
  const kek = randomBytes(32);
  const secret = randomBytes(121);

  it('round-trips a key and never stores it in clear', () => {
    const blob = protectKey(kek, secret);
    expect(JSON.stringify(blob)).to.not.contain(secret.toString('base64'));
    expect(blob.kek).to.equal(kekId(kek));
    expect(unprotectKey(kek, blob).equals(secret)).to.equal(true);
  });

  it('refuses another KEK with a message naming both fingerprints', () => {
    const other = randomBytes(32);
    expect(() => unprotectKey(other, protectKey(kek, secret))).to.throw(new RegExp(`${kekId(kek)}.*${kekId(other)}`));
  });

  it('detects tampering (AES-GCM authentication)', () => {
    const blob = protectKey(kek, secret);
    const ct = Buffer.from(blob.key.ct, 'base64');
    ct[0]! ^= 1;
    expect(() => unprotectKey(kek, { ...blob, key: { ...blob.key, ct: ct.toString('base64') } })).to.throw();
  });

  it('rewraps under a new KEK without changing the key', () => {
    const next = randomBytes(32);
    const moved = rewrap(kek, next, protectKey(kek, secret));
    expect(moved.kek).to.equal(kekId(next));
    expect(unprotectKey(next, moved).equals(secret)).to.equal(true);
    expect(() => unprotectKey(kek, moved)).to.throw();
  });
});
