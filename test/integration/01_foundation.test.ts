/**
 * Scenario 01 — the foundation: Keyward's Keycloak adapter against the real
 * server, the HTTP surface (health, readiness, metrics, OpenAPI, problem
 * details), and configuration errors.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KeycloakIdentityAdmin } from '../../services/keyward/src/keycloak/identity_admin.ts';
import { decodeJwt } from 'jose';
import { call, clientToken, integrationEnv, keycloakAdmin, startKeyward, unique, type RunningKeyward } from '../support/env.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));

describe('01 foundation', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;

  before(async () => {
    await integrationEnv();
    kw = await startKeyward();
  });

  it("creates a realm through the Keycloak adapter that Keycloak's own admin REST API then shows", async () => {
    const realm = unique('found');
    const identity = kw.keyward.identity as KeycloakIdentityAdmin;
    expect(await identity.ensureRealm(realm, 'Foundation test')).to.equal(true);
    expect(await identity.ensureRealm(realm, 'Foundation test')).to.equal(false);
    const res = await keycloakAdmin(`/${realm}`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { realm: string; displayName: string; enabled: boolean; attributes: Record<string, string> };
    expect(body.realm).to.equal(realm);
    expect(body.displayName).to.equal('Foundation test');
    expect(body.enabled).to.equal(true);
    expect(body.attributes['keyward.managed']).to.equal('true');
    await keycloakAdmin(`/${realm}`, { method: 'DELETE' });
  });

  it("keeps its own Keycloak token small however many realms it manages (Keycloak's lightweight access tokens)", async () => {
    const env = await integrationEnv();
    const token = await clientToken('master', 'keyward-control-plane', env.clientSecret);
    const claims = decodeJwt(token);
    // A token listing the management roles of every realm outgrows Keycloak's header limit (431) at about a hundred realms.
    expect(claims).to.not.have.property('resource_access');
    expect(token.length).to.be.below(2048);
    const [c] = (await (await keycloakAdmin('/master/clients?clientId=keyward-control-plane')).json()) as Array<{
      attributes: Record<string, string>;
    }>;
    expect(c!.attributes['client.use.lightweight.access.token.enabled']).to.equal('true');
  });

  it('answers /readyz with 200 when Keycloak and PostgreSQL are reachable', async () => {
    const res = await call(kw.url, 'GET', '/readyz');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('up');
    expect(res.body.checks.store.status).to.equal('up');
    expect(res.body.checks.keycloak.status).to.equal('up');
  });

  it('answers /readyz with 503 naming Keycloak when Keycloak is unreachable', async () => {
    const broken = await startKeyward({ KEYWARD_KEYCLOAK_URL: 'http://127.0.0.1:9' });
    try {
      const res = await call(broken.url, 'GET', '/readyz');
      expect(res.status).to.equal(503);
      expect(res.body.checks.keycloak.status).to.equal('down');
      expect(res.body.checks.store.status).to.equal('up');
      const err = await broken.keyward.realms.put(unique('x'), {}, 'system').then(
        () => undefined,
        (e: unknown) => e as { code: string; status: number; headers: Record<string, string> },
      );
      expect(err?.code).to.equal('keycloak.unavailable');
      expect(err?.status).to.equal(503);
      expect(err?.headers['Retry-After']).to.equal('5');
    } finally {
      await broken.close();
    }
  });

  it('serves /healthz, Prometheus /metrics and an OpenAPI 3.1 document', async () => {
    expect((await call(kw.url, 'GET', '/healthz')).body.status).to.equal('up');
    const metrics = await fetch(kw.url + '/metrics');
    expect(metrics.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await metrics.text();
    expect(text).to.match(/# TYPE keyward_http_requests_total counter/);
    expect(text).to.match(/process_resident_memory_bytes \d+/);
    const doc = (await call(kw.url, 'GET', '/v1/openapi.json')).body;
    expect(doc.openapi).to.equal('3.1.0');
    expect(doc.paths).to.have.property('/v1/realms/{realm}/api-clients');
    expect(doc.paths['/v1/realms/{realm}/api-clients'].post.requestBody).to.be.an('object');
  });

  it('answers unknown paths and missing credentials with problem+json', async () => {
    const nf = await call(kw.url, 'GET', '/v1/nope');
    expect(nf.status).to.equal(404);
    expect(nf.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(nf.body.code).to.equal('request.not_found');
    const unauth = await call(kw.url, 'GET', '/v1/whoami');
    expect(unauth.status).to.equal(401);
    expect(unauth.body.code).to.equal('auth.missing');
    expect(unauth.headers.get('www-authenticate')).to.match(/^Bearer realm="keyward"/);
  });

  it('refuses a malformed JSON body with 400 request.malformed and an oversized one with 413', async () => {
    const bad = await call(kw.url, 'PUT', '/v1/realms/x', { body: '{"displayName":', headers: { authorization: 'Bearer x' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('request.malformed');
    const big = await call(kw.url, 'PUT', '/v1/realms/x', { body: JSON.stringify({ displayName: 'x'.repeat(70_000) }) });
    expect(big.status).to.equal(413);
    expect(big.body.code).to.equal('request.too_large');
  });

  it('stops with a message naming the variable when a setting is invalid', () => {
    const r = spawnSync(BIN, ['config', '--check'], { env: { ...process.env, KEYWARD_DATABASE_URL: 'not-a-url' }, encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('KEYWARD_DATABASE_URL must be a URL');
    const typo = spawnSync(BIN, ['config', '--check'], { env: { ...process.env, KEYWARD_PROT: '3000' }, encoding: 'utf8' });
    expect(typo.status).to.equal(2);
    expect(typo.stderr).to.contain('KEYWARD_PROT is not a Keyward setting');
  });

  it('lists its commands with --help', () => {
    const r = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    for (const c of ['serve', 'bootstrap', 'migrate', 'config', 'dev']) expect(r.stdout).to.match(new RegExp(`^  ${c}\\b`, 'm'));
    const sub = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
    expect(sub.stdout).to.contain('Usage: keyward serve');
  });
});
