import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import {
  CA_KEY_TYPES,
  generateCaKey,
  kekId,
  keyTypeOf,
  localSigner,
  protectKey,
  rewrap,
  unprotectKey,
  type KeyBlob,
} from '../../../services/keyward/src/ca/index.ts';
import { keyTypeOfSpki, spkiOf } from '../../../services/keyward/src/ca/keys.ts';
import { KEK } from './fixtures.ts';

describe('CA keys', () => {
  describe('generateCaKey', () => {
    for (const type of CA_KEY_TYPES) {
      it(`generates an ${type} key that signs with the matching algorithm`, async function () {
        this.timeout(120_000); // RSA-4096 generation can take seconds
        const key = await generateCaKey(type);
        expect(keyTypeOf(key)).to.equal(type);
        const signer = localSigner(key);
        expect(signer.algorithm.name).to.equal(
          type === 'EC-P384' ? 'ecdsa-with-SHA384' : type === 'EC-P256' ? 'ecdsa-with-SHA256' : 'sha256WithRSAEncryption',
        );
        const data = Buffer.from('tbs');
        const sig = signer.sign(data) as Uint8Array;
        expect(verify(signer.algorithm.hash, data, createPublicKey(key), sig)).to.equal(true);
        if (type.startsWith('EC-')) expect(sig[0]).to.equal(0x30); // DER Ecdsa-Sig-Value, not IEEE P1363
      });
    }

    it('refuses a key type it does not make (misuse)', async () => {
      let err: unknown;
      await generateCaKey('EC-P521' as never).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(TypeError);
    });
  });

  describe('key types', () => {
    const table: Array<[string, () => ReturnType<typeof generateKeyPairSync>['publicKey']]> = [
      ['EC-P256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
      ['EC-P384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
      ['EC-P521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
      ['EC-secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
      ['RSA-1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
      ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
      ['RSA-2047', () => generateKeyPairSync('rsa', { modulusLength: 2047 }).publicKey],
      ['RSA-2048-e3', () => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey],
      ['ed25519', () => generateKeyPairSync('ed25519').publicKey],
      ['ed448', () => generateKeyPairSync('ed448').publicKey],
      ['dsa', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey],
    ];
    for (const [name, make] of table) {
      it(`names ${name} the same from a KeyObject and from its SPKI DER`, () => {
        const key = make();
        expect(keyTypeOf(key)).to.equal(name);
        expect(keyTypeOfSpki(spkiOf(key))).to.equal(name);
      });
    }

    it('refuses to sign with keys that cannot run a CA (misuse)', () => {
      expect(() => localSigner(generateKeyPairSync('ed25519').privateKey)).to.throw(TypeError);
      expect(() => localSigner(generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey)).to.throw(TypeError);
      expect(() => localSigner(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)).to.throw(TypeError);
      expect(() => localSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).to.throw(TypeError);
    });
  });

  describe('key protection (envelope encryption)', () => {
    const other = Buffer.alloc(32, 9);

    it('seals a key under the KEK and opens it again', async () => {
      const key = await generateCaKey('EC-P256');
      const blob = protectKey(KEK, key);
      expect(blob.kek)
        .to.equal(kekId(KEK))
        .and.match(/^[0-9a-f]{16}$/);
      expect(JSON.stringify(blob)).not.to.include(key.export({ format: 'der', type: 'pkcs8' }).toString('base64').slice(40, 80));
      expect(unprotectKey(KEK, JSON.parse(JSON.stringify(blob))).equals(key)).to.equal(true);
    });

    it('uses a fresh data key and IV every time', async () => {
      const key = await generateCaKey('EC-P256');
      const a = protectKey(KEK, key);
      const b = protectKey(KEK, key);
      expect(a.wrapped.ct).not.to.equal(b.wrapped.ct);
      expect(a.key.ct).not.to.equal(b.key.ct);
    });

    it('refuses to open under another KEK, naming both fingerprints', async () => {
      const blob = protectKey(KEK, await generateCaKey('EC-P256'));
      expect(() => unprotectKey(other, blob)).to.throw(TypeError, new RegExp(`${blob.kek}.*${kekId(other)}`));
    });

    it('detects a tampered blob', async () => {
      const blob = protectKey(KEK, await generateCaKey('EC-P256'));
      const ct = Buffer.from(blob.key.ct, 'base64');
      ct[5]! ^= 1;
      expect(() => unprotectKey(KEK, { ...blob, key: { ...blob.key, ct: ct.toString('base64') } })).to.throw(/failed authentication/);
      const fakeId: KeyBlob = { ...blob, wrapped: { ...blob.wrapped, iv: Buffer.alloc(12).toString('base64') } };
      expect(() => unprotectKey(KEK, fakeId)).to.throw(/failed authentication/);
    });

    it('rewraps to a new KEK without touching the encrypted key, and is idempotent', async () => {
      const key = await generateCaKey('EC-P384');
      const blob = protectKey(KEK, key);
      const rotated = rewrap(KEK, other, blob);
      expect(rotated.kek).to.equal(kekId(other));
      expect(rotated.key).to.deep.equal(blob.key);
      expect(unprotectKey(other, rotated).equals(key)).to.equal(true);
      expect(() => unprotectKey(KEK, rotated)).to.throw(TypeError);
      expect(rewrap(KEK, other, rotated)).to.equal(rotated);
      expect(() => rewrap(Buffer.alloc(32, 1), Buffer.alloc(32, 2), blob)).to.throw(TypeError, /neither/);
    });

    it('refuses a KEK that is not 32 bytes and a blob of unknown shape (misuse)', async () => {
      const key = await generateCaKey('EC-P256');
      expect(() => protectKey(Buffer.alloc(16), key)).to.throw(TypeError);
      expect(() => unprotectKey(KEK, { v: 2 })).to.throw(TypeError);
      expect(() => unprotectKey(KEK, null)).to.throw(TypeError);
    });
  });
});
