/**
 * The console's certificate, API client, policy and audit pages in a real
 * Chromium against a real Keyward, Keycloak and PostgreSQL. Users log in on
 * Keycloak's own login page; every effect is checked through Keyward's API,
 * Keycloak's admin REST API or openssl, never through the page alone.
 */
import { expect } from 'chai';
import { freePort, serveOnPort, type ServedKeyward } from '../support/served.ts';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { bootstrap } from '../../services/keyward/src/keycloak/bootstrap.ts';
import { consolePage, launchChromium, logIn, screenshot, type ConsolePage } from '../support/chromium.ts';
import {
  call,
  clientToken,
  createLoginClient,
  createUser,
  integrationEnv,
  keycloakAdmin,
  operatorToken,
  unique,
  userToken,
} from '../support/env.ts';
import { csr, must, work, write } from '../support/openssl.ts';
import { policyFor } from '../support/scenario.ts';

async function tokenWorks(realm: string, clientId: string, secret: string): Promise<boolean> {
  try {
    await clientToken(realm, clientId, secret);
    return true;
  } catch {
    return false;
  }
}

async function kcClient(realm: string, clientId: string): Promise<{ id: string } | undefined> {
  const r = await keycloakAdmin(`/${realm}/clients?clientId=${encodeURIComponent(clientId)}`);
  return ((await r.json()) as { id: string }[])[0];
}

/** The rows of a table (by its accessible name) once it shows. */
const rowsOf = (page: Page, table: string) =>
  page
    .getByRole('grid', { name: table })
    .or(page.getByRole('table', { name: table }))
    .locator('tbody tr');

/** The console's own failed calls show as "Failed to load resource" errors in the browser's console: allowed only where expected. */
const failedLoad = (status: number) => new RegExp(`status of ${status}`);

describe('console: certificates, API clients, policies, audit (browser)', function () {
  this.timeout(600_000);
  const realm = unique('pki');
  const other = unique('pkib');
  const domain = 'pki.internal';
  const password = 'Pki-pass-1';
  const admin = unique('admin');
  const requester = unique('req');
  const operatorUser = unique('op');
  const approver = unique('appr');
  const dir = work();
  let kw: ServedKeyward;
  let browser: Browser;
  let issuerToken: string;
  const serials: string[] = [];

  before(async () => {
    await integrationEnv();
    const port = await freePort();
    kw = await serveOnPort(port);
    const op = await operatorToken();
    for (const r of [realm, other]) {
      const put = await call(kw.url, 'PUT', `/v1/realms/${r}`, { token: op, body: {} });
      expect(put.status, JSON.stringify(put.body)).to.equal(201);
    }
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: policyFor(domain) })).status).to.equal(201);
    expect((await call(kw.url, 'PUT', `/v1/realms/${other}/policies/web`, { token: op, body: policyFor('b.internal') })).status).to.equal(
      201,
    );
    await createUser(realm, admin, password, ['keyward-admin', 'keyward-revoker', 'keyward-requester']);
    await createUser(other, admin, password, ['keyward-admin']);
    await createUser(realm, requester, password, ['keyward-requester']);
    await createUser(realm, approver, password, ['keyward-approver', 'keyward-entity-admin']);
    await createLoginClient(realm);
    // Certificates issued through the API by an API client, for the inventory.
    const issuer = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId: 'issuer', roles: ['keyward-requester'] },
    });
    expect(issuer.status, JSON.stringify(issuer.body)).to.equal(201);
    issuerToken = await clientToken(realm, 'issuer', issuer.body.secret);
    for (const name of ['alpha', 'beta', 'gamma']) {
      const c = await csr(dir, { subject: `/CN=${name}.${domain}`, sans: [`DNS:${name}.${domain}`] });
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: issuerToken, body: { csr: c.pem, policy: 'svc' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      serials.push(r.body.serialNumber);
    }
    // The master realm's console client redirects to this Keyward (bootstrap sets it), where an operator logs in.
    const env = await integrationEnv();
    await bootstrap({
      url: env.keycloakUrl,
      adminUser: env.adminUser,
      adminPassword: env.adminPassword,
      clientId: 'keyward-control-plane',
      audience: 'keyward',
      consoleUrl: kw.url,
    });
    await createUser('master', operatorUser, password, ['keyward-operator']);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await kw?.close();
    rmSync(dir, { recursive: true, force: true });
    const found = (await (await keycloakAdmin(`/master/users?username=${operatorUser}&exact=true`)).json()) as Array<{ id: string }>;
    for (const u of found) await keycloakAdmin(`/master/users/${u.id}`, { method: 'DELETE' });
  });

  /** The realm admin's own token (a revoker: sees every certificate of the realm), for checking effects through the API. */
  const asAdmin = () => userToken(realm, admin, password);

  async function as(username: string, path: string, r = realm): Promise<ConsolePage> {
    const cp = await consolePage(browser, { baseURL: kw.url });
    await logIn(cp.page, { realm: r, username, password, path: `/console/?realm=${encodeURIComponent(r)}` });
    await cp.page.goto(path);
    return cp;
  }

  it('an admin creates an API client; its secret, shown once, works at Keycloak; rotates and deletes it', async () => {
    const cp = await as(admin, `/console/${realm}/api-clients`);
    const { page } = cp;
    await rowsOf(page, 'API clients').filter({ hasText: 'issuer' }).waitFor();
    await page.getByRole('button', { name: 'Create API client' }).first().click();
    const modal = page.getByRole('dialog', { name: 'Create API client' });
    await modal.getByLabel('Client ID').fill('console-made');
    await modal.getByLabel('Name', { exact: true }).fill('Made in the console');
    expect(await modal.getByLabel('keyward-requester').isChecked()).to.equal(true);
    // A realm admin administers no other realm: no cross-realm grant, and default policies of the home realm only.
    await modal.getByText('You administer no other realm').waitFor();
    const policy = modal.getByLabel('Default certificate policy');
    await policy.locator(`option[value="${realm}/svc"]`).waitFor({ state: 'attached' });
    const offered = await policy.locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(offered).to.deep.equal(['', `${realm}/svc`]);
    await policy.selectOption(`${realm}/svc`);
    await modal.getByRole('button', { name: 'Create', exact: true }).click();

    const shown = page.getByRole('dialog', { name: 'API client created' });
    await shown.getByText('it is shown only this once').waitFor();
    const secret = await shown.getByLabel('Client secret').inputValue();
    expect(secret).to.have.length.greaterThan(20);
    expect(await tokenWorks(realm, 'console-made', secret)).to.equal(true);
    expect(await kcClient(realm, 'console-made')).to.not.equal(undefined);
    await shown.getByRole('button', { name: 'I have copied the secret' }).click();
    await page.getByText('API client console-made created').waitFor();
    await rowsOf(page, 'API clients').filter({ hasText: 'console-made' }).waitFor();
    await screenshot(page, 'api-clients');
    cp.expectClean();

    // The details: effective roles, the default policy valid.
    await page.getByRole('link', { name: 'console-made' }).click();
    await page.getByRole('heading', { name: 'console-made', exact: true }).waitFor();
    await page.getByTestId('effective-roles').getByText('keyward-requester').waitFor();
    expect(await page.getByTestId('default-policy').innerText()).to.match(new RegExp(`${realm}/svc\\s+valid`));

    // Rotate, confirmed: the old secret stops at once, the new one works.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const confirm = page.getByRole('dialog', { name: 'Are you sure?' });
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = page.getByRole('dialog', { name: 'New client secret' });
    const fresh = await rotated.getByLabel('Client secret').inputValue();
    expect(fresh).to.not.equal(secret);
    expect(await tokenWorks(realm, 'console-made', fresh)).to.equal(true);
    expect(await tokenWorks(realm, 'console-made', secret)).to.equal(false);
    await rotated.getByRole('button', { name: 'I have copied the secret' }).click();

    // Delete, confirmed: gone from Keycloak.
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Are you sure?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('API client console-made deleted').waitFor();
    await page.getByRole('heading', { name: 'API clients', level: 1 }).waitFor();
    expect(await kcClient(realm, 'console-made')).to.equal(undefined);
    expect(await rowsOf(page, 'API clients').filter({ hasText: 'console-made' }).count()).to.equal(0);
    cp.expectClean();
    await cp.close();
  });

  it('lists the certificates issued through the API, filters on the server, decodes one, downloads its PEM and revokes it', async () => {
    const cp = await as(admin, `/console/${realm}/certificates`);
    const { page } = cp;
    const rows = rowsOf(page, 'Certificates');
    await rows.filter({ hasText: `gamma.${domain}` }).waitFor();
    expect(await rows.count()).to.equal(3);
    await rows
      .first()
      .getByText(/in (29|30) days/)
      .waitFor();
    await screenshot(page, 'certificates');

    // A subject filter is a query to the API, not a filter of the rows shown.
    const asked = page.waitForRequest((r) => r.url().includes('/certificates?') && r.url().includes('subject=beta'));
    await page.getByLabel('Subject', { exact: true }).fill('beta');
    await page.getByRole('button', { name: 'Search' }).click();
    await asked;
    for (let i = 0; i < 120 && (await rows.count()) !== 1; i++) await page.waitForTimeout(250);
    expect(await rows.count()).to.equal(1);
    expect(await rows.innerText()).to.include(`beta.${domain}`);
    expect(page.url()).to.include('subject=beta');

    // The decoded view, like openssl x509 -text, checked against Node's own X.509 parser.
    await rows.first().getByRole('link').click();
    await page.getByTestId('decoded-subject').waitFor();
    const api = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serials[1]}`, { token: await asAdmin() });
    const x = new X509Certificate(api.body.certificate);
    expect(await page.getByTestId('decoded-subject').innerText()).to.equal(`CN=beta.${domain}`);
    expect(await page.getByTestId('decoded-sans').innerText()).to.include(`DNS:beta.${domain}`);
    expect(await page.getByTestId('decoded-key').innerText()).to.match(/EC P-256/);
    expect(await page.getByTestId('decoded-sha256').innerText()).to.equal(x.fingerprint256);
    expect(await page.getByTestId('decoded-serial').innerText()).to.equal(serials[1]);
    expect(await page.getByTestId('decoded-eku').innerText()).to.match(/clientAuth/);
    expect(await page.getByTestId('decoded-key-usage').innerText()).to.match(/Digital Signature/);
    expect(await page.getByTestId('decoded-crl').innerText()).to.include(`${kw.url}/v1/realms/${realm}/crl`);
    expect(await page.getByTestId('decoded-ocsp').innerText()).to.include(`${kw.url}/v1/`);
    // The page scrolls inside its main area: a taller window shows the whole decoded certificate.
    await page.setViewportSize({ width: 1360, height: 1700 });
    await screenshot(page, 'certificate-detail');
    await page.setViewportSize({ width: 1360, height: 900 });

    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download PEM' }).click();
    const file = await (await downloading).path();
    expect(readFileSync(file, 'utf8')).to.equal(api.body.certificate);

    // Revoke with a reason, confirmed: the API and the OCSP responder say revoked.
    await page.getByRole('button', { name: 'Revoke' }).click();
    const modal = page.getByRole('dialog', { name: 'Revoke this certificate?' });
    await modal.getByLabel('Reason (RFC 5280)').selectOption('keyCompromise');
    await modal.getByRole('button', { name: 'Revoke' }).click();
    await page.getByTestId('certificate-status').getByText('revoked').waitFor();
    const after = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serials[1]}`, { token: await asAdmin() });
    expect(after.body).to.include({ status: 'revoked', revocationReason: 'keyCompromise' });
    const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    const ocsp = await must([
      'ocsp',
      '-issuer',
      write(dir, 'issuing.pem', ca.body.chain[0]),
      '-cert',
      write(dir, 'beta.pem', api.body.certificate),
      '-url',
      `${kw.url}/v1/realms/${realm}/ocsp`,
      '-noverify',
    ]);
    expect(ocsp).to.match(/: revoked/);
    expect(ocsp).to.match(/Reason: keyCompromise/);
    cp.expectClean();
    await cp.close();
  });

  it('issues from a policy with a CSR made by openssl and pasted into the page', async () => {
    const cp = await as(requester, `/console/${realm}/issue`);
    const { page } = cp;
    const c = await csr(dir, { subject: `/CN=pasted.${domain}`, sans: [`DNS:pasted.${domain}`] });
    await page.getByLabel('Policy', { exact: true }).selectOption('svc');
    await page.locator('textarea#issue-csr').fill(c.pem);
    await page.getByRole('button', { name: 'Issue', exact: true }).click();
    const issued = page.getByTestId('issued');
    await issued.waitFor();
    const serial = (await issued.locator('code').innerText()).trim();
    await screenshot(page, 'pki-issue');
    const got = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token: await asAdmin() });
    expect(got.status).to.equal(200);
    expect(got.body).to.include({ subject: `CN=pasted.${domain}`, policy: 'svc', status: 'valid' });
    // A requester sees its own certificates only.
    await page.goto(`/console/${realm}/certificates`);
    await rowsOf(page, 'Certificates')
      .filter({ hasText: `pasted.${domain}` })
      .waitFor();
    expect(await rowsOf(page, 'Certificates').count()).to.equal(1);
    cp.expectClean();
    await cp.close();
  });

  it('shows a refused policy value at the field the API points to, in the form and as JSON; saves a valid one', async () => {
    const cp = await as(admin, `/console/${realm}/policies/svc`);
    const { page } = cp;
    const days = page.getByLabel('Maximum validity (days)');
    await days.fill('99999');
    await page.getByRole('button', { name: 'Save' }).click();
    const error = page.getByTestId('error-/maxValidityDays');
    await error.waitFor();
    expect(await error.innerText()).to.match(/maxValidityDays/);
    expect(await page.getByTestId('problem').innerText()).to.include('policy.invalid');
    await screenshot(page, 'pki-policy-error');
    expect(
      (await call(kw.url, 'GET', `/v1/realms/${realm}/policies/svc`, { token: await operatorToken() })).body.policy.maxValidityDays,
    ).to.equal(30);

    // As JSON: an IP entry that is no CIDR range, pointed at /san/ip/0.
    await days.fill('20');
    await page.getByRole('button', { name: 'JSON' }).click();
    const json = page.getByLabel('Policy document (JSON)');
    const doc = JSON.parse(await json.inputValue());
    expect(doc.maxValidityDays).to.equal(20);
    await json.fill(JSON.stringify({ ...doc, san: { ...doc.san, ip: ['not-a-range'] } }, null, 2));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('json-error').getByText('/san/ip/0').waitFor();
    await page.getByRole('button', { name: 'Form' }).click();
    await page.getByTestId('error-/san/ip').waitFor();
    await screenshot(page, 'pki-policy-form');

    await page.getByLabel('SAN: IP ranges').fill('10.0.0.0/8');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Policy svc saved').waitFor();
    const saved = (await call(kw.url, 'GET', `/v1/realms/${realm}/policies/svc`, { token: await operatorToken() })).body.policy;
    expect(saved.maxValidityDays).to.equal(20);
    expect(saved.san.ip).to.deep.equal(['10.0.0.0/8']);
    cp.expectClean(failedLoad(400));
    await cp.close();
  });

  it('shows the audit events of what was just done, filtered by action, each sealed', async () => {
    const cp = await as(admin, `/console/${realm}/audit`);
    const { page } = cp;
    const rows = rowsOf(page, 'Audit events');
    await rows.filter({ hasText: 'certificate.revoked' }).first().waitFor();
    for (const action of ['api_client.created', 'api_client.secret_rotated', 'api_client.deleted', 'policy.updated', 'certificate.issued'])
      expect(await rows.filter({ hasText: action }).count(), action).to.be.greaterThan(0);
    await page.getByLabel('Action').fill('certificate');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForFunction(
      `[...document.querySelectorAll('table[aria-label="Audit events"] tbody tr td[data-label="Action"]')]
         .every((td) => td.textContent.startsWith('certificate.'))`,
    );
    expect(await rows.filter({ hasText: 'certificate.issued' }).count()).to.equal(4);
    // The sealer links events into the chain about once a second.
    for (let i = 0; i < 20 && (await rows.filter({ hasText: 'waiting' }).count()) > 0; i++) {
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(300);
    }
    expect(await rows.filter({ hasText: 'sealed' }).count()).to.equal(await rows.count());
    await screenshot(page, 'pki-audit');
    cp.expectClean();
    await cp.close();
  });

  it('lets an approver approve a pending request, which issues it, and lists end entities', async () => {
    const gated = { ...policyFor(domain), approval: 'required' };
    expect(
      (await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/gated`, { token: await operatorToken(), body: gated })).status,
    ).to.equal(201);
    const c = await csr(dir, { subject: `/CN=gated.${domain}`, sans: [`DNS:gated.${domain}`] });
    const pending = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token: issuerToken,
      body: { csr: c.pem, policy: 'gated' },
    });
    expect(pending.status, JSON.stringify(pending.body)).to.equal(202);
    const ee = await call(kw.url, 'POST', `/v1/realms/${realm}/end-entities`, {
      token: await userToken(realm, approver, password),
      body: { name: 'web-frontend', subject: [{ type: 'CN', value: `web.${domain}` }], sans: { dns: [`web.${domain}`] }, policy: 'svc' },
    });
    expect(ee.status, JSON.stringify(ee.body)).to.equal(201);

    const cp = await as(approver, `/console/${realm}/certificate-requests`);
    const { page } = cp;
    const row = rowsOf(page, 'Certificate requests').filter({ hasText: pending.body.requestId });
    await row.getByText('pending').waitFor();
    await row.getByRole('button', { name: 'Kebab toggle' }).click();
    await page.getByRole('menuitem', { name: 'Approve and issue' }).click();
    await page.getByRole('dialog', { name: 'Are you sure?' }).getByRole('button', { name: 'Approve' }).click();
    await row.getByText('issued').waitFor();
    await screenshot(page, 'pki-requests');
    const decided = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${pending.body.requestId}`, {
      token: issuerToken,
    });
    expect(decided.body.status).to.equal('issued');
    expect(decided.body.certificate.subject).to.equal(`CN=gated.${domain}`);

    await page.goto(`/console/${realm}/end-entities`);
    const entity = rowsOf(page, 'End entities').filter({ hasText: 'web-frontend' });
    await entity.waitFor();
    expect(await entity.innerText()).to.include(`dns:web.${domain}`);
    cp.expectClean();
    await cp.close();
  });

  it('shows the 403 page to a user without the role, and a failed call with its title and code', async () => {
    const cp = await as(requester, `/console/${realm}/api-clients`);
    const { page } = cp;
    await page.getByRole('heading', { name: '403: not allowed' }).waitFor();
    expect(await page.getByText('It needs keyward-admin').count()).to.equal(1);
    await screenshot(page, 'pki-forbidden');
    await page.goto(`/console/${realm}/audit`);
    await page.getByRole('heading', { name: '403: not allowed' }).waitFor();
    // No navigation entry for pages one may not open.
    expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'API clients' }).count()).to.equal(0);

    await page.goto(`/console/${realm}/certificates/00ff00ff00ff`);
    const problem = page.getByTestId('problem');
    await problem.waitFor();
    expect(await problem.innerText()).to.include('No such certificate');
    expect(await problem.innerText()).to.include('certificate.not_found');
    await screenshot(page, 'pki-problem');
    cp.expectClean(failedLoad(404));
    await cp.close();
  });

  it('an operator grants a role of another realm to a new API client; its default policy may then come from that realm', async () => {
    const cp = await as(operatorUser, `/console/${realm}/api-clients`, 'master');
    const { page } = cp;
    await page.getByRole('button', { name: 'Create API client' }).first().click();
    const modal = page.getByRole('dialog', { name: 'Create API client' });
    await modal.getByLabel('Client ID').fill('cross-made');
    const policy = modal.getByLabel('Default certificate policy');
    await policy.locator(`option[value="${realm}/svc"]`).waitFor({ state: 'attached' });
    const values = () => policy.locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(await values()).to.deep.equal(['', `${realm}/gated`, `${realm}/svc`]);
    await modal.getByLabel('Grant realm').selectOption(other);
    await modal.getByLabel('Grant role').selectOption('keyward-requester');
    await modal.getByRole('button', { name: 'Add grant' }).click();
    await policy.locator(`option[value="${other}/web"]`).waitFor({ state: 'attached' });
    expect(await values()).to.deep.equal(['', `${realm}/gated`, `${realm}/svc`, `${other}/web`]);
    await policy.selectOption(`${other}/web`);
    await screenshot(page, 'pki-api-client-create');
    await modal.getByRole('button', { name: 'Create', exact: true }).click();
    const shown = page.getByRole('dialog', { name: 'API client created' });
    const secret = await shown.getByLabel('Client secret').inputValue();
    expect(await tokenWorks(realm, 'cross-made', secret)).to.equal(true);
    expect(await kcClient(other, `keyward-grant.${realm}.cross-made`)).to.not.equal(undefined);
    await shown.getByRole('button', { name: 'I have copied the secret' }).click();
    await page.getByRole('link', { name: 'cross-made' }).click();
    await rowsOf(page, 'Cross-realm grants').filter({ hasText: other }).waitFor();
    expect(await page.getByTestId('default-policy').innerText()).to.match(new RegExp(`${other}/web\\s+valid`));
    await screenshot(page, 'pki-api-client-detail');
    cp.expectClean();
    await cp.close();
  });

  it('shows operators whether the audit chain verifies (GET /v1/audit-events/verification)', async () => {
    const byApi = await call(kw.url, 'GET', '/v1/audit-events/verification', { token: await operatorToken() });
    expect(byApi.status, JSON.stringify(byApi.body)).to.equal(200);
    expect(byApi.body.intact).to.equal(true);
    expect(byApi.body.head).to.match(/^[0-9a-f]{64}$/);
    const denied = await call(kw.url, 'GET', '/v1/audit-events/verification', { token: issuerToken });
    expect(denied.status).to.equal(403);
    expect(denied.body.code).to.equal('auth.forbidden');

    const cp = await as(operatorUser, `/console/${realm}/audit`, 'master');
    const chain = cp.page.getByTestId('audit-chain');
    await chain.getByText('The audit chain verifies').waitFor();
    expect(await chain.innerText()).to.match(/[0-9a-f]{64}/);
    await screenshot(cp.page, 'pki-audit-operator');
    cp.expectClean();
    await cp.close();
  });
});
