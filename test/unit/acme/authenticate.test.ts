import { expect } from 'chai';
import { exportJWK, FlattenedSign, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';
import { authenticate } from '../../../services/keyward/src/acme/actions/authenticate.ts';
import { acmeContext, type AcmeContext } from '../../../services/keyward/src/acme/context.ts';
import { parseIdentifiers, challengeTypesFor } from '../../../services/keyward/src/acme/identifiers.ts';
import type { AccountRecord, AcmeStore } from '../../../services/keyward/src/acme/ports.ts';
import { AcmeProblem, toAcmeProblem } from '../../../services/keyward/src/acme/problem.ts';
import { AllowedNetworks } from '../../../services/keyward/src/acme/validation/networks.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { silentLogger } from '../../../services/keyward/src/kernel/log.ts';

const BASE = 'https://keyward.example';

/** The nonces and the one account of a store; nothing else is touched by authentication. */
function fakeStore(account: AccountRecord | undefined) {
  const nonces = new Set<string>();
  const store = {
    consumeNonce: async (n: string) => nonces.delete(n),
    findAccount: async (_realm: string, id: string) => (account?.id === id ? account : undefined),
  } as unknown as AcmeStore;
  return { store, nonces };
}

function context(store: AcmeStore, perMinute = 600): AcmeContext {
  return acmeContext(
    {
      store,
      issuance: {} as never,
      authz: {} as never,
      realms: {} as never,
      policies: {} as never,
      clock: { now: () => new Date() },
      log: silentLogger,
    },
    { publicUrl: BASE, allowedNetworks: [], http01Port: 80, tlsAlpn01Port: 443, dnsServer: undefined, requestsPerMinute: perMinute },
  );
}

async function problemOf(p: Promise<unknown>): Promise<AcmeProblem> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AcmeProblem) return err;
    throw err;
  }
  throw new Error('expected an ACME problem');
}

describe('acme authenticate (RFC 8555 §6.2–6.5)', () => {
  let key: Parameters<FlattenedSign['sign']>[0];
  let jwk: JWK;
  let account: AccountRecord;
  const url = `${BASE}/acme/demo/new-order`;

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    key = pair.privateKey;
    jwk = await exportJWK(pair.publicKey);
    account = {
      id: 'acct1',
      realm: 'demo',
      thumbprint: await calculateJwkThumbprint(jwk),
      jwk: jwk as Record<string, unknown>,
      status: 'valid',
      contact: [],
      eabKid: 'kid',
      client: { realm: 'demo', clientId: 'app', subject: 'sub' },
      createdAt: new Date(),
    };
  });

  const sign = (header: Record<string, unknown>, payload: unknown = {}) =>
    new FlattenedSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header as never).sign(key);

  it('accepts a signed request once: its nonce is single use (badNonce the second time)', async () => {
    const { store, nonces } = fakeStore(account);
    const ctx = context(store);
    nonces.add('n1');
    const body = await sign({ alg: 'ES256', nonce: 'n1', url, kid: `${BASE}/acme/demo/account/acct1` }, { hello: 1 });
    const a = await authenticate(ctx, { realm: 'demo', url, body }, 'kid');
    expect(a.payload).to.deep.equal({ hello: 1 });
    expect(a.account?.id).to.equal('acct1');
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body }, 'kid'))).type).to.equal('badNonce');
  });

  it('refuses another url (unauthorized), an unknown account and an account of another realm (accountDoesNotExist)', async () => {
    const { store, nonces } = fakeStore(account);
    const ctx = context(store);
    for (const n of ['a', 'b', 'c']) nonces.add(n);
    const wrong = await sign({ alg: 'ES256', nonce: 'a', url: `${BASE}/acme/demo/revoke-cert`, kid: `${BASE}/acme/demo/account/acct1` });
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body: wrong }, 'kid'))).type).to.equal('unauthorized');
    const unknown = await sign({ alg: 'ES256', nonce: 'b', url, kid: `${BASE}/acme/demo/account/nobody` });
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body: unknown }, 'kid'))).type).to.equal('accountDoesNotExist');
    const elsewhere = await sign({ alg: 'ES256', nonce: 'c', url, kid: `${BASE}/acme/other/account/acct1` });
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body: elsewhere }, 'kid'))).type).to.equal('accountDoesNotExist');
  });

  it('refuses none, HMAC and unlisted algorithms with badSignatureAlgorithm, naming the accepted ones', async () => {
    const ctx = context(fakeStore(account).store);
    for (const alg of ['none', 'HS256', 'PS256', 'ES512']) {
      const protectedHeader = Buffer.from(JSON.stringify({ alg, nonce: 'x', url, kid: 'k' })).toString('base64url');
      const p = await problemOf(
        authenticate(ctx, { realm: 'demo', url, body: { protected: protectedHeader, payload: '', signature: 'c2ln' } }, 'kid'),
      );
      expect(p.type, alg).to.equal('badSignatureAlgorithm');
      expect(p.document.algorithms).to.deep.equal(['ES256', 'ES384', 'RS256', 'EdDSA']);
    }
  });

  it('refuses an unprotected header, both jwk and kid, and a private key as account key', async () => {
    const ctx = context(fakeStore(account).store);
    const body = await sign({ alg: 'ES256', nonce: 'x', url, kid: 'k' });
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body: { ...body, header: {} } }, 'kid'))).type).to.equal('malformed');
    const both = await sign({ alg: 'ES256', nonce: 'x', url, kid: 'k', jwk });
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body: both }, 'either'))).type).to.equal('malformed');
    const priv = await exportJWK(key as Parameters<typeof exportJWK>[0]);
    const withPrivate = await sign({ alg: 'ES256', nonce: 'x', url, jwk: priv });
    expect((await problemOf(authenticate(ctx, { realm: 'demo', url, body: withPrivate }, 'jwk'))).type).to.equal('badPublicKey');
  });

  it('accepts Ed25519 (EdDSA) and RSA (RS256) keys in a jwk request, and answers their RFC 7638 thumbprints', async () => {
    const { store, nonces } = fakeStore(undefined);
    const ctx = context(store);
    for (const alg of ['EdDSA', 'RS256'] as const) {
      const pair = await generateKeyPair(alg, { extractable: true });
      const pub = await exportJWK(pair.publicKey);
      nonces.add(alg);
      const body = await new FlattenedSign(new TextEncoder().encode('{}'))
        .setProtectedHeader({ alg, nonce: alg, url, jwk: pub } as never)
        .sign(pair.privateKey);
      const a = await authenticate(ctx, { realm: 'demo', url, body }, 'jwk');
      expect(a.thumbprint, alg).to.equal(await calculateJwkThumbprint(pub));
    }
  });

  it('limits each account: past its burst, rateLimited with Retry-After', async () => {
    const { store, nonces } = fakeStore(account);
    const ctx = context(store, 1); // one a minute, a burst of 10
    const kid = `${BASE}/acme/demo/account/acct1`;
    let limited: AcmeProblem | undefined;
    for (let i = 0; i < 12 && !limited; i++) {
      nonces.add(`r${i}`);
      const body = await sign({ alg: 'ES256', nonce: `r${i}`, url, kid });
      limited = await authenticate(ctx, { realm: 'demo', url, body }, 'kid').then(
        () => undefined,
        (e: AcmeProblem) => e,
      );
    }
    expect(limited?.type).to.equal('rateLimited');
    expect(limited?.status).to.equal(429);
    expect(Number(limited?.headers['Retry-After'])).to.be.greaterThan(0);
  });
});

describe('acme identifiers and problems', () => {
  it('normalises DNS names, refuses what is not one, offers dns-01 only for wildcards and http-01 only for IP addresses', () => {
    expect(
      parseIdentifiers([
        { type: 'dns', value: 'WWW.Example.Internal.' },
        { type: 'dns', value: 'www.example.internal' },
      ]),
    ).to.deep.equal([{ type: 'dns', value: 'www.example.internal' }]);
    expect(() => parseIdentifiers([{ type: 'dns', value: 'bad_name.example' }]))
      .to.throw(AcmeProblem)
      .with.property('type', 'rejectedIdentifier');
    expect(() => parseIdentifiers([{ type: 'email', value: 'a@b' }]))
      .to.throw(AcmeProblem)
      .with.property('type', 'unsupportedIdentifier');
    expect(() => parseIdentifiers([]))
      .to.throw(AcmeProblem)
      .with.property('type', 'malformed');
    expect(challengeTypesFor({ type: 'dns', value: '*.example.internal' })).to.deep.equal(['dns-01']);
    expect(challengeTypesFor({ type: 'ip', value: '10.0.0.1' })).to.deep.equal(['http-01']);
    expect(challengeTypesFor({ type: 'dns', value: 'a.example.internal' })).to.deep.equal(['http-01', 'dns-01', 'tls-alpn-01']);
  });

  it('translates Keyward refusals into ACME problem types, keeping server failures as serverInternal with their status', () => {
    expect(toAcmeProblem(new KeywardError('policy.san_not_allowed', 'x')).type).to.equal('rejectedIdentifier');
    expect(toAcmeProblem(new KeywardError('csr.bad_signature', 'x')).type).to.equal('badCSR');
    expect(toAcmeProblem(new KeywardError('token.client_disabled', 'x')).document).to.include({
      type: 'urn:ietf:params:acme:error:unauthorized',
      status: 403,
    });
    const outage = toAcmeProblem(new KeywardError('keycloak.unavailable', 'x'));
    expect([outage.type, outage.status]).to.deep.equal(['serverInternal', 503]);
    expect(toAcmeProblem(new Error('boom')).document.detail).to.equal('An unexpected error occurred');
  });

  it('allows only the configured networks for validation', () => {
    const n = new AllowedNetworks(['10.0.0.0/8', '127.0.0.0/8', '::1/128', 'fc00::/7']);
    expect(n.allows('10.1.2.3')).to.equal(true);
    expect(n.allows('::ffff:127.0.0.1')).to.equal(true);
    expect(n.allows('fd12::1')).to.equal(true);
    expect(n.allows('8.8.8.8')).to.equal(false);
    expect(n.allows('2001:db8::1')).to.equal(false);
    expect(() => n.filter('x.example', ['8.8.8.8']))
      .to.throw(AcmeProblem)
      .with.property('type', 'connection');
    expect(n.filter('x.example', ['8.8.8.8', '10.0.0.5'])).to.deep.equal(['10.0.0.5']);
  });
});
