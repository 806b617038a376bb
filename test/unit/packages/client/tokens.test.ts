import { expect } from 'chai';
import { cachedToken, clientCredentials, KeywardApiError, personalAccessToken, staticToken } from '@keyward/client';

/** A token endpoint stand-in: numbered tokens with the given lifetime, counting how often it is asked. */
function issuer(expiresInSeconds: number | undefined) {
  const state = { calls: 0, fail: false };
  const issue = async () => {
    state.calls++;
    if (state.fail) throw new Error('invalid_client');
    return { accessToken: `token-${state.calls}`, expiresInSeconds };
  };
  return { state, issue };
}

describe('@keyward/client token providers', () => {
  describe('cachedToken (the cache under clientCredentials)', () => {
    it('reuses a token until refreshBeforeSeconds before its expiry, then gets the next one before the old one expires', async () => {
      let now = 1_000_000;
      const { state, issue } = issuer(300);
      const token = cachedToken(issue, { refreshBeforeSeconds: 30, now: () => now });
      expect(await token()).to.equal('token-1');
      now += 269_000; // 269 s of 300: still more than 30 s left
      expect(await token()).to.equal('token-1');
      now += 1_000; // 30 s left: renewed while the first token is still valid
      expect(await token()).to.equal('token-2');
      expect(await token()).to.equal('token-2');
      expect(state.calls).to.equal(2);
    });

    it('renews a short-lived token at half its lifetime when that is sooner than refreshBeforeSeconds', async () => {
      let now = 0;
      const { issue } = issuer(20);
      const token = cachedToken(issue, { refreshBeforeSeconds: 30, now: () => now });
      expect(await token()).to.equal('token-1');
      now = 9_999;
      expect(await token()).to.equal('token-1');
      now = 10_000;
      expect(await token()).to.equal('token-2');
    });

    it('assumes 60 s when the endpoint gives no expires_in', async () => {
      let now = 0;
      const { issue } = issuer(undefined);
      const token = cachedToken(issue, { refreshBeforeSeconds: 10, now: () => now });
      await token();
      now = 49_999;
      expect(await token()).to.equal('token-1');
      now = 50_000;
      expect(await token()).to.equal('token-2');
    });

    it('asks once for concurrent callers, does not cache a failure, and forgets its token on invalidate()', async () => {
      const { state, issue } = issuer(300);
      const token = cachedToken(issue);
      expect(await Promise.all([token(), token(), token()])).to.deep.equal(['token-1', 'token-1', 'token-1']);
      expect(state.calls).to.equal(1);
      token.invalidate();
      state.fail = true;
      const failed = await token().catch((e: Error) => e.message);
      expect(failed).to.equal('invalid_client');
      state.fail = false;
      expect(await token()).to.equal('token-3');
    });
  });

  it('staticToken and personalAccessToken send what they are given and refuse what cannot be a credential', async () => {
    expect(await staticToken('abc')()).to.equal('abc');
    expect(await personalAccessToken('kwp_0123abcd_s3cr3t-xyz')()).to.equal('kwp_0123abcd_s3cr3t-xyz');
    expect(() => staticToken('')).to.throw(TypeError);
    expect(() => personalAccessToken('eyJhbGciOi')).to.throw(TypeError, /kwp_<id>_<secret>/);
  });

  it('clientCredentials refuses an http:// issuer unless allowed, and a missing id or secret (TypeError, misuse)', () => {
    const base = { issuer: 'http://sso.example/realms/acme', clientId: 'deployer', clientSecret: 's' };
    expect(() => clientCredentials(base)).to.throw(TypeError, /allowInsecureHttp/);
    expect(() => clientCredentials({ ...base, allowInsecureHttp: true })).to.not.throw();
    expect(() => clientCredentials({ ...base, issuer: 'https://sso.example/realms/acme', clientSecret: '' })).to.throw(TypeError);
  });

  it('clientCredentials turns an unreachable Keycloak into client.token_failed with the cause, naming the client', async () => {
    const token = clientCredentials({
      issuer: 'http://127.0.0.1:9/realms/acme',
      clientId: 'deployer',
      clientSecret: 'not-in-the-message',
      allowInsecureHttp: true,
      timeoutMs: 2000,
    });
    const err = await token().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(KeywardApiError);
    const e = err as KeywardApiError;
    expect([e.status, e.code]).to.deep.equal([0, 'client.token_failed']);
    expect(e.detail).to.match(/^no access token for client deployer from http:\/\/127\.0\.0\.1:9\/realms\/acme \(/);
    expect(e.message).to.not.contain('not-in-the-message');
    expect(e.cause).to.not.equal(undefined);
  });
});
