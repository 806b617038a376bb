/**
 * The console's pages for people and administrators, clicked through in a
 * real Chromium against a real Keyward, Keycloak (its own login page) and
 * PostgreSQL. Every workflow is checked by its effect, through Keyward's API
 * with the user's own credentials or through Keycloak's admin REST API:
 * - My access: a user creates and downloads a client certificate, whose .pem
 *   then authenticates /v1/whoami (and no longer once revoked), and a personal
 *   access token shown once, which authenticates as `Authorization: Bearer kwp_…`;
 * - Administration (IBM CSM's "Manage Personal Access Tokens"): an admin
 *   enables PATs, sees the user's token, selects it, Revoke → "Are you sure?",
 *   and the token stops working;
 * - Devices (IBM SKLM's pending client certificates): an admin accepts a
 *   pushed certificate with an alias checked as it is typed, and Keycloak
 *   holds the device client; renaming and untrusting it change Keycloak;
 * - Approvals under dual control: the proposer sees their change without an
 *   Approve button and with the reason; a second admin approves it;
 * - bad paths: the 403 page, a failed call's problem in an alert.
 */
import { expect } from 'chai';
import { freePort, serveOnPort, type ServedKeyward } from '../support/served.ts';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { consolePage, launchChromium, logIn, screenshot, type ConsolePage } from '../support/chromium.ts';
import { call, createLoginClient, createUser, integrationEnv, keycloakAdmin, operatorToken, unique, userToken } from '../support/env.ts';
import { csr, must, work } from '../support/openssl.ts';
import { policyFor } from '../support/scenario.ts';

/** A device's self-signed certificate, as `openssl req -x509` makes it. */
async function deviceCertificate(dir: string, name: string, subject: string): Promise<{ pem: string; fingerprint: string }> {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  await must([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    crt,
    '-subj',
    subject,
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:FALSE',
  ]);
  const fingerprint = (await must(['x509', '-in', crt, '-noout', '-fingerprint', '-sha256'])).trim().replace(/^.*=/, '');
  return { pem: readFileSync(crt, 'utf8'), fingerprint };
}

/** The row of a table that contains `text`. */
const row = (page: Page, text: string) => page.getByRole('row').filter({ hasText: text });

/** Opens a row's kebab menu and picks an item. */
async function rowAction(page: Page, text: string, action: string): Promise<void> {
  await row(page, text).getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: action }).click();
}

/** The visible tab's panel (the other tabs stay mounted, hidden). */
const panel = (page: Page) => page.getByRole('tabpanel');

const toast = (page: Page, text: string | RegExp) => page.locator('.pf-v6-c-alert-group').getByText(text).first();

/** Closes the toasts, so that a screenshot shows the page under them. */
async function closeToasts(page: Page): Promise<void> {
  const close = page.locator('.pf-v6-c-alert-group').getByRole('button', { name: /^Close/ });
  while ((await close.count()) > 0) await close.first().click();
}

describe('console: pages for people and administrators', function () {
  this.timeout(600_000);
  const realm = unique('ident');
  const password = 'Identity-pass-1';
  const user = unique('user');
  const admin = unique('admin');
  const second = unique('admin2');
  const approver = unique('approver');
  const dir = work();
  let kw: ServedKeyward;
  let browser: Browser;
  let adminToken: () => Promise<string>;
  const pages: ConsolePage[] = [];

  /** A fresh browser (own cookies) logged in on Keycloak's real login page, at `path`. */
  async function as(username: string, path = `/console/${realm}/`): Promise<ConsolePage> {
    const cp = await consolePage(browser, { baseURL: kw.url });
    pages.push(cp);
    await logIn(cp.page, { realm, username, password, path });
    return cp;
  }

  before(async () => {
    await integrationEnv();
    kw = await serveOnPort(await freePort());
    const op = await operatorToken();
    const put = await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: { displayName: 'Identity pages' } });
    expect(put.status, JSON.stringify(put.body)).to.equal(201);
    await createUser(realm, user, password, ['keyward-requester']);
    await createUser(realm, admin, password, ['keyward-admin', 'keyward-user-admin']);
    await createUser(realm, second, password, ['keyward-admin']);
    await createUser(realm, approver, password, ['keyward-approver']);
    const policy = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/reviewed`, {
      token: op,
      body: { ...policyFor('ident.internal'), approval: 'required' },
    });
    expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
    await createLoginClient(realm);
    adminToken = () => userToken(realm, second, password);
    browser = await launchChromium();
  });

  after(async () => {
    for (const p of pages) await p.close().catch(() => {});
    await browser?.close();
    await kw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a user without admin roles the 403 page for Administration, and that PATs and certificates are disabled', async () => {
    const cp = await as(user, `/console/${realm}/administration`);
    await cp.page.getByRole('heading', { name: '403: not allowed' }).waitFor();
    expect(await cp.page.getByText('It needs keyward-admin or keyward-user-admin').count()).to.equal(1);
    // Not in the navigation either.
    expect(await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Administration' }).count()).to.equal(0);
    await screenshot(cp.page, 'identity-forbidden');
    await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'My access' }).click();
    await cp.page.getByText(`Personal access tokens are disabled in realm ${realm}`).waitFor();
    await cp.page.getByText(`Client certificates are disabled in realm ${realm}`).waitFor();
    expect(await cp.page.getByRole('button', { name: 'Create personal access token' }).isDisabled()).to.equal(true);
    cp.expectClean();
  });

  let adminPage: ConsolePage;

  it('lets an admin enable personal access tokens and client certificates (IBM CSM: Enabled, maximum 366 days, Ok)', async () => {
    adminPage = await as(admin, `/console/${realm}/administration`);
    const page = adminPage.page;
    await page.getByRole('heading', { name: 'Administration', level: 1 }).waitFor();
    const max = panel(page).getByLabel('Maximum Expiration (days)');
    expect(await max.inputValue()).to.equal('366');
    await panel(page).getByRole('radio', { name: 'Enabled' }).check();
    await panel(page).getByRole('button', { name: 'Save', exact: true }).click();
    await toast(page, 'Personal access token settings saved').waitFor();
    await page.getByRole('tab', { name: 'Client certificates' }).click();
    await panel(page).getByRole('radio', { name: 'Enabled' }).check();
    await panel(page).getByLabel('Maximum Expiration (days)').fill('400');
    await panel(page).getByRole('button', { name: 'Save', exact: true }).click();
    await toast(page, 'Client certificate settings saved').waitFor();

    const token = await adminToken();
    const pat = await call(kw.url, 'GET', `/v1/realms/${realm}/settings/personal-access-tokens`, { token });
    expect(pat.body).to.deep.include({ enabled: true, maxExpirationDays: 366 });
    const certs = await call(kw.url, 'GET', `/v1/realms/${realm}/settings/client-certificates`, { token });
    expect(certs.body).to.deep.include({ enabled: true, maxExpirationDays: 400 });
    adminPage.expectClean();
  });

  let pat: string;

  it('lets a user create and download a client certificate whose .pem authenticates, and a PAT shown once that authenticates', async () => {
    const cp = await as(user, `/console/${realm}/my-access`);
    const page = cp.page;
    await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();

    // Client certificate: optional name, days with the admin's maximum shown below, Create, Download.
    await page.getByRole('button', { name: 'Create client certificate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText("Maximum: 400 days, set by the realm's administrator.").waitFor();
    await dialog.getByLabel('Name').fill('nightly backup');
    await dialog.getByLabel('Expires in (days)').fill('401');
    await dialog.getByText('At most 400 days').waitFor();
    expect(await dialog.getByRole('button', { name: 'Create certificate' }).isDisabled()).to.equal(true);
    await dialog.getByLabel('Expires in (days)').fill('90');
    await dialog.getByRole('button', { name: 'Create certificate' }).click();
    await dialog.getByText('The .pem holds the private key').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      dialog.getByRole('button', { name: 'Download certificate' }).click(),
    ]);
    expect(download.suggestedFilename()).to.equal('nightly-backup.pem');
    const pem = readFileSync((await download.path())!, 'utf8');
    expect(pem).to.include('-----BEGIN CERTIFICATE-----').and.to.include('PRIVATE KEY-----');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await row(page, 'nightly backup').waitFor();
    const byCert = await call(kw.url, 'GET', '/v1/whoami', { headers: { 'X-Client-Certificate': Buffer.from(pem).toString('base64') } });
    expect(byCert.status, JSON.stringify(byCert.body)).to.equal(200);
    expect(byCert.body).to.include({ credential: 'client_certificate', username: user });
    // Downloaded again from the table: the same .pem.
    const [again] = await Promise.all([page.waitForEvent('download'), rowAction(page, 'nightly backup', 'Download .pem')]);
    expect(readFileSync((await again.path())!, 'utf8')).to.equal(pem);

    // Personal access token: shown once with a copy button and a warning.
    await page.getByRole('button', { name: 'Create personal access token' }).click();
    await dialog.getByLabel('Name').fill('ci-deploy');
    await dialog.getByLabel('Expires in (days)').fill('30');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.getByText('Copy the token now: it is not shown again').waitFor();
    pat = await dialog.getByLabel('Personal access token', { exact: true }).inputValue();
    expect(pat).to.match(/^kwp_[0-9a-f]{16}_[A-Za-z0-9]{43}$/);
    expect(await dialog.getByRole('button', { name: 'Copy' }).count()).to.equal(1);
    await screenshot(page, 'identity-pat-created');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await row(page, 'ci-deploy').waitFor();
    expect(await page.getByText(pat).count(), 'the token is not shown after the dialog').to.equal(0);
    const who = await call(kw.url, 'GET', '/v1/whoami', { token: pat });
    expect(who.status, JSON.stringify(who.body)).to.equal(200);
    expect(who.body).to.include({ credential: 'pat', username: user });
    await toast(page, 'Personal access token ci-deploy created').waitFor();
    await closeToasts(page);
    await screenshot(page, 'my-access');

    // A second certificate, revoked after the confirmation: its .pem stops working.
    await page.getByRole('button', { name: 'Create client certificate' }).click();
    await dialog.getByLabel('Name').fill('short-lived');
    await dialog.getByRole('button', { name: 'Create certificate' }).click();
    const [dl] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Download certificate' }).click()]);
    const shortPem = readFileSync((await dl.path())!, 'utf8');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await rowAction(page, 'short-lived', 'Revoke');
    await dialog.getByRole('heading', { name: /Are you sure\?/ }).waitFor();
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await row(page, 'short-lived').getByText('revoked').waitFor();
    const refused = await call(kw.url, 'GET', '/v1/whoami', {
      headers: { 'X-Client-Certificate': Buffer.from(shortPem).toString('base64') },
    });
    expect(refused.status, JSON.stringify(refused.body)).to.equal(401);
    cp.expectClean();
  });

  it('shows the admin the user\'s token; select it, Revoke → "Are you sure?" → Ok, and the PAT no longer authenticates', async () => {
    const page = adminPage.page;
    await page.goto(`/console/${realm}/administration`);
    const table = page.getByRole('grid', { name: "Users' personal access tokens" });
    await table.waitFor();
    const r = table.getByRole('row').filter({ hasText: user });
    await r.getByText('ci-deploy').waitFor();
    expect(await r.getByText('30', { exact: true }).count(), 'expires in (days)').to.equal(1);
    await r.getByRole('checkbox').check();
    await screenshot(page, 'pat-administration');
    await page.getByRole('button', { name: 'Revoke personal access token' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: /Are you sure\?/ }).waitFor();
    await dialog.getByText(user).waitFor();
    await dialog.getByRole('button', { name: 'Ok' }).click();
    await toast(page, 'Revoked 1 personal access token').waitFor();
    await page.getByText('No user holds a token.').waitFor();
    const who = await call(kw.url, 'GET', '/v1/whoami', { token: pat });
    expect(who.status).to.equal(401);
    expect(who.body.code).to.equal('pat.invalid');
    adminPage.expectClean();
  });

  it('lets an admin accept a pushed device certificate, its alias checked as typed; Keycloak holds the device client', async () => {
    const page = adminPage.page;
    await page.goto(`/console/${realm}/administration`);
    await page.getByRole('tab', { name: 'Devices' }).click();
    await panel(page).getByRole('radio', { name: 'Enabled' }).check();
    await panel(page).getByRole('button', { name: 'Save', exact: true }).click();
    await toast(page, 'Device onboarding settings saved').waitFor();

    const tape = await deviceCertificate(dir, 'tape', '/O=Acme/CN=tape-library-1');
    const push = await call(kw.url, 'POST', `/v1/realms/${realm}/devices/certificates`, { body: { certificate: tape.pem } });
    expect(push.status, JSON.stringify(push.body)).to.equal(202);

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Devices' }).click();
    const pending = page.getByRole('grid', { name: 'Pending client certificates' });
    const r = pending.getByRole('row').filter({ hasText: 'CN=tape-library-1' });
    await r.waitFor();
    await r.getByText(tape.fingerprint).waitFor();
    await r.getByText('127.0.0.1').waitFor();
    await closeToasts(page);
    await screenshot(page, 'devices');
    await rowAction(page, 'CN=tape-library-1', 'Accept');
    const dialog = page.getByRole('dialog');
    const alias = dialog.getByLabel('Alias');
    await alias.fill('abc123456789012345678');
    await dialog.getByText('reserved form of three letters followed by 18 digits').waitFor();
    await alias.fill('tapes/1');
    await dialog.getByText('contains a forward slash or backslash').waitFor();
    expect(await dialog.getByRole('button', { name: 'Accept' }).isDisabled(), 'no Accept with an invalid alias').to.equal(true);
    await alias.fill('Tape Library 1');
    await dialog.getByText('Stored as "tape library 1"; the device client will be tape-library-1.').waitFor();
    await dialog.getByLabel('Device group').fill('PEER TO PEER');
    await dialog.getByText('Device group must be 1 to 64 letters').waitFor();
    await dialog.getByLabel('Device group').fill('PEER_TO_PEER');
    await dialog.getByLabel('Device role').fill('TAPE');
    expect(await dialog.getByRole('button', { name: 'Accept' }).isEnabled(), 'Accept once the alias, group and role are valid').to.equal(
      true,
    );
    await page.waitForTimeout(400); // the button's colour transition, for the screenshot
    await screenshot(page, 'identity-device-accept');
    await dialog.getByRole('button', { name: 'Accept' }).click();
    await toast(page, 'Certificate accepted as "tape library 1"; device client tape-library-1 created').waitFor();

    const clients = (await (await keycloakAdmin(`/${realm}/clients?clientId=tape-library-1`)).json()) as Array<Record<string, any>>;
    const client = clients.find((c) => c.clientId === 'tape-library-1');
    expect(client, 'the device client in Keycloak').to.not.equal(undefined);
    expect(client!.clientAuthenticatorType).to.equal('client-x509');
    expect(client!.attributes['keyward.device']).to.equal('true');

    await page.getByRole('tab', { name: 'Trusted certificates' }).click();
    const trusted = page.getByRole('grid', { name: 'Trusted client certificates' }).getByRole('row').filter({ hasText: 'tape library 1' });
    await trusted.getByText('tape-library-1', { exact: true }).waitFor();
    await trusted.getByText('PEER_TO_PEER / TAPE').waitFor();
    await screenshot(page, 'identity-devices-trusted');
    adminPage.expectClean();
  });

  it('shows the problem of a failed call, with its title and code, in an alert', async () => {
    const page = adminPage.page;
    const other = await deviceCertificate(dir, 'other', '/O=Acme/CN=tape-library-2');
    expect((await call(kw.url, 'POST', `/v1/realms/${realm}/devices/certificates`, { body: { certificate: other.pem } })).status).to.equal(
      202,
    );
    await page.getByRole('tab', { name: 'Pending certificates' }).click();
    await rowAction(page, 'CN=tape-library-2', 'Accept');
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Alias').fill('TAPE library 1');
    await dialog.getByRole('button', { name: 'Accept' }).click();
    const problem = dialog.getByTestId('problem');
    await problem.waitFor();
    expect(await problem.textContent())
      .to.include('device.alias_in_use')
      .and.to.include('HTTP 409');
    await screenshot(page, 'identity-problem');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    // The browser logs the refused call itself; nothing else.
    adminPage.expectClean(/status of 409/);
    adminPage.problems.splice(0);
  });

  it('renames a device client and untrusts a device after a confirmation; Keycloak follows', async () => {
    const page = adminPage.page;
    await page.getByRole('tab', { name: 'Trusted certificates' }).click();
    await rowAction(page, 'tape library 1', 'Rename client');
    const dialog = page.getByRole('dialog');
    const name = dialog.getByLabel('Client id');
    await name.fill('keyward-grant.x');
    await dialog.getByText('not starting with keyward-grant.').waitFor();
    await name.fill('tape-lib-one');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await toast(page, 'Device client renamed to tape-lib-one').waitFor();
    const clientIds = async () =>
      ((await (await keycloakAdmin(`/${realm}/clients?max=1000`)).json()) as Array<{ clientId: string }>).map((c) => c.clientId);
    expect(await clientIds())
      .to.include('tape-lib-one')
      .and.not.to.include('tape-library-1');

    await rowAction(page, 'tape library 1', 'Untrust');
    await dialog.getByRole('heading', { name: /Are you sure\?/ }).waitFor();
    await dialog.getByRole('button', { name: 'Untrust' }).click();
    await toast(page, '"tape library 1" is no longer trusted; device client tape-lib-one deleted').waitFor();
    await page.getByText('No trusted device certificates').waitFor();
    expect(await clientIds()).not.to.include('tape-lib-one');
    adminPage.expectClean();
  });

  it('under dual control: the proposer sees no Approve button but the reason; a second admin approves', async () => {
    const page = adminPage.page;
    await page.goto(`/console/${realm}/administration`);
    await page.getByRole('tab', { name: 'Dual control' }).click();
    await panel(page).getByRole('radio', { name: 'Enabled' }).check();
    await panel(page).getByRole('button', { name: 'Save', exact: true }).click();
    await toast(page, 'Dual control saved').waitFor();

    // A token made for longer than the maximum about to be set.
    const long = await call(kw.url, 'POST', '/v1/personal-access-tokens', {
      token: await userToken(realm, user, password),
      body: { name: 'long-lived', expiresInDays: 200 },
    });
    expect(long.status, JSON.stringify(long.body)).to.equal(201);
    await page.getByRole('tab', { name: 'Manage Personal Access Tokens' }).click();
    await panel(page).getByLabel('Maximum Expiration (days)').fill('90');
    await panel(page).getByRole('button', { name: 'Save', exact: true }).click();
    await toast(page, "Personal access token settings: the change waits for a second admin's approval").waitFor();
    const pendingAlert = page.getByTestId('pending-change');
    await pendingAlert.getByText(admin).first().waitFor();
    await pendingAlert.getByText('You proposed it, so another admin must approve it.').waitFor();
    await screenshot(page, 'identity-pending-setting');
    const token = await adminToken();
    const before = await call(kw.url, 'GET', `/v1/realms/${realm}/settings/personal-access-tokens`, { token });
    expect(before.body.maxExpirationDays).to.equal(366);
    expect(before.body.pendingApprovalId).to.be.a('string');

    // A device acceptance proposed by the same admin waits in the same queue.
    const lib = await deviceCertificate(dir, 'lib', '/O=Acme/CN=library-3');
    const pushed = await call(kw.url, 'POST', `/v1/realms/${realm}/devices/certificates`, { body: { certificate: lib.pem } });
    const accept = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
      token: await userToken(realm, admin, password),
      body: { alias: 'Library 3', uuid: pushed.body.uuid },
    });
    expect(accept.status, JSON.stringify(accept.body)).to.equal(202);

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Approvals' }).click();
    const device = page.getByRole('grid', { name: 'Approvals' }).getByRole('row').filter({ hasText: '"library 3"' });
    await device.getByText('Device acceptance').waitFor();
    expect(await device.getByRole('button', { name: 'Approve' }).count()).to.equal(0);
    const mine = page.getByRole('grid', { name: 'Approvals' }).getByRole('row').filter({ hasText: 'at most 90 days' });
    await mine.getByText('You proposed this change, so you cannot approve it: another admin must.').waitFor();
    expect(await mine.getByRole('button', { name: 'Approve' }).count()).to.equal(0);
    await closeToasts(page);
    await screenshot(page, 'approvals');
    adminPage.expectClean();

    const cp = await as(second, `/console/${realm}/approvals`);
    const theirs = cp.page.getByRole('grid', { name: 'Approvals' }).getByRole('row').filter({ hasText: 'at most 90 days' });
    await theirs.getByText(admin).first().waitFor();
    await theirs.getByRole('button', { name: 'Approve' }).click();
    await cp.page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    await toast(cp.page, 'Setting change approved and applied').waitFor();
    const theirDevice = cp.page.getByRole('grid', { name: 'Approvals' }).getByRole('row').filter({ hasText: '"library 3"' });
    await theirDevice.getByRole('button', { name: 'Approve' }).click();
    await cp.page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    await toast(cp.page, 'Device acceptance approved and applied').waitFor();
    await cp.page.getByText('Nothing waits for approval').waitFor();
    const clients = (await (await keycloakAdmin(`/${realm}/clients?clientId=library-3`)).json()) as Array<{ clientId: string }>;
    expect(clients.map((c) => c.clientId)).to.include('library-3');
    await screenshot(cp.page, 'identity-approvals-approved');
    const after = await call(kw.url, 'GET', `/v1/realms/${realm}/settings/personal-access-tokens`, { token });
    expect(after.body).to.deep.include({ enabled: true, maxExpirationDays: 90 });
    expect(after.body.pendingApprovalId).to.equal(undefined);

    // The admin table flags the token created under the higher maximum (IBM CSM: "meet security guidelines").
    await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Administration' }).click();
    const flagged = cp.page.getByRole('grid', { name: "Users' personal access tokens" }).getByRole('row').filter({ hasText: 'long-lived' });
    await flagged.getByText('over maximum').waitFor();
    await closeToasts(cp.page);
    await screenshot(cp.page, 'identity-pat-over-maximum');
    cp.expectClean();
  });

  it('queues a certificate request under a reviewed policy: its requester cannot approve it, an approver issues it', async () => {
    const req = await csr(dir, { subject: '/CN=app.ident.internal', sans: ['DNS:app.ident.internal'] });
    const asked = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token: await userToken(realm, user, password),
      body: { csr: req.pem, policy: 'reviewed', validityDays: 7 },
    });
    expect(asked.status, JSON.stringify(asked.body)).to.equal(202);
    const id = asked.body.requestId as string;

    const mine = await as(user, `/console/${realm}/approvals`);
    const own = mine.page.getByRole('grid', { name: 'Approvals' }).getByRole('row').filter({ hasText: 'CN=app.ident.internal' });
    await own.getByText('You requested this certificate, so you cannot approve it: another keyward-approver must.').waitFor();
    expect(await own.getByRole('button', { name: 'Approve' }).count()).to.equal(0);
    mine.expectClean();

    const cp = await as(approver, `/console/${realm}/approvals`);
    const r = cp.page.getByRole('grid', { name: 'Approvals' }).getByRole('row').filter({ hasText: 'CN=app.ident.internal' });
    await r.getByText('Certificate request').waitFor();
    await r.getByText('reviewed').waitFor();
    await closeToasts(cp.page);
    await screenshot(cp.page, 'identity-approvals-request');
    await r.getByRole('button', { name: 'Approve' }).click();
    await cp.page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    await toast(cp.page, 'Certificate request approved: the certificate is issued').waitFor();
    const after = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${id}`, {
      token: await userToken(realm, user, password),
    });
    expect(after.body.status).to.equal('issued');
    expect(after.body.certificate.certificate).to.include('-----BEGIN CERTIFICATE-----');
    cp.expectClean();
  });
});
