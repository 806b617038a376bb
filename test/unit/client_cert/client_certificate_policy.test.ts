import { expect } from 'chai';
import { PROFILES, validateKey, validateValidityDays } from '../../../services/keyward/src/ca/index.ts';
import { clientCertificatePolicy } from '../../../services/keyward/src/client_cert/client_certificates.ts';
import { expectCode } from '../ca/fixtures.ts';

describe("users' client certificates: the realm's client-certificate profile", () => {
  const policy = clientCertificatePolicy({ enabled: true, maxExpirationDays: 30 });

  for (const keyType of ['EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096']) {
    it(`allows ${keyType} keys`, () => {
      expect(() => validateKey(policy, keyType)).to.not.throw();
    });
  }

  for (const keyType of ['RSA-1024', 'ed25519', 'EC-secp256k1', 'RSA-2048-e3']) {
    it(`refuses ${keyType} keys with policy.key_not_allowed, like the policy validators of issued certificates`, () => {
      expectCode(() => validateKey(policy, keyType), 'policy.key_not_allowed', { keyType });
    });
  }

  it("refuses an expiry above the realm's maximum with policy.validity_exceeded", () => {
    expect(() => validateValidityDays(policy, 30)).to.not.throw();
    expectCode(() => validateValidityDays(policy, 31), 'policy.validity_exceeded', { maximum: 30 });
  });

  it('certifies for client authentication only, as the clientAuth profile says', () => {
    expect(policy.keyUsage).to.deep.equal(['digitalSignature']);
    expect(policy.extendedKeyUsage).to.deep.equal(['clientAuth']);
    expect(PROFILES.clientAuth).to.deep.include({ ca: false, revocationPointers: false });
  });
});
