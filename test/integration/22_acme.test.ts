/**
 * Scenario 22: the ACME server (RFC 8555) against the real Keycloak and
 * PostgreSQL, driven by the npm acme-client library as an ACME client would
 * use it: external account binding to an API client, http-01 answered by an
 * HTTP server on loopback, dns-01 by a DNS server on loopback, tls-alpn-01
 * (RFC 8737) by a TLS server on loopback, key roll-over, deactivation,
 * revocation by the certificate's key, renewal information (RFC 9773); every
 * certificate checked with openssl verify and revocation with openssl ocsp.
 * And the refusals: replayed nonce, wrong url, missing or reused binding, a
 * disabled API client, an identifier outside the policy, a wrong challenge
 * answer, `none` and HS256 signatures.
 */
import * as acme from 'acme-client';
import * as x509 from '@peculiar/x509';
import { expect } from 'chai';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import tls from 'node:tls';
import { FlattenedSign } from 'jose';
import { startDnsServer, type TestDnsServer } from '../support/dns_server.ts';
import { keyward } from '../support/cli.ts';
import { call, clientToken, integrationEnv, keycloakAdmin, operatorToken, unique } from '../support/env.ts';
import { must, openssl, work, write } from '../support/openssl.ts';
import { freePort, serveOnPort, type ServedKeyward } from '../support/served.ts';

const ACME_ERR = 'urn:ietf:params:acme:error:';

describe('22 ACME (RFC 8555) with external account binding to API clients', function () {
  const realm = unique('acme');
  const domain = `${realm}.internal`;
  const clientId = 'acme-app';
  let kw: ServedKeyward;
  let dns: TestDnsServer;
  let httpServer: http.Server;
  let tlsServer: tls.Server;
  const httpTokens = new Map<string, string>();
  const alpnCerts = new Map<string, { key: Buffer; cert: Buffer }>();
  let token: string;
  let secret: string;
  let operator: string;
  const partner = unique('acmep');
  let directoryUrl: string;
  let dir: string;
  let issuingFile: string;
  let rootFile: string;

  const eab = async (t = token) => {
    const r = await call(kw.url, 'POST', `/v1/realms/${realm}/acme/eab-keys`, { token: t });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body as { kid: string; hmacKey: string; directory: string };
  };

  async function newClient(options: { eab?: boolean; accountKey?: Buffer } = {}) {
    const key = options.accountKey ?? (await acme.crypto.createPrivateEcdsaKey('P-256'));
    const binding = options.eab === false ? undefined : await eab();
    const client = new acme.Client({
      directoryUrl,
      accountKey: key,
      ...(binding ? { externalAccountBinding: { kid: binding.kid, hmacKey: binding.hmacKey } } : {}),
      backoffAttempts: 30,
      backoffMin: 200,
      backoffMax: 1000,
    });
    return { client, key, binding };
  }

  /** Orders `names`, answers with `type`, finalizes with a fresh P-256 key; the certificate chain and key. */
  async function obtain(client: acme.Client, names: string[], type: 'http-01' | 'dns-01' | 'tls-alpn-01') {
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    expect(order.status).to.equal('pending');
    for (const authz of await client.getAuthorizations(order)) {
      const challenge = authz.challenges.find((c) => c.type === type)!;
      expect(challenge, `${type} offered`).to.not.equal(undefined);
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      if (type === 'http-01') httpTokens.set(challenge.token, keyAuthorization);
      if (type === 'dns-01') dns.txt.set(`_acme-challenge.${authz.identifier.value}`, [keyAuthorization]);
      if (type === 'tls-alpn-01') {
        const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
        alpnCerts.set(authz.identifier.value, { key, cert });
      }
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    const certKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, certKey);
    const finalized = await client.finalizeOrder(order, csr);
    const valid = await client.waitForValidStatus(finalized);
    expect(valid.status).to.equal('valid');
    const chain = await client.getCertificate(valid);
    return { order: { ...valid, url: order.url }, chain, certKey };
  }

  async function verifies(chainPem: string): Promise<void> {
    const leaf = write(dir, `leaf-${Math.random().toString(36).slice(2)}.pem`, acme.crypto.splitPemChain(chainPem)[0]!);
    const out = await must(['verify', '-CAfile', rootFile, '-untrusted', issuingFile, '-purpose', 'sslserver', leaf]);
    expect(out).to.contain(': OK');
  }

  /** A signed request written by hand (jose), for the refusals acme-client never sends. */
  async function raw(
    url: string,
    payload: unknown,
    o: { key: KeyObject | Uint8Array; alg?: string; kid?: string; jwk?: unknown; nonce?: string; headerUrl?: string },
  ) {
    const nonce = o.nonce ?? (await fetch(`${kw.url}/acme/${realm}/new-nonce`, { method: 'HEAD' })).headers.get('replay-nonce')!;
    const header = { alg: o.alg ?? 'ES256', nonce, url: o.headerUrl ?? url, ...(o.kid ? { kid: o.kid } : { jwk: o.jwk }) };
    const body = payload === '' ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    const jws = await new FlattenedSign(body).setProtectedHeader(header as never).sign(o.key);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/jose+json' }, body: JSON.stringify(jws) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, nonce };
  }

  before(async function () {
    dir = work();
    dns = await startDnsServer();
    const httpPort = await freePort();
    httpServer = http.createServer((req, res) => {
      const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
      const answer = m && httpTokens.get(m[1]!);
      if (answer === 'big') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(9000));
        return;
      }
      if (answer?.startsWith('redirect:')) {
        res.writeHead(302, { location: answer.slice('redirect:'.length) }).end();
        return;
      }
      res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' }).end(answer ?? 'not found');
    });
    await new Promise<void>((r) => httpServer.listen(httpPort, '127.0.0.1', r));
    const tlsPort = await freePort();
    tlsServer = tls.createServer({
      ALPNProtocols: ['acme-tls/1'],
      SNICallback: (name, cb) => {
        const c = alpnCerts.get(name);
        cb(c ? null : new Error(`no certificate for ${name}`), c ? tls.createSecureContext({ key: c.key, cert: c.cert }) : undefined);
      },
    });
    await new Promise<void>((r) => tlsServer.listen(tlsPort, '127.0.0.1', r));
    kw = await serveOnPort(await freePort(), {
      KEYWARD_ACME_HTTP01_PORT: String(httpPort),
      KEYWARD_ACME_TLSALPN01_PORT: String(tlsPort),
      KEYWARD_ACME_DNS_SERVER: dns.address,
    });
    operator = await operatorToken();
    for (const r of [realm, partner])
      expect((await call(kw.url, 'PUT', `/v1/realms/${r}`, { token: operator, body: {} })).status).to.equal(201);
    const policy = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/web`, {
      token: operator,
      body: {
        keyTypes: ['EC-P256', 'RSA-2048'],
        maxValidityDays: 30,
        subject: { required: [], allowed: ['CN'] },
        san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['serverAuth'],
        approval: 'none',
      },
    });
    expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
    const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: operator,
      body: { clientId, roles: ['keyward-requester'], defaultPolicy: { realm, name: 'web' } },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    secret = created.body.secret;
    token = await clientToken(realm, clientId, secret);
    const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    issuingFile = write(dir, 'issuing.pem', ca.body.chain[0]);
    rootFile = write(dir, 'root.pem', ca.body.chain[1]);
    directoryUrl = `${kw.url}/acme/${realm}/web/directory`;
  });

  after(async () => {
    await kw?.close();
    await dns?.close();
    httpServer?.close();
    tlsServer?.close();
  });

  it('serves a directory per realm and per policy that requires external account binding, and nonces on HEAD', async () => {
    const d = await fetch(directoryUrl);
    expect(d.status).to.equal(200);
    const body = (await d.json()) as Record<string, string> & { meta: Record<string, unknown> };
    expect(body.newOrder).to.equal(`${kw.url}/acme/${realm}/web/new-order`);
    expect(body.newAccount).to.equal(`${kw.url}/acme/${realm}/new-account`);
    expect(body.renewalInfo).to.equal(`${kw.url}/acme/${realm}/renewal-info`);
    expect(body.meta.externalAccountRequired).to.equal(true);
    expect(d.headers.get('replay-nonce')).to.match(/^[A-Za-z0-9_-]{16,}$/);
    const realmDir = (await (await fetch(`${kw.url}/acme/${realm}/directory`)).json()) as Record<string, string>;
    expect(realmDir.newOrder).to.equal(`${kw.url}/acme/${realm}/new-order`);
    const head = await fetch(body.newNonce!, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.headers.get('cache-control')).to.equal('no-store');
    expect(head.headers.get('link')).to.equal(`<${kw.url}/acme/${realm}/directory>;rel="index"`);
    const missing = await fetch(`${kw.url}/acme/${realm}/nope/directory`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { type: string }).type).to.equal(`${ACME_ERR}malformed`);
  });

  it('issues over http-01 through the issuance pipeline: openssl verifies it, the certificate records its account and order', async () => {
    const { client, binding } = await newClient();
    const account = await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:ops@${domain}`] });
    expect(account.status).to.equal('valid');
    const { order, chain } = await obtain(client, [`www.${domain}`, `api.${domain}`], 'http-01');
    expect(acme.crypto.splitPemChain(chain)).to.have.length(3);
    await verifies(chain);
    const info = acme.crypto.readCertificateInfo(chain);
    expect(info.domains.altNames.sort()).to.deep.equal([`api.${domain}`, `www.${domain}`]);
    const serial = new x509.X509Certificate(acme.crypto.splitPemChain(chain)[0]!).serialNumber.toLowerCase().replace(/^0+/, '');
    const view = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token });
    expect(view.status).to.equal(200);
    expect(view.body.acme).to.deep.equal({ account: client.getAccountUrl(), order: order.url });
    expect(view.body.requester.name).to.equal(clientId);
    expect(view.body.requester.kind).to.equal('client:acme');
    const search = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?san=dns:www.${domain}`, { token });
    expect(search.body.items.map((c: { acme?: { order: string } }) => c.acme?.order)).to.include(order.url);
    const keys = await call(kw.url, 'GET', `/v1/realms/${realm}/acme/eab-keys`, { token });
    const used = keys.body.items.find((k: { kid: string }) => k.kid === binding!.kid);
    expect(used).to.include({ status: 'used', account: client.getAccountUrl() });
    expect(JSON.stringify(keys.body)).to.not.contain(binding!.hmacKey);
    const audit = await kw.keyward.db.query("SELECT action FROM audit_events WHERE realm = $1 AND action LIKE 'acme_%' ORDER BY seq", [
      realm,
    ]);
    expect(audit.rows.map((r) => r.action)).to.include.members(['acme_account.created', 'acme_order.created', 'acme_challenge.valid']);
  });

  it('issues over dns-01 answered by a DNS server on loopback', async () => {
    const { client } = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true });
    const { chain } = await obtain(client, [`dns.${domain}`], 'dns-01');
    await verifies(chain);
    expect(dns.queries).to.include(`TXT _acme-challenge.dns.${domain}`);
  });

  it('issues over tls-alpn-01 (RFC 8737) answered by a TLS server on loopback', async () => {
    const { client } = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true });
    const { chain } = await obtain(client, [`alpn.${domain}`], 'tls-alpn-01');
    await verifies(chain);
  });

  it('refuses an account without external account binding (externalAccountRequired) and a reused binding (unauthorized)', async () => {
    const { client } = await newClient({ eab: false });
    const err = await client.createAccount({ termsOfServiceAgreed: true }).catch((e: Error) => e);
    expect(String(err)).to.contain('external account binding');
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    const r = await raw(`${kw.url}/acme/${realm}/new-account`, { termsOfServiceAgreed: true }, { key: createPrivateKey(key), jwk });
    expect(r.status).to.equal(403);
    expect(r.body.type).to.equal(`${ACME_ERR}externalAccountRequired`);
    expect(r.headers.get('content-type')).to.contain('application/problem+json');
    expect(r.headers.get('replay-nonce')).to.match(/^[A-Za-z0-9_-]+$/);

    const binding = await eab();
    const first = new acme.Client({ directoryUrl, accountKey: key, externalAccountBinding: binding });
    await first.createAccount({ termsOfServiceAgreed: true });
    const other = new acme.Client({
      directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'),
      externalAccountBinding: binding,
    });
    const reused = await other.createAccount({ termsOfServiceAgreed: true }).catch((e: Error) => e);
    expect(String(reused)).to.match(/already used/);
  });

  describe('with an account', () => {
    let client: acme.Client;
    let accountKey: Buffer;
    let kid: string;

    before(async () => {
      ({ client, key: accountKey } = await newClient());
      await client.createAccount({ termsOfServiceAgreed: true });
      kid = client.getAccountUrl();
    });

    it('answers an existing account for onlyReturnExisting, and accountDoesNotExist for an unknown key', async () => {
      const again = new acme.Client({ directoryUrl, accountKey });
      const acct = await again.createAccount({ onlyReturnExisting: true });
      expect(again.getAccountUrl()).to.equal(kid);
      expect(acct.status).to.equal('valid');
      const stranger = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256') });
      const err = await stranger.createAccount({ onlyReturnExisting: true }).catch((e: Error) => e);
      expect(String(err)).to.match(/No account exists/);
    });

    it('updates the contacts of the account', async () => {
      const updated = await client.updateAccount({ contact: [`mailto:new@${domain}`] });
      expect(updated.contact).to.deep.equal([`mailto:new@${domain}`]);
    });

    it('refuses a replayed nonce with badNonce, a wrong url with unauthorized, none and HS256 with badSignatureAlgorithm', async () => {
      const key = createPrivateKey(accountKey);
      const url = `${kw.url}/acme/${realm}/account/${kid.split('/').pop()}`;
      const ok = await raw(url, '', { key, kid });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      const replayed = await raw(url, '', { key, kid, nonce: ok.nonce });
      expect(replayed.status).to.equal(400);
      expect(replayed.body.type).to.equal(`${ACME_ERR}badNonce`);
      expect(replayed.headers.get('replay-nonce')).to.match(/^[A-Za-z0-9_-]+$/);
      expect(replayed.headers.get('link')).to.equal(`<${kw.url}/acme/${realm}/directory>;rel="index"`);
      const wrongUrl = await raw(url, '', { key, kid, headerUrl: `${kw.url}/acme/${realm}/new-order` });
      expect(wrongUrl.status).to.equal(403);
      expect(wrongUrl.body.type).to.equal(`${ACME_ERR}unauthorized`);
      const hs = await raw(url, '', { key: new Uint8Array(32).fill(7), alg: 'HS256', kid });
      expect(hs.body.type).to.equal(`${ACME_ERR}badSignatureAlgorithm`);
      const nonce = (await fetch(`${kw.url}/acme/${realm}/new-nonce`, { method: 'HEAD' })).headers.get('replay-nonce')!;
      const none = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/jose+json' },
        body: JSON.stringify({
          protected: Buffer.from(JSON.stringify({ alg: 'none', nonce, url, kid })).toString('base64url'),
          payload: '',
          signature: '',
        }),
      });
      expect(((await none.json()) as { type: string }).type).to.equal(`${ACME_ERR}badSignatureAlgorithm`);
      const plainJson = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(plainJson.status).to.equal(415);
    });

    it('shares nonces between replicas: issued by one, accepted once by another, then badNonce on the first', async () => {
      const replica = await serveOnPort(await freePort(), { KEYWARD_PUBLIC_URL: kw.url });
      try {
        const key = createPrivateKey(accountKey);
        const path = `/acme/${realm}/account/${kid.split('/').pop()}`;
        const nonce = (await fetch(`${kw.url}/acme/${realm}/new-nonce`, { method: 'HEAD' })).headers.get('replay-nonce')!;
        // Sent to the second replica's own address; both answer as KEYWARD_PUBLIC_URL, so the JWS names that URL.
        const jws = await new FlattenedSign(new Uint8Array())
          .setProtectedHeader({ alg: 'ES256', nonce, url: `${kw.url}${path}`, kid } as never)
          .sign(key);
        const post = (base: string) =>
          fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/jose+json' }, body: JSON.stringify(jws) });
        const there = await post(replica.url);
        expect(there.status, await there.clone().text()).to.equal(200);
        const back = await post(kw.url);
        expect(((await back.json()) as { type: string }).type).to.equal(`${ACME_ERR}badNonce`);
      } finally {
        await replica.close();
      }
    });

    it('refuses an identifier outside the policy with rejectedIdentifier before any challenge, and stores nothing', async () => {
      const count = async () =>
        Number((await kw.keyward.db.query('SELECT count(*) AS n FROM acme_orders WHERE realm = $1', [realm])).rows[0].n);
      const before = await count();
      const authzBefore = Number(
        (await kw.keyward.db.query('SELECT count(*) AS n FROM acme_authorizations WHERE realm = $1', [realm])).rows[0].n,
      );
      const err = (await client.createOrder({ identifiers: [{ type: 'dns', value: 'www.evil.example' }] }).catch((e: Error) => e)) as Error;
      expect(String(err)).to.match(/not allowed by the policy/);
      const r = await raw(
        `${kw.url}/acme/${realm}/web/new-order`,
        { identifiers: [{ type: 'dns', value: 'x.evil.example' }] },
        {
          key: createPrivateKey(accountKey),
          kid,
        },
      );
      expect(r.status).to.equal(400);
      expect(r.body.type).to.equal(`${ACME_ERR}rejectedIdentifier`);
      expect((r.body.subproblems as { identifier: unknown }[])[0]!.identifier).to.deep.equal({ type: 'dns', value: 'x.evil.example' });
      expect(await count()).to.equal(before);
      expect(
        Number((await kw.keyward.db.query('SELECT count(*) AS n FROM acme_authorizations WHERE realm = $1', [realm])).rows[0].n),
      ).to.equal(authzBefore);
    });

    it('refuses at finalize a CSR the policy does not allow (a P-384 key) with badCSR: the order becomes invalid', async () => {
      const name = `p384.${domain}`;
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
      const [authz] = await client.getAuthorizations(order);
      const challenge = authz!.challenges.find((c) => c.type === 'dns-01')!;
      dns.txt.set(`_acme-challenge.${name}`, [await client.getChallengeKeyAuthorization(challenge)]);
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
      const [, csr] = await acme.crypto.createCsr({ altNames: [name] }, await acme.crypto.createPrivateEcdsaKey('P-384'));
      const err = await client.finalizeOrder(order, csr).catch((e: Error) => e);
      expect(String(err)).to.match(/key/i);
      const after = await client.getOrder(order);
      expect(after.status).to.equal('invalid');
      expect((after as { error?: { type: string } }).error?.type).to.equal(`${ACME_ERR}badCSR`);
      const [, other] = await acme.crypto.createCsr({ altNames: [`other.${domain}`] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const mismatch = await client.createOrder({ identifiers: [{ type: 'dns', value: `mismatch.${domain}` }] });
      const err2 = await client.finalizeOrder(mismatch, other).catch((e: Error) => e);
      expect(String(err2)).to.match(/not ready/);
    });

    it('makes the order invalid after a wrong challenge answer', async () => {
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `wrong.${domain}` }] });
      const [authz] = await client.getAuthorizations(order);
      const challenge = authz!.challenges.find((c) => c.type === 'http-01')!;
      httpTokens.set(challenge.token, 'not-the-key-authorization');
      await client.completeChallenge(challenge);
      const err = await client.waitForValidStatus(challenge).catch((e: Error) => e);
      expect(String(err)).to.contain('is not the key authorization');
      const after = await client.getOrder(order);
      expect(after.status).to.equal('invalid');
      const audit = await kw.keyward.db.query(
        "SELECT details FROM audit_events WHERE realm = $1 AND action = 'acme_challenge.invalid' ORDER BY seq DESC LIMIT 1",
        [realm],
      );
      expect(audit.rows[0].details).to.include({ error: `${ACME_ERR}incorrectResponse`, type: 'http-01' });
    });

    /** Orders `name`, answers its http-01 challenge with `answer`; the challenge's error once it is invalid. */
    async function failedHttp01(name: string, answer?: string) {
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
      const [authz] = await client.getAuthorizations(order);
      const challenge = authz!.challenges.find((c) => c.type === 'http-01')!;
      if (answer) httpTokens.set(challenge.token, answer);
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge).catch(() => undefined);
      const after = await client.getOrder(order);
      expect(after.status).to.equal('invalid');
      const [z] = await client.getAuthorizations(after);
      return z!.challenges.find((c) => c.type === 'http-01')!.error as { type: string; detail: string };
    }

    it('never connects outside KEYWARD_ACME_ALLOWED_NETWORKS: a name resolving to a public address fails with connection', async () => {
      dns.a.set(`outside.${domain}`, '198.51.100.7');
      const error = await failedHttp01(`outside.${domain}`);
      expect(error.type).to.equal(`${ACME_ERR}connection`);
      expect(error.detail).to.contain('198.51.100.7').and.contain('KEYWARD_ACME_ALLOWED_NETWORKS');
    });

    it('follows no redirect to another port than 80 or 443, nor to another scheme', async () => {
      const toPort = await failedHttp01(`redirect.${domain}`, `redirect:http://redirect.${domain}:8080/x`);
      expect(toPort.type).to.equal(`${ACME_ERR}connection`);
      expect(toPort.detail).to.contain('port 80 or 443');
      const toFtp = await failedHttp01(`ftp.${domain}`, `redirect:ftp://ftp.${domain}/x`);
      expect(toFtp.detail).to.contain('only http or https');
    });

    it('reads at most 8 KiB of an http-01 answer', async () => {
      const big = await failedHttp01(`big.${domain}`, 'big');
      expect(big.type).to.equal(`${ACME_ERR}unauthorized`);
      expect(big.detail).to.contain('larger than 8192 bytes');
    });

    it('honours notAfter within the policy, and refuses one beyond its maximum validity', async () => {
      const notAfter = new Date(Date.now() + 2 * 86_400_000);
      const order = await client.createOrder({
        identifiers: [{ type: 'dns', value: `short.${domain}` }],
        notAfter: notAfter.toISOString(),
      });
      expect(order.notAfter).to.equal(notAfter.toISOString());
      const [authz] = await client.getAuthorizations(order);
      const challenge = authz!.challenges.find((c) => c.type === 'http-01')!;
      httpTokens.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
      const [, csr] = await acme.crypto.createCsr({ altNames: [`short.${domain}`] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const valid = await client.waitForValidStatus(await client.finalizeOrder(order, csr));
      const cert = new x509.X509Certificate(acme.crypto.splitPemChain(await client.getCertificate(valid))[0]!);
      expect(Math.abs(cert.notAfter.getTime() - notAfter.getTime())).to.be.lessThan(10 * 60_000);
      const tooLong = new Date(Date.now() + 40 * 86_400_000).toISOString();
      const err = await client
        .createOrder({ identifiers: [{ type: 'dns', value: `long.${domain}` }], notAfter: tooLong })
        .catch((e: Error) => e);
      expect(String(err)).to.match(/exceeds|maximum/i);
    });

    it('takes over a validation left processing by a replica that stopped, when the client polls', async () => {
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `stale.${domain}` }] });
      const [authz] = await client.getAuthorizations(order);
      const challenge = authz!.challenges.find((c) => c.type === 'http-01')!;
      httpTokens.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
      const id = challenge.url.split('/').pop();
      // As a replica leaves it when it stops in the middle of a validation.
      await kw.keyward.db.query(
        "UPDATE acme_challenges SET status = 'processing', validated_at = now() - interval '5 minutes' WHERE id = $1",
        [id],
      );
      const polled = await client.waitForValidStatus(challenge);
      expect(polled.status).to.equal('valid');
      expect((await client.getOrder(order)).status).to.equal('ready');
    });

    it('acts as its API client: disabled in Keycloak → unauthorized on newOrder, enabled again → orders', async () => {
      const [c] = (await (await keycloakAdmin(`/${realm}/clients?clientId=${clientId}`)).json()) as Array<Record<string, unknown>>;
      const put = (enabled: boolean) =>
        keycloakAdmin(`/${realm}/clients/${String(c!.id)}`, { method: 'PUT', body: JSON.stringify({ ...c, enabled }) });
      expect((await put(false)).status).to.equal(204);
      try {
        await new Promise((r) => setTimeout(r, 1500)); // KEYWARD_ROLE_CACHE_SECONDS=1 in the tests
        const r = await raw(
          `${kw.url}/acme/${realm}/web/new-order`,
          { identifiers: [{ type: 'dns', value: `off.${domain}` }] },
          {
            key: createPrivateKey(accountKey),
            kid,
          },
        );
        expect(r.status).to.equal(403);
        expect(r.body.type).to.equal(`${ACME_ERR}unauthorized`);
        expect(String(r.body.detail)).to.contain('disabled');
      } finally {
        expect((await put(true)).status).to.equal(204);
      }
      await new Promise((r) => setTimeout(r, 1500));
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `on.${domain}` }] });
      expect(order.status).to.equal('pending');
    });

    it('revokes by the certificate key (RFC 8555 §7.6): openssl ocsp reports it revoked', async () => {
      const { chain, certKey } = await obtain(client, [`revoke.${domain}`], 'http-01');
      const leafPem = acme.crypto.splitPemChain(chain)[0]!;
      const leafFile = write(dir, 'revoked-leaf.pem', leafPem);
      const der = Buffer.from(acme.crypto.getPemBodyAsB64u(leafPem), 'base64url');
      const jwk = createPublicKey(certKey).export({ format: 'jwk' });
      const r = await raw(
        `${kw.url}/acme/${realm}/revoke-cert`,
        { certificate: der.toString('base64url'), reason: 1 },
        {
          key: createPrivateKey(certKey),
          jwk,
        },
      );
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      const ocsp = await openssl([
        'ocsp',
        '-issuer',
        issuingFile,
        '-cert',
        leafFile,
        '-url',
        `${kw.url}/v1/realms/${realm}/ocsp`,
        '-CAfile',
        rootFile,
        '-VAfile',
        issuingFile,
      ]);
      expect(ocsp.stdout).to.match(/: revoked/);
      expect(ocsp.stdout).to.match(/Reason: keyCompromise/);
      const again = await raw(
        `${kw.url}/acme/${realm}/revoke-cert`,
        { certificate: der.toString('base64url') },
        {
          key: createPrivateKey(certKey),
          jwk,
        },
      );
      expect(again.body.type).to.equal(`${ACME_ERR}alreadyRevoked`);
    });

    it('revokes by the account that ordered it (acme-client revokeCertificate)', async () => {
      const { chain } = await obtain(client, [`own.${domain}`], 'http-01');
      await client.revokeCertificate(chain, { reason: 4 });
      const leaf = write(dir, 'own-leaf.pem', acme.crypto.splitPemChain(chain)[0]!);
      const ocsp = await openssl([
        'ocsp',
        '-issuer',
        issuingFile,
        '-cert',
        leaf,
        '-url',
        `${kw.url}/v1/realms/${realm}/ocsp`,
        '-CAfile',
        rootFile,
      ]);
      expect(ocsp.stdout).to.match(/: revoked/);
    });

    it('answers renewal information (RFC 9773) with the last third of the lifetime as the window', async () => {
      const { chain } = await obtain(client, [`ari.${domain}`], 'http-01');
      const cert = new x509.X509Certificate(acme.crypto.splitPemChain(chain)[0]!);
      const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId!;
      const certId = `${Buffer.from(aki, 'hex').toString('base64url')}.${Buffer.from(cert.serialNumber, 'hex').toString('base64url')}`;
      const res = await fetch(`${kw.url}/acme/${realm}/renewal-info/${certId}`);
      expect(res.status).to.equal(200);
      expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
      const { suggestedWindow } = (await res.json()) as { suggestedWindow: { start: string; end: string } };
      const nb = cert.notBefore.getTime();
      const life = cert.notAfter.getTime() - nb;
      expect(new Date(suggestedWindow.start).getTime()).to.be.closeTo(nb + (life * 2) / 3, 1000);
      expect(new Date(suggestedWindow.end).getTime()).to.be.lessThan(cert.notAfter.getTime());
      const unknown = await fetch(`${kw.url}/acme/${realm}/renewal-info/${Buffer.from(aki, 'hex').toString('base64url')}.AQID`);
      expect(unknown.status).to.equal(404);
    });

    it('rolls the account key over (RFC 8555 §7.3.5): the new key orders, the old one no longer signs for the account', async () => {
      const newKey = await acme.crypto.createPrivateEcdsaKey('P-384');
      await client.updateAccountKey(newKey);
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: `rolled.${domain}` }] });
      expect(order.status).to.equal('pending');
      const old = await raw(
        `${kw.url}/acme/${realm}/web/new-order`,
        { identifiers: [{ type: 'dns', value: `old.${domain}` }] },
        {
          key: createPrivateKey(accountKey),
          kid,
        },
      );
      expect(old.status).to.equal(400);
      expect(old.body.type).to.equal(`${ACME_ERR}malformed`);
      const { chain } = await obtain(client, [`rolled2.${domain}`], 'http-01');
      await verifies(chain);
      accountKey = newKey;
    });

    it('deactivates the account: later requests are unauthorized', async () => {
      const deactivated = await client.updateAccount({ status: 'deactivated' });
      expect(deactivated.status).to.equal('deactivated');
      const r = await raw(
        `${kw.url}/acme/${realm}/web/new-order`,
        { identifiers: [{ type: 'dns', value: `gone.${domain}` }] },
        {
          key: createPrivateKey(accountKey),
          kid,
          alg: 'ES384',
        },
      );
      expect(r.status).to.equal(403);
      expect(r.body.type).to.equal(`${ACME_ERR}unauthorized`);
    });
  });

  it('creates EAB keys from the command line (keyward acme eab) for the realm directory, under the default policy', async () => {
    const env = await integrationEnv();
    const cliEnv = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_CLIENT_ID: clientId,
      KEYWARD_CLIENT_SECRET: secret,
      KEYWARD_CLIENT_REALM: realm,
    };
    const created = await keyward(['acme', 'eab', 'create', '--realm', realm, '--json'], cliEnv);
    expect(created.status, created.stderr).to.equal(0);
    const key = JSON.parse(created.stdout) as { kid: string; hmacKey: string; directory: string };
    // The server's directory (at its public URL, here the same as the address the CLI uses).
    expect(key.directory).to.equal(`${kw.keyward.config.publicUrl}/acme/${realm}/directory`);
    expect(key.hmacKey).to.not.match(/^-/);
    const client = new acme.Client({
      directoryUrl: key.directory,
      accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'),
      externalAccountBinding: { kid: key.kid, hmacKey: key.hmacKey },
    });
    await client.createAccount({ termsOfServiceAgreed: true });
    const { chain } = await obtain(client, [`cli.${domain}`], 'dns-01');
    await verifies(chain);
    const listed = await keyward(['acme', 'eab', 'list', '--realm', realm], cliEnv);
    expect(listed.status, listed.stderr).to.equal(0);
    expect(listed.stdout).to.match(new RegExp(`${key.kid}\\s+used`));
    expect(listed.stdout).to.not.contain(key.hmacKey);
    const text = await keyward(['acme', 'eab', 'create', '--realm', realm, '--policy', 'web'], cliEnv);
    expect(text.stdout).to.contain(`directory  ${kw.keyward.config.publicUrl}/acme/${realm}/web/directory`);
    expect(text.stdout).to.match(/--eab-hmac-key=\S+ /); // the = form: a key is never read as an option
    const kid = /kid\s+(\S+)/.exec(text.stdout)![1]!;
    const revoked = await keyward(['acme', 'eab', 'revoke', kid, '--realm', realm], cliEnv);
    expect(revoked.status, revoked.stderr).to.equal(0);
    expect(revoked.stdout).to.contain(`revoked ${kid}`);
    const usage = await keyward(['acme', 'eab', 'create'], cliEnv);
    expect(usage.status).to.not.equal(0);
    expect(usage.stderr).to.contain('--realm');
  });

  it('accepts an RSA account key (RS256)', async () => {
    const { client } = await newClient({ accountKey: await acme.crypto.createPrivateRsaKey(2048) });
    await client.createAccount({ termsOfServiceAgreed: true });
    const { chain } = await obtain(client, [`rsa.${domain}`], 'http-01');
    await verifies(chain);
  });

  it('keeps an order processing while its policy needs approval, valid once an approver approves through the API', async () => {
    const policy = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/gated`, {
      token: operator,
      body: {
        keyTypes: ['EC-P256'],
        maxValidityDays: 10,
        subject: { required: [], allowed: ['CN'] },
        san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['serverAuth'],
        approval: 'required',
      },
    });
    expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
    const approver = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: operator,
      body: { clientId: 'acme-approver', roles: ['keyward-approver'] },
    });
    const approverToken = await clientToken(realm, 'acme-approver', approver.body.secret);
    const binding = await eab();
    const client = new acme.Client({
      directoryUrl: `${kw.url}/acme/${realm}/gated/directory`,
      accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'),
      externalAccountBinding: binding,
    });
    await client.createAccount({ termsOfServiceAgreed: true });
    const name = `gated.${domain}`;
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
    const [authz] = await client.getAuthorizations(order);
    const challenge = authz!.challenges.find((c) => c.type === 'http-01')!;
    httpTokens.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const finalized = await client.finalizeOrder(order, csr);
    expect(finalized.status).to.equal('processing');
    const pending = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests?status=pending`, { token: approverToken });
    const request = pending.body.items.find((r: { sans: string[] }) => r.sans.includes(`dns:${name}`));
    expect(request, JSON.stringify(pending.body)).to.not.equal(undefined);
    expect(request.requester.acme).to.deep.equal({ account: client.getAccountUrl(), order: order.url });
    expect((await client.getOrder(order)).status).to.equal('processing');
    const approved = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${request.requestId}/approve`, {
      token: approverToken,
    });
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    const valid = await client.waitForValidStatus(order);
    expect(valid.status).to.equal('valid');
    await verifies(await client.getCertificate(valid));
  });

  it("orders from the granting realm's directory with a cross-realm grant", async () => {
    const created = await call(kw.url, 'POST', `/v1/realms/${partner}/api-clients`, {
      token: operator,
      body: { clientId: 'partner-ci', crossRealmRoles: [{ realm, role: 'keyward-requester' }] },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const partnerToken = await clientToken(partner, 'partner-ci', created.body.secret);
    const binding = await eab(partnerToken);
    const client = new acme.Client({
      directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'),
      externalAccountBinding: binding,
    });
    await client.createAccount({ termsOfServiceAgreed: true });
    const { chain } = await obtain(client, [`partner.${domain}`], 'http-01');
    await verifies(chain);
    const serial = new x509.X509Certificate(acme.crypto.splitPemChain(chain)[0]!).serialNumber.toLowerCase().replace(/^0+/, '');
    const view = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token: partnerToken });
    expect(view.body.requester).to.include({ realm: partner, name: 'partner-ci', kind: 'client:acme' });
    const none = await call(kw.url, 'POST', `/v1/realms/${partner}/acme/eab-keys`, { token: partnerToken });
    expect(none.status).to.equal(403);
    expect(none.body.code).to.equal('auth.forbidden');
  });

  it('lets an API client revoke its EAB key: an unused revoked key binds no account', async () => {
    const binding = await eab();
    const del = await call(kw.url, 'DELETE', `/v1/realms/${realm}/acme/eab-keys/${binding.kid}`, { token });
    expect(del.status).to.equal(204);
    const client = new acme.Client({
      directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'),
      externalAccountBinding: binding,
    });
    const err = await client.createAccount({ termsOfServiceAgreed: true }).catch((e: Error) => e);
    expect(String(err)).to.match(/No usable external account binding key/);
    const again = await call(kw.url, 'DELETE', `/v1/realms/${realm}/acme/eab-keys/${binding.kid}`, { token });
    expect(again.status).to.equal(404);
    expect(again.body.code).to.equal('acme.eab_key_not_found');

    // Revoking a used key cuts its account off.
    const { client: bound, binding: used } = await newClient();
    await bound.createAccount({ termsOfServiceAgreed: true });
    expect((await call(kw.url, 'DELETE', `/v1/realms/${realm}/acme/eab-keys/${used!.kid}`, { token })).status).to.equal(204);
    const refused = await bound.createOrder({ identifiers: [{ type: 'dns', value: `cut.${domain}` }] }).catch((e: Error) => e);
    expect(String(refused)).to.contain('The account is deactivated');
  });
});
