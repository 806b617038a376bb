/**
 * The token verifier against a local JWKS endpoint (a plain HTTP server that
 * serves keys, not a Keycloak stand-in): key caching, refresh on unknown kid,
 * behaviour while the key server is down, and every refusal.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
type CryptoKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
import { AccessTokenVerifier } from '../../../services/keyward/src/tokens/access_token_verifier.ts';

describe('access token verifier', () => {
  let server: Server;
  let base: string;
  let fetches = 0;
  let up = true;
  const keys: Record<string, unknown>[] = [];
  let signer: CryptoKey;

  async function addKey(kid: string) {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
    return privateKey as CryptoKey;
  }

  const claims = (over: Record<string, unknown> = {}) => ({
    iss: `${base}/realms/r1`,
    aud: ['account', 'keyward'],
    azp: 'svc',
    sub: 'sa-1',
    typ: 'Bearer',
    realm_access: { roles: ['a'] },
    ...over,
  });
  const sign = (payload: Record<string, unknown>, kid = 'k1', key = signer, exp = '5m') =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).setIssuedAt().setExpirationTime(exp).sign(key);

  const verifier = (managed = ['r1'], cooldownMs = 60_000) =>
    new AccessTokenVerifier({
      keycloakUrl: base,
      audience: 'keyward',
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 5,
      acceptsRealm: (r) => managed.includes(r),
      cooldownMs,
    });

  const code = async (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (e: { code?: string }) => e.code,
    );

  before(async () => {
    signer = await addKey('k1');
    server = createServer((req, res) => {
      if (!up) {
        req.socket.destroy();
        return;
      }
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('accepts a valid token and returns realm, client and roles', async () => {
    const v = verifier();
    const t = await v.verify(await sign(claims()));
    expect(t).to.deep.include({ realm: 'r1', clientId: 'svc', subject: 'sa-1' });
    expect(t.realmRoles).to.deep.equal(['a']);
  });

  it('fetches the key set once and serves later tokens from the cache', async () => {
    const v = verifier();
    const before = fetches;
    for (let i = 0; i < 5; i++) await v.verify(await sign(claims()));
    expect(fetches - before).to.equal(1);
    expect(v.jwksFetches).to.equal(1);
  });

  it('keeps working from cached keys while the key server is down, and answers 503 when it has no keys', async () => {
    const v = verifier(['r1', 'r2']);
    await v.verify(await sign(claims()));
    up = false;
    try {
      expect(await code(v.verify(await sign(claims())))).to.equal('accepted');
      expect(await code(v.verify(await sign(claims({ iss: `${base}/realms/r2` }))))).to.equal('keycloak.unavailable');
    } finally {
      up = true;
    }
  });

  it('refreshes at most once per cooldown for unknown key ids', async () => {
    const v = verifier();
    await v.verify(await sign(claims()));
    const rogue = (await generateKeyPair('RS256')).privateKey as CryptoKey;
    const before = v.jwksFetches;
    for (let i = 0; i < 5; i++) expect(await code(v.verify(await sign(claims(), 'k-unknown', rogue)))).to.equal('auth.invalid_token');
    expect(v.jwksFetches - before).to.be.at.most(1);
  });

  it('picks up a rotated key once the refresh cooldown has passed', async () => {
    const v = verifier(['r1'], 100);
    await v.verify(await sign(claims()));
    const k2 = await addKey('k2');
    await new Promise((r) => setTimeout(r, 150));
    expect(await code(v.verify(await sign(claims(), 'k2', k2)))).to.equal('accepted');
  });

  const refusals: Array<[string, () => Promise<string>, string]> = [
    ['an expired token', () => sign(claims(), 'k1', signer, '-1m'), 'auth.invalid_token'],
    ['a wrong audience', () => sign(claims({ aud: 'account' })), 'auth.invalid_token'],
    ['an unmanaged issuer', () => sign(claims({ iss: `${base}/realms/other` })), 'auth.unknown_issuer'],
    ['a foreign issuer', () => sign(claims({ iss: 'https://evil.example/realms/r1' })), 'auth.unknown_issuer'],
    ['an ID token', () => sign(claims({ typ: 'ID' })), 'auth.invalid_token'],
    ['a token without azp', () => sign(claims({ azp: undefined })), 'auth.invalid_token'],
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.` +
        `${Buffer.from(JSON.stringify({ ...claims(), exp: 9e9, iat: 1 })).toString('base64url')}.`,
      'auth.invalid_token',
    ],
    ['not a JWT', async () => 'abc.def', 'auth.invalid_token'],
  ];
  for (const [what, make, expected] of refusals) {
    it(`refuses ${what} with ${expected}`, async () => {
      expect(await code(verifier().verify(await make()))).to.equal(expected);
    });
  }

  it('refuses to be configured with HMAC or none (misuse is a TypeError)', () => {
    expect(
      () =>
        new AccessTokenVerifier({ keycloakUrl: base, audience: 'k', algorithms: ['HS256'], clockSkewSeconds: 0, acceptsRealm: () => true }),
    ).to.throw(TypeError);
  });
});
