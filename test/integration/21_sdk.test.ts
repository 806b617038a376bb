/**
 * Scenario 21 — the TypeScript client `@keyward/client` against a real
 * Keyward, Keycloak and PostgreSQL, as an automation job uses it: an API
 * client gets its token by client credentials (RFC 6749 §4.4) and renews it
 * before it expires, lists the realm's policies, has a CSR certified, sees a
 * refused call as a KeywardApiError whose code is typed, and renews the
 * certificate over TLS client authentication with nothing but the certificate.
 */
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  clientCredentials,
  createKeywardClient,
  isKeywardApiError,
  KeywardApiError,
  staticToken,
  type KeywardClient,
  type KeywardErrorCode,
} from '@keyward/client';
import { mutualTlsFetch } from '@keyward/client/mtls';
import { BIN } from '../support/cli.ts';
import { run } from '../support/curl.ts';
import { integrationEnv, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { csr, must, work, write } from '../support/openssl.ts';

/** True when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

async function refusal(p: Promise<unknown>): Promise<KeywardApiError> {
  const err = await p.then(
    () => expect.fail('the call succeeded'),
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(KeywardApiError);
  return err as KeywardApiError;
}

describe('21 the TypeScript client', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('sdk');
  const domain = `${realm}.internal`;
  const clientId = `${realm}-deployer`;
  let kw: RunningKeyward;
  let issuer: string;
  let secret: string;
  let api: KeywardClient;

  before(async () => {
    const ie = await integrationEnv();
    for (const args of [
      ['initialize', 'sdk-cluster'],
      ['create-control-certificate', '127.0.0.1'],
    ]) {
      const r = await run(BIN, ['ca', ...args, '--dir', dir]);
      expect(r.code, r.stderr).to.equal(0);
    }
    kw = await startKeyward({
      KEYWARD_TLS_CERT: join(dir, 'control-127.0.0.1.crt'),
      KEYWARD_TLS_KEY: join(dir, 'control-127.0.0.1.key'),
      KEYWARD_TLS_PORT: '0',
    });
    // The operator's setup, itself through the client with a token obtained elsewhere.
    const operator = createKeywardClient({ baseUrl: kw.url, token: staticToken(await operatorToken()) });
    const made = await operator.PUT('/v1/realms/{realm}', { params: { path: { realm } }, body: {} });
    expect(made.response.status).to.equal(201);
    await operator.PUT('/v1/realms/{realm}/policies/{name}', {
      params: { path: { realm, name: 'web' } },
      body: {
        keyTypes: ['EC-P256', 'RSA-2048'],
        maxValidityDays: 30,
        subject: { required: ['CN'], allowed: ['CN', 'O'] },
        san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['serverAuth', 'clientAuth'],
        approval: 'none',
      },
    });
    const { data: created } = await operator.POST('/v1/realms/{realm}/api-clients', {
      params: { path: { realm } },
      body: { clientId, roles: ['keyward-requester'], defaultPolicy: { realm, name: 'web' } },
    });
    expect(created.secret).to.be.a('string');
    secret = created.secret!;
    issuer = `${ie.keycloakUrl}/realms/${realm}`;
    api = createKeywardClient({
      baseUrl: kw.url,
      token: clientCredentials({ issuer, clientId, clientSecret: secret, allowInsecureHttp: true }),
    });
  });

  it('lists the policies of the realm as the API client, by client credentials', async () => {
    const { data, response } = await api.GET('/v1/realms/{realm}/policies', { params: { path: { realm } } });
    expect(response.status).to.equal(200);
    expect(data.items?.map((p) => p.name)).to.deep.equal(['web']);
    expect(data.items?.[0]?.policy).to.include({ maxValidityDays: 30, approval: 'none' });
  });

  let issued: { serial: string; certificate: string; chain: string[]; keyFile: string };

  it('has a CSR certified: 201 with the certificate, its chain and a Location, and openssl verifies it', async () => {
    const request = await csr(dir, { subject: `/CN=app.${domain}`, sans: [`DNS:app.${domain}`] });
    const { data, response } = await api.POST('/v1/realms/{realm}/certificates', {
      params: { path: { realm } },
      body: { csr: request.pem, validity: 'P7D' },
    });
    expect(response.status).to.equal(201);
    if (!('serialNumber' in data)) return expect.fail(`not issued: ${JSON.stringify(data)}`);
    expect(response.headers.get('location')).to.equal(`/v1/realms/${realm}/certificates/${data.serialNumber}`);
    expect(data).to.include({ policy: 'web', status: 'valid', subject: `CN=app.${domain}` });
    expect(data.sans).to.deep.equal([`dns:app.${domain}`]);
    const root = write(dir, 'realm-root.pem', data.chain.at(-1)!);
    const chain = write(dir, 'app.chain.pem', data.chain.join(''));
    const leaf = write(dir, 'app.crt', data.certificate);
    expect((await must(['verify', '-CAfile', root, '-untrusted', chain, leaf])).trim()).to.equal(`${leaf}: OK`);
    issued = { serial: data.serialNumber, certificate: data.certificate, chain: data.chain, keyFile: request.keyFile };
    const { data: again } = await api.GET('/v1/realms/{realm}/certificates/{serial}', {
      params: { path: { realm, serial: data.serialNumber } },
    });
    expect(again.certificate).to.equal(data.certificate);
  });

  it('throws a bad CSR as KeywardApiError 400 csr.malformed, its code typed as the union of the catalogue', async () => {
    const err = await refusal(
      api.POST('/v1/realms/{realm}/certificates', {
        params: { path: { realm } },
        body: { csr: '-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n' },
      }),
    );
    expect([err.status, err.code]).to.deep.equal([400, 'csr.malformed']);
    expect(err.detail).to.be.a('string').and.not.equal('');
    expect(err.message).to.equal(`${err.detail} [csr.malformed]`);
    expect(err.body).to.include({ status: 400, code: 'csr.malformed' });
    expect(isKeywardApiError(err, 'csr.malformed')).to.equal(true);
    // Type level: `code` is the union of codes, not string; a code outside the catalogue does not compile.
    const typed: Equal<typeof err.code, KeywardErrorCode> = true;
    const notString: Equal<typeof err.code, string> = false;
    // @ts-expect-error 'csr.no_such_code' is not a Keyward error code
    const outside: typeof err.code = 'csr.no_such_code';
    expect([typed, notString, outside]).to.deep.equal([true, false, 'csr.no_such_code']);
  });

  it('throws a SAN outside the policy as 422 policy.san_not_allowed, and a realm without the client as auth.forbidden', async () => {
    const request = await csr(dir, { subject: `/CN=app.${domain}`, sans: ['DNS:elsewhere.example'] });
    const san = await refusal(api.POST('/v1/realms/{realm}/certificates', { params: { path: { realm } }, body: { csr: request.pem } }));
    expect([san.status, san.code]).to.deep.equal([422, 'policy.san_not_allowed']);
    const forbidden = await refusal(api.GET('/v1/realms/{realm}/api-clients', { params: { path: { realm } } }));
    expect([forbidden.status, forbidden.code]).to.deep.equal([403, 'auth.forbidden']);
  });

  it('gets a new token from Keycloak before the cached one expires (the provider on a fake clock), and calls with it', async () => {
    let now = Date.now();
    const sent: string[] = [];
    const token = clientCredentials({ issuer, clientId, clientSecret: secret, allowInsecureHttp: true, now: () => now });
    const watched = createKeywardClient({
      baseUrl: kw.url,
      token,
      fetch: (r) => {
        sent.push(r.headers.get('authorization')!.replace(/^Bearer /, ''));
        return fetch(r);
      },
    });
    const whoami = () => watched.GET('/v1/whoami');
    await whoami();
    const first = decodeJwt(sent[0]!);
    expect(first.azp).to.equal(clientId);
    now = first.exp! * 1000 - 60_000; // a minute before expiry: the cached token
    await whoami();
    expect(sent[1]).to.equal(sent[0]);
    now = first.exp! * 1000 - 5_000; // 5 s before expiry, inside the 30 s window: a new token, while the old one still works
    const { data } = await whoami();
    expect(sent[2]).to.not.equal(sent[0]);
    const second = decodeJwt(sent[2]!);
    expect(second.jti).to.not.equal(first.jti);
    expect(second.azp).to.equal(clientId);
    expect(JSON.stringify(data)).to.contain(clientId);
    await whoami();
    expect(sent[3]).to.equal(sent[2]);
  });

  it("turns Keycloak's refusal of a wrong secret (unauthorized_client) into client.token_failed with the cause", async () => {
    const wrong = createKeywardClient({
      baseUrl: kw.url,
      token: clientCredentials({ issuer, clientId, clientSecret: 'not-the-secret', allowInsecureHttp: true }),
    });
    const err = await refusal(wrong.GET('/v1/whoami'));
    expect([err.status, err.code]).to.deep.equal([0, 'client.token_failed']);
    expect(err.detail, err.detail).to.contain(`client ${clientId}`).and.contain('Invalid client credentials');
    expect(err.message).to.not.contain('not-the-secret');
    expect(err.cause).to.be.an('error');
  });

  it("runs the README's example: the policies, then a certificate; a bad CSR exits 1 naming csr.malformed", async () => {
    const example = fileURLToPath(new URL('../../packages/client/examples/issue_certificate.ts', import.meta.url));
    const env = {
      PATH: process.env.PATH ?? '',
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: (await integrationEnv()).keycloakUrl,
      KEYWARD_CLIENT_ID: clientId,
      KEYWARD_CLIENT_SECRET: secret,
    };
    const request = await csr(dir, { subject: `/CN=example.${domain}`, sans: [`DNS:example.${domain}`] });
    const ok = await run(process.execPath, [example, realm, request.csrFile], env);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(new RegExp(`^policies: web\\nissued [0-9a-f]+ until \\d{4}-\\d\\d-\\d\\dT`));
    const bad = await run(process.execPath, [example, realm, write(dir, 'bad.csr', 'not a CSR')], env);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/^refused: csr\.malformed \(HTTP 400\): /);
  });

  it('renews the certificate on the HTTPS listener with the certificate as the only credential (mutualTlsFetch)', async () => {
    const tls = createKeywardClient({
      baseUrl: kw.tlsUrl!,
      fetch: mutualTlsFetch({
        cert: issued.certificate,
        key: readFileSync(issued.keyFile, 'utf8'),
        ca: readFileSync(join(dir, 'cluster.crt'), 'utf8'),
      }),
    });
    const { data, response } = await tls.POST('/v1/realms/{realm}/certificates/renew', { params: { path: { realm } }, body: {} });
    expect(response.status).to.equal(201);
    expect(data.serialNumber).to.not.equal(issued.serial);
    expect(data.subject).to.equal(`CN=app.${domain}`);
    const renewed = write(dir, 'renewed.crt', data.certificate);
    const fromKey = await must(['pkey', '-in', issued.keyFile, '-pubout']);
    expect(await must(['x509', '-in', renewed, '-noout', '-pubkey'])).to.equal(fromKey);
    const root = join(dir, 'realm-root.pem');
    const chain = write(dir, 'renewed.chain.pem', data.chain.join(''));
    expect((await must(['verify', '-CAfile', root, '-untrusted', chain, renewed])).trim()).to.equal(`${renewed}: OK`);
  });
});
