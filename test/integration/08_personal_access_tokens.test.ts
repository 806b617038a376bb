/**
 * Scenario 08 — personal access tokens with admin control and dual control
 * (as in IBM CSM), as an admin and a user would do it, against the real
 * Keycloak: real users with passwords, groups with roles, users deleted,
 * disabled and stripped of roles in Keycloak's own admin API.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { frozenClock } from '../../services/keyward/src/kernel/clock.ts';
import {
  call,
  clientToken,
  createLoginClient,
  createUser,
  keycloakAdmin,
  operatorToken,
  startKeyward,
  unique,
  userToken,
  type RunningKeyward,
} from '../support/env.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));
const PAT_SHAPE = /^kwp_[0-9a-f]{16}_[0-9A-Za-z]{43}$/;
const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[], token: string, url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { KEYWARD_CLIENT_ID: _id, KEYWARD_CLIENT_SECRET: _s, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(
      BIN,
      args,
      { env: { ...env, KEYWARD_URL: url, KEYWARD_TOKEN: token }, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

describe('08 personal access tokens', function () {
  this.timeout(600_000);
  const realm = unique('pat');
  let kw: RunningKeyward;
  let op: string;
  const ids: Record<string, string> = {};
  const password = (u: string) => `${u}-password-1`;
  const token = (u: string) => userToken(realm, u, password(u));
  const settingsPath = `/v1/realms/${realm}/settings/personal-access-tokens`;
  const role = async (name: string) => (await keycloakAdmin(`/${realm}/roles/${name}`)).json();

  /** ada (keyward-admin) proposes, ulla (keyward-user-admin) approves: the dual-control dance. */
  async function changePatSettings(body: Record<string, unknown>) {
    const proposed = await call(kw.url, 'PUT', settingsPath, { token: await token('ada'), body });
    expect(proposed.status, JSON.stringify(proposed.body)).to.equal(202);
    const approved = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${proposed.body.approvalId}/approve`, {
      token: await token('ulla'),
    });
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    return approved.body;
  }

  async function auditActions(): Promise<Array<{ action: string; target: string; details: any; actor: any }>> {
    return (await kw.keyward.db.query('SELECT action, target, details, actor FROM audit_events WHERE realm = $1 ORDER BY seq', [realm]))
      .rows as never;
  }

  async function adminRows(as = 'ada', query = '') {
    const r = await call(kw.url, 'GET', `/v1/realms/${realm}/personal-access-tokens${query}`, { token: await token(as) });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body as { items: any[]; total: number; maximumExpirationDays: number };
  }

  before(async () => {
    // The sweep is off here so that "at the next use" is what the use-path tests see; a second server sweeps below.
    kw = await startKeyward({ KEYWARD_PAT_SWEEP_SECONDS: '0' });
    op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    await createLoginClient(realm);
    const users: Array<[string, string[]]> = [
      ['ada', ['keyward-admin']],
      ['abe', ['keyward-admin']],
      ['ulla', ['keyward-user-admin']],
      ['alice', ['keyward-requester']],
      ['bob', ['keyward-requester']],
      ['carol', ['keyward-admin']],
      ['dave', ['keyward-requester']],
      ['erin', ['keyward-requester']],
      ['frank', ['keyward-requester']],
      ['gina', ['keyward-requester']],
      ['hank', ['keyward-requester']],
      ['ivan', []],
      ['nora', []],
    ];
    for (const [u, roles] of users) ids[u] = await createUser(realm, u, password(u), roles);
  });

  describe('settings and dual control', () => {
    it('creates keyward-user-admin in the managed realm', async () => {
      const r = await keycloakAdmin(`/${realm}/roles/keyward-user-admin`);
      expect(r.status).to.equal(200);
      expect(((await r.json()) as { description: string }).description).to.contain('personal-access-token');
    });

    it('is off by default: 366 days, and creating a token answers 403 pat.disabled', async () => {
      const alice = await token('alice');
      const s = await call(kw.url, 'GET', settingsPath, { token: alice });
      expect(s.status).to.equal(200);
      expect(s.body).to.deep.equal({ enabled: false, maxExpirationDays: 366 });
      expect((await call(kw.url, 'GET', `/v1/realms/${realm}/settings/dual-control`, { token: alice })).body).to.deep.equal({
        enabled: false,
      });
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: alice, body: { expiresInDays: 10 } });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('pat.disabled');
      const own = await call(kw.url, 'GET', '/v1/personal-access-tokens', { token: alice });
      expect(own.body).to.deep.equal({ items: [], enabled: false, maximumExpirationDays: 366 });
    });

    it('refuses changes by non-admins, and the dual-control switch to keyward-user-admin, with 403 auth.forbidden', async () => {
      const r = await call(kw.url, 'PUT', settingsPath, { token: await token('alice'), body: { enabled: true } });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('auth.forbidden');
      const d = await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/dual-control`, {
        token: await token('ulla'),
        body: { enabled: true },
      });
      expect(d.status).to.equal(403);
      expect(d.body.code).to.equal('auth.forbidden');
      const other = await call(kw.url, 'GET', `/v1/realms/${unique('nope')}/settings/personal-access-tokens`, { token: op });
      expect(other.status).to.equal(404);
      expect(other.body.code).to.equal('realm.not_found');
    });

    const badSettings: Array<[string, unknown, number, string, string]> = [
      ['a maximum of 0 days', { enabled: true, maxExpirationDays: 0 }, 400, 'settings.invalid', '/maxExpirationDays'],
      ['a maximum above 3650 days', { enabled: true, maxExpirationDays: 3651 }, 400, 'settings.invalid', '/maxExpirationDays'],
      ['a fractional maximum', { enabled: true, maxExpirationDays: 1.5 }, 400, 'request.malformed', '/maxExpirationDays'],
      ['enabled as a string', { enabled: 'yes' }, 400, 'request.malformed', '/enabled'],
      ['a missing enabled', { maxExpirationDays: 10 }, 400, 'request.malformed', '/enabled'],
      ['an unknown field', { enabled: true, forever: true }, 400, 'request.malformed', '/forever'],
    ];
    for (const [what, body, status, code, field] of badSettings) {
      it(`refuses ${what} with ${status} ${code} naming ${field}`, async () => {
        const r = await call(kw.url, 'PUT', settingsPath, { token: await token('ada'), body });
        expect(r.status, JSON.stringify(r.body)).to.equal(status);
        expect(r.body.code).to.equal(code);
        expect(r.body.field).to.equal(field);
      });
    }

    it('turns dual control on at once (switching it on only adds protection)', async () => {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/dual-control`, {
        token: await token('ada'),
        body: { enabled: true },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body).to.deep.equal({ enabled: true });
    });

    let approvalId: string;
    it('stores enabling PATs as a pending approval (202 {approvalId}) and leaves them disabled', async () => {
      const r = await call(kw.url, 'PUT', settingsPath, { token: await token('ada'), body: { enabled: true, maxExpirationDays: 90 } });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      expect(r.body.approvalId).to.match(/^[0-9a-f-]{36}$/);
      expect(r.headers.get('location')).to.equal(`/v1/realms/${realm}/approvals/${r.body.approvalId}`);
      approvalId = r.body.approvalId;
      const s = await call(kw.url, 'GET', settingsPath, { token: await token('alice') });
      expect(s.body).to.deep.equal({ enabled: false, maxExpirationDays: 366, pendingApprovalId: approvalId });
      const c = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('alice'), body: { expiresInDays: 10 } });
      expect(c.body.code).to.equal('pat.disabled');
    });

    it('lists the pending change with what it changes and who proposed it', async () => {
      const r = await call(kw.url, 'GET', `/v1/realms/${realm}/approvals?status=pending`, { token: await token('ulla') });
      expect(r.status).to.equal(200);
      const [a] = r.body.items;
      expect(a).to.include({ id: approvalId, realm, kind: 'settings.personal_access_tokens', status: 'pending' });
      expect(a.change).to.deep.equal({
        setting: 'personal_access_tokens',
        from: { enabled: false, maxExpirationDays: 366 },
        to: { enabled: true, maxExpirationDays: 90 },
      });
      expect(a.proposedBy).to.include({ kind: 'user:bearer', id: ids.ada, realm, name: 'ada' });
      expect(new Date(a.expiresAt).getTime() - new Date(a.createdAt).getTime()).to.equal(86_400_000);
      const denied = await call(kw.url, 'GET', `/v1/realms/${realm}/approvals`, { token: await token('alice') });
      expect(denied.status).to.equal(403);
    });

    it("refuses the proposer's own approval with 403 approval.self_approval, and a non-admin's with 403 auth.forbidden", async () => {
      const self = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${approvalId}/approve`, { token: await token('ada') });
      expect(self.status).to.equal(403);
      expect(self.body.code).to.equal('approval.self_approval');
      const user = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${approvalId}/approve`, { token: await token('alice') });
      expect(user.status).to.equal(403);
      expect(user.body.code).to.equal('auth.forbidden');
      expect((await call(kw.url, 'GET', settingsPath, { token: await token('alice') })).body.enabled).to.equal(false);
    });

    it('keeps one pending change per setting: another proposal gets 409 approval.already_pending', async () => {
      const r = await call(kw.url, 'PUT', settingsPath, { token: await token('ulla'), body: { enabled: true, maxExpirationDays: 30 } });
      expect(r.status).to.equal(409);
      expect(r.body.code).to.equal('approval.already_pending');
      expect(r.body.approvalId).to.equal(approvalId);
    });

    it('applies the change when a different admin approves; a second decision gets 409 approval.not_pending', async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${approvalId}/approve`, { token: await token('ulla') });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.status).to.equal('approved');
      expect(r.body.decidedBy).to.include({ name: 'ulla', id: ids.ulla });
      expect((await call(kw.url, 'GET', settingsPath, { token: await token('alice') })).body).to.deep.equal({
        enabled: true,
        maxExpirationDays: 90,
      });
      for (const verb of ['approve', 'reject']) {
        const again = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${approvalId}/${verb}`, { token: await token('abe') });
        expect(again.status).to.equal(409);
        expect(again.body.code).to.equal('approval.not_pending');
      }
      const missing = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/00000000-0000-4000-8000-000000000000/approve`, {
        token: await token('ulla'),
      });
      expect(missing.status).to.equal(404);
      expect(missing.body.code).to.equal('approval.not_found');
    });

    it('rejects a change (with a reason), and lets the proposer withdraw one', async () => {
      const p1 = await call(kw.url, 'PUT', settingsPath, { token: await token('ulla'), body: { enabled: true, maxExpirationDays: 30 } });
      expect(p1.status).to.equal(202);
      const rejected = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${p1.body.approvalId}/reject`, {
        token: await token('ada'),
        body: { reason: 'too short for the nightly jobs' },
      });
      expect(rejected.status).to.equal(200);
      expect(rejected.body).to.include({ status: 'rejected', reason: 'too short for the nightly jobs' });
      const p2 = await call(kw.url, 'PUT', settingsPath, { token: await token('ulla'), body: { enabled: false } });
      const withdrawn = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${p2.body.approvalId}/reject`, {
        token: await token('ulla'),
      });
      expect(withdrawn.status).to.equal(200);
      expect(withdrawn.body.status).to.equal('rejected');
      expect((await call(kw.url, 'GET', settingsPath, { token: await token('alice') })).body).to.deep.equal({
        enabled: true,
        maxExpirationDays: 90,
      });
    });

    it('answers a change that changes nothing with 200 and creates no approval', async () => {
      const r = await call(kw.url, 'PUT', settingsPath, { token: await token('ada'), body: { enabled: true, maxExpirationDays: 90 } });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ enabled: true, maxExpirationDays: 90 });
      expect(
        (await call(kw.url, 'GET', `/v1/realms/${realm}/approvals?status=pending`, { token: await token('ada') })).body.items,
      ).to.deep.equal([]);
    });

    it('protects the client-certificate settings the same way', async () => {
      const path = `/v1/realms/${realm}/settings/client-certificates`;
      const r = await call(kw.url, 'PUT', path, { token: await token('ulla'), body: { enabled: true, maxExpirationDays: 30 } });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      expect((await call(kw.url, 'GET', path, { token: await token('ada') })).body).to.include({ enabled: false });
      const self = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${r.body.approvalId}/approve`, { token: await token('ulla') });
      expect(self.body.code).to.equal('approval.self_approval');
      const ok = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${r.body.approvalId}/approve`, { token: await token('ada') });
      expect(ok.status).to.equal(200);
      expect((await call(kw.url, 'GET', path, { token: await token('ada') })).body).to.deep.equal({ enabled: true, maxExpirationDays: 30 });
      const cert = await call(kw.url, 'POST', '/v1/client-certificates', { token: await token('alice'), body: { expiresInDays: 31 } });
      expect(cert.body.code).to.equal('client_certificate.expiry_exceeded');
    });

    it('expires an approval after KEYWARD_APPROVAL_TTL_SECONDS: approving it then gets 409 approval.expired', async () => {
      const short = await startKeyward({ KEYWARD_APPROVAL_TTL_SECONDS: '1', KEYWARD_PAT_SWEEP_SECONDS: '0' });
      try {
        const p = await call(short.url, 'PUT', settingsPath, { token: await token('ada'), body: { enabled: true, maxExpirationDays: 60 } });
        expect(p.status).to.equal(202);
        await sleep(1500);
        const late = await call(short.url, 'POST', `/v1/realms/${realm}/approvals/${p.body.approvalId}/approve`, {
          token: await token('ulla'),
        });
        expect(late.status).to.equal(409);
        expect(late.body.code).to.equal('approval.expired');
        const listed = await call(short.url, 'GET', `/v1/realms/${realm}/approvals?status=expired`, { token: await token('ulla') });
        expect(listed.body.items.map((a: any) => a.id)).to.include(p.body.approvalId);
        // An expired approval does not block the next proposal; it is marked expired (and audited) then.
        const next = await call(short.url, 'PUT', settingsPath, {
          token: await token('ada'),
          body: { enabled: true, maxExpirationDays: 60 },
        });
        expect(next.status).to.equal(202);
        await call(short.url, 'POST', `/v1/realms/${realm}/approvals/${next.body.approvalId}/reject`, { token: await token('ada') });
      } finally {
        await short.close();
      }
      expect((await call(kw.url, 'GET', settingsPath, { token: await token('alice') })).body.maxExpirationDays).to.equal(90);
    });

    it('records every change and decision in the audit trail', async () => {
      const actions = (await auditActions()).map((e) => e.action);
      for (const a of [
        'dual_control_settings.updated',
        'approval.proposed',
        'approval.approved',
        'approval.rejected',
        'approval.expired',
        'personal_access_token_settings.updated',
        'client_certificate_settings.updated',
      ]) {
        expect(actions, a).to.include(a);
      }
      const applied = (await auditActions()).find((e) => e.action === 'personal_access_token_settings.updated')!;
      expect(applied.actor.name).to.equal('ulla');
      expect(applied.details).to.deep.include({
        from: { enabled: false, maxExpirationDays: 366 },
        to: { enabled: true, maxExpirationDays: 90 },
        approvalId,
      });
      expect(applied.details.proposedBy.name).to.equal('ada');
    });
  });

  describe("a user's tokens", () => {
    let ci: { id: string; token: string; expiresAt: string };
    let backup: { id: string; token: string };

    it('refuses an expiry above the maximum with 422 pat.expiry_exceeded, naming the maximum', async () => {
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('alice'), body: { expiresInDays: 91 } });
      expect(r.status).to.equal(422);
      expect(r.body.code).to.equal('pat.expiry_exceeded');
      expect(r.body.maximum).to.equal(90);
      expect(r.body.detail).to.contain('90');
    });

    const malformed: Array<[string, unknown, string]> = [
      ['expiresInDays as a string', { expiresInDays: 'ten' }, '/expiresInDays'],
      ['no expiresInDays', { name: 'x' }, '/expiresInDays'],
      ['expiresInDays of 0', { expiresInDays: 0 }, '/expiresInDays'],
      ['fractional days', { expiresInDays: 1.5 }, '/expiresInDays'],
      ['an unknown field', { expiresInDays: 5, scopes: ['all'] }, '/scopes'],
      ['a name over 100 characters', { expiresInDays: 5, name: 'n'.repeat(101) }, '/name'],
    ];
    for (const [what, body, field] of malformed) {
      it(`refuses ${what} with 400 request.malformed naming ${field}`, async () => {
        const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('alice'), body });
        expect(r.status, JSON.stringify(r.body)).to.equal(400);
        expect(r.body.code).to.equal('request.malformed');
        expect(r.body.field).to.equal(field);
      });
    }

    it('refuses a body that is not JSON with 400 request.malformed', async () => {
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', {
        token: await token('alice'),
        body: '{"expiresInDays": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('request.malformed');
    });

    it('creates several named tokens, each shown once', async () => {
      const alice = await token('alice');
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: alice, body: { name: 'ci', expiresInDays: 30 } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.headers.get('cache-control')).to.equal('no-store');
      expect(r.body.token).to.match(PAT_SHAPE);
      expect(r.body).to.include({ name: 'ci', expiresInDays: 30, status: 'active', lastUsedAt: null });
      expect(new Date(r.body.expiresAt).getTime() - new Date(r.body.createdAt).getTime()).to.equal(30 * DAY);
      expect(r.body.token).to.contain(`kwp_${r.body.id}_`);
      ci = r.body;
      const b = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: alice, body: { name: 'backup', expiresInDays: 60 } });
      expect(b.status).to.equal(201);
      backup = b.body;
      const own = await call(kw.url, 'GET', '/v1/personal-access-tokens', { token: alice });
      expect(own.body.enabled).to.equal(true);
      expect(own.body.maximumExpirationDays).to.equal(90);
      expect(own.body.items.map((t: any) => t.name)).to.deep.equal(['ci', 'backup']);
      expect(JSON.stringify(own.body)).to.not.contain('kwp_');
    });

    it('stores only a SHA-256 hash of the token', async () => {
      const rows = (
        await kw.keyward.db.query('SELECT row_to_json(t)::text AS j, token_hash FROM personal_access_tokens t WHERE id = $1', [ci.id])
      ).rows as Array<{ j: string; token_hash: Buffer }>;
      expect(rows).to.have.length(1);
      const secret = ci.token.split('_')[2]!;
      expect(rows[0]!.j).to.not.contain(secret);
      expect(rows[0]!.token_hash.toString('hex')).to.equal(createHash('sha256').update(ci.token).digest('hex'));
    });

    it("authenticates Bearer kwp_… with the user's current authority", async () => {
      const me = await call(kw.url, 'GET', '/v1/whoami', { token: ci.token });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body).to.include({ credential: 'pat', kind: 'user', realm, username: 'alice', subject: ids.alice, operator: false });
      expect(me.body.roles[realm]).to.include('keyward-requester');
      expect((await call(kw.url, 'GET', `/v1/realms/${realm}/policies`, { token: ci.token })).status).to.equal(200);
      const admin = await call(kw.url, 'GET', `/v1/realms/${realm}/personal-access-tokens`, { token: ci.token });
      expect(admin.status).to.equal(403);
      expect(admin.body.code).to.equal('auth.forbidden');
    });

    it('records lastUsedAt without a write per request', async () => {
      const { value: first } = await until(
        'lastUsedAt',
        async () => (await adminRows()).items.find((t) => t.id === ci.id)?.lastUsedAt ?? undefined,
        5000,
      );
      for (let i = 0; i < 5; i++) expect((await call(kw.url, 'GET', '/v1/whoami', { token: ci.token })).status).to.equal(200);
      await sleep(300);
      expect((await adminRows()).items.find((t) => t.id === ci.id)!.lastUsedAt).to.equal(first);
    });

    it('gives an unknown id, a wrong secret and a malformed token the same answer: 401 pat.invalid', async () => {
      const wrongSecret = ci.token.slice(0, -4) + (ci.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const unknownId = `kwp_0123456789abcdef_${ci.token.split('_')[2]}`;
      const answers = [];
      for (const t of [wrongSecret, unknownId, 'kwp_short']) {
        const r = await call(kw.url, 'GET', '/v1/whoami', { token: t });
        expect(r.status).to.equal(401);
        expect(r.headers.get('www-authenticate')).to.contain('invalid_token');
        const { instance: _i, ...rest } = r.body;
        answers.push(rest);
      }
      expect(answers[0]).to.deep.equal(answers[1]);
      expect(answers[1]).to.deep.equal(answers[2]);
      expect(answers[0].code).to.equal('pat.invalid');
      await until(
        'the use_denied event',
        async () =>
          (await auditActions()).find(
            (e) => e.action === 'personal_access_token.use_denied' && e.target === ci.id && e.details.reason === 'wrong_secret',
          ),
        5000,
      );
      // The unknown id names no realm: its event is stored without one.
      await until(
        'the unknown-token event',
        async () =>
          (
            await kw.keyward.db.query(
              "SELECT 1 FROM audit_events WHERE action = 'personal_access_token.use_denied' AND target = '0123456789abcdef'" +
                " AND realm IS NULL AND details->>'reason' = 'unknown_token'",
            )
          ).rows[0],
        5000,
      );
    });

    it("revokes one's own token, which stops at once; another user's token is 404 pat.not_found", async () => {
      const bobs = await call(kw.url, 'POST', '/v1/personal-access-tokens', {
        token: await token('bob'),
        body: { name: 'bob-ci', expiresInDays: 10 },
      });
      const alice = await token('alice');
      const foreign = await call(kw.url, 'DELETE', `/v1/personal-access-tokens/${bobs.body.id}`, { token: alice });
      expect(foreign.status).to.equal(404);
      expect(foreign.body.code).to.equal('pat.not_found');
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: bobs.body.token })).status).to.equal(200);
      const del = await call(kw.url, 'DELETE', `/v1/personal-access-tokens/${backup.id}`, { token: alice });
      expect(del.status).to.equal(204);
      const used = await call(kw.url, 'GET', '/v1/whoami', { token: backup.token });
      expect(used.status).to.equal(401);
      expect(used.body.code).to.equal('pat.invalid');
      expect((await call(kw.url, 'DELETE', `/v1/personal-access-tokens/${backup.id}`, { token: alice })).body.code).to.equal(
        'pat.not_found',
      );
    });

    let child: { id: string; token: string };
    it('lets a PAT create a PAT only when it does not outlive the PAT that creates it', async () => {
      const tooLong = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: ci.token, body: { expiresInDays: 30 } });
      expect(tooLong.status).to.equal(422);
      expect(tooLong.body.code).to.equal('pat.expiry_exceeded');
      expect(tooLong.body.maximum).to.equal(29);
      expect(tooLong.body.detail).to.contain('may not outlive it');
      const ok = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: ci.token, body: { name: 'child', expiresInDays: 20 } });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      child = ok.body;
      expect(new Date(ok.body.expiresAt).getTime()).to.be.below(new Date(ci.expiresAt).getTime());
      const created = (await auditActions()).find((e) => e.action === 'personal_access_token.created' && e.target === child.id)!;
      expect(created.details.createdWith).to.equal('pat');
      expect(created.actor.kind).to.equal('user:pat');
    });

    it('answers 401 pat.expired once a token has expired (a server whose clock is 31 days ahead)', async () => {
      const clock = frozenClock(new Date(Date.now() + 31 * DAY));
      const later = await startKeyward({ KEYWARD_PAT_SWEEP_SECONDS: '0' }, { clock });
      try {
        for (const t of [ci.token, child.token]) {
          const r = await call(later.url, 'GET', '/v1/whoami', { token: t });
          expect(r.status).to.equal(401);
          expect(r.body.code).to.equal('pat.expired');
        }
      } finally {
        await later.close();
      }
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: ci.token })).status).to.equal(200);
    });

    it('is for users only: an API client gets 403 pat.users_only', async () => {
      const made = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: unique('svc') } });
      const t = await clientToken(realm, made.body.clientId, made.body.secret);
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: t, body: { expiresInDays: 1 } });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('pat.users_only');
    });

    it('is for users with access: a user holding no keyward-* role gets 403 auth.forbidden', async () => {
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('nora'), body: { expiresInDays: 1 } });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('auth.forbidden');
    });
  });

  describe('the admin view and revocation', () => {
    it("shows IBM CSM's columns to keyward-admin and keyward-user-admin, paged and sorted by expiry", async () => {
      const bob = await token('bob');
      await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: bob, body: { name: 'bob-long', expiresInDays: 80 } });
      const page = await adminRows('ulla', '?sort=expiresAt');
      expect(page.total).to.be.at.least(4);
      const expiries = page.items.map((t) => t.expiresAt);
      expect(expiries).to.deep.equal([...expiries].sort());
      for (const row of page.items) {
        expect(row).to.have.all.keys(
          'id',
          'username',
          'name',
          'createdAt',
          'expiresInDays',
          'expiresAt',
          'lastUsedAt',
          'status',
          'exceedsMaximum',
        );
      }
      expect(page.items.map((t) => `${t.username}/${t.name}`)).to.include.members([
        'alice/ci',
        'alice/child',
        'bob/bob-ci',
        'bob/bob-long',
      ]);
      const desc = await adminRows('ada', '?sort=-expiresAt&first=1&max=2');
      expect(desc.items).to.have.length(2);
      expect(desc.items[0].expiresAt).to.equal([...expiries].sort().reverse()[1]);
      const bad = await call(kw.url, 'GET', `/v1/realms/${realm}/personal-access-tokens?sort=name`, { token: await token('ada') });
      expect(bad.status).to.equal(400);
      expect(bad.body.code).to.equal('request.malformed');
    });

    it('keeps existing tokens when the maximum is lowered, and flags those above it', async () => {
      await changePatSettings({ enabled: true, maxExpirationDays: 15 });
      const rows = (await adminRows()).items;
      expect(rows.find((t) => t.name === 'bob-long')).to.include({ expiresInDays: 80, exceedsMaximum: true, status: 'active' });
      expect(rows.find((t) => t.name === 'bob-ci')).to.include({ expiresInDays: 10, exceedsMaximum: false });
      const bobLong = rows.find((t) => t.name === 'bob-long');
      expect(bobLong.expiresAt).to.equal(new Date(new Date(bobLong.createdAt).getTime() + 80 * DAY).toISOString());
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('bob'), body: { expiresInDays: 16 } });
      expect(r.body.maximum).to.equal(15);
    });

    it('refuses every token with 401 pat.disabled_in_use while PATs are disabled, and honours them again when re-enabled', async () => {
      const alicePat = (
        await call(kw.url, 'POST', '/v1/personal-access-tokens', {
          token: await token('alice'),
          body: { name: 'toggle', expiresInDays: 5 },
        })
      ).body;
      await changePatSettings({ enabled: false });
      const r = await call(kw.url, 'GET', '/v1/whoami', { token: alicePat.token });
      expect(r.status).to.equal(401);
      expect(r.body.code).to.equal('pat.disabled_in_use');
      expect(
        (await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('alice'), body: { expiresInDays: 1 } })).body.code,
      ).to.equal('pat.disabled');
      expect((await adminRows()).items.map((t) => t.id)).to.include(alicePat.id);
      await changePatSettings({ enabled: true });
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: alicePat.token })).status).to.equal(200);
      await until(
        'the disabled use_denied event',
        async () => (await auditActions()).find((e) => e.action === 'personal_access_token.use_denied' && e.details.reason === 'disabled'),
        5000,
      );
    });

    it('revokes the tokens of several users at once, and tokens by id', async () => {
      const alice = (await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('alice'), body: { expiresInDays: 5 } }))
        .body;
      const bob = (await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('bob'), body: { expiresInDays: 5 } }))
        .body;
      const ulla = (
        await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('ulla'), body: { name: 'ulla-1', expiresInDays: 5 } })
      ).body;
      const ulla2 = (
        await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: await token('ulla'), body: { name: 'ulla-2', expiresInDays: 5 } })
      ).body;
      for (const t of [alice, bob, ulla]) expect((await call(kw.url, 'GET', '/v1/whoami', { token: t.token })).status).to.equal(200);
      const empty = await call(kw.url, 'POST', `/v1/realms/${realm}/personal-access-tokens/revoke`, {
        token: await token('ada'),
        body: { usernames: [] },
      });
      expect(empty.status).to.equal(400);
      const byUser = await call(kw.url, 'POST', `/v1/realms/${realm}/personal-access-tokens/revoke`, {
        token: await token('ada'),
        body: { usernames: ['alice', 'bob'] },
      });
      expect(byUser.status, JSON.stringify(byUser.body)).to.equal(200);
      expect(byUser.body.revoked).to.be.at.least(4);
      expect(new Set(byUser.body.items.map((t: any) => t.username))).to.deep.equal(new Set(['alice', 'bob']));
      for (const t of [alice, bob]) {
        const r = await call(kw.url, 'GET', '/v1/whoami', { token: t.token });
        expect(r.status).to.equal(401);
        expect(r.body.code).to.equal('pat.invalid');
      }
      expect((await adminRows()).items.filter((t) => t.username === 'alice' || t.username === 'bob')).to.deep.equal([]);
      const byId = await call(kw.url, 'POST', `/v1/realms/${realm}/personal-access-tokens/revoke`, {
        token: await token('ulla'),
        body: { ids: [ulla.id] },
      });
      expect(byId.body.revoked).to.equal(1);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: ulla.token })).status).to.equal(401);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: ulla2.token })).status).to.equal(200);
      const denied = await call(kw.url, 'POST', `/v1/realms/${realm}/personal-access-tokens/revoke`, {
        token: await token('alice'),
        body: { usernames: ['ulla'] },
      });
      expect(denied.status).to.equal(403);
      const revoked = (await auditActions()).filter((e) => e.action === 'personal_access_token.revoked' && e.details.reason === 'admin');
      expect(revoked.map((e) => e.details.owner)).to.include.members(['alice', 'bob', 'ulla']);
    });
  });

  describe('removal with access', () => {
    const makePat = async (u: string) => {
      const r = await call(kw.url, 'POST', '/v1/personal-access-tokens', {
        token: await token(u),
        body: { name: `${u}-pat`, expiresInDays: 10 },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: r.body.token })).status).to.equal(200);
      return r.body as { id: string; token: string };
    };
    const listed = async (u: string) => (await adminRows()).items.some((t) => t.username === u);

    it("stops a deleted user's token at its next use and deletes the user's tokens", async () => {
      const t = await makePat('dave');
      expect((await keycloakAdmin(`/${realm}/users/${ids.dave}`, { method: 'DELETE' })).status).to.equal(204);
      const r = await call(kw.url, 'GET', '/v1/whoami', { token: t.token });
      expect(r.status).to.equal(401);
      expect(r.body.code).to.equal('pat.invalid');
      // (Other servers of a full test run sweep the shared database too; either way the use is refused and the tokens are gone.)
      expect(r.body.detail).to.match(/no longer has access|invalid or revoked/);
      expect(await listed('dave')).to.equal(false);
      const event = (await auditActions()).find((e) => e.action === 'personal_access_token.revoked' && e.details.owner === 'dave')!;
      expect(event.details.reason).to.equal('user_deleted');
    });

    it('stops the token of a user whose only keyward-* role was removed (after the role cache)', async () => {
      const t = await makePat('gina');
      await keycloakAdmin(`/${realm}/users/${ids.gina}/role-mappings/realm`, {
        method: 'DELETE',
        body: JSON.stringify([await role('keyward-requester')]),
      });
      await sleep(1500);
      const r = await call(kw.url, 'GET', '/v1/whoami', { token: t.token });
      expect(r.status).to.equal(401);
      expect(r.body.code).to.equal('pat.invalid');
      expect(await listed('gina')).to.equal(false);
      const event = (await auditActions()).find((e) => e.action === 'personal_access_token.revoked' && e.details.owner === 'gina')!;
      expect(event.details.reason).to.equal('no_keyward_role');
      expect(event.actor.kind).to.equal('system');
    });

    it('removes the tokens of deleted, disabled and role-less users from the admin view within the sweep interval, unused', async () => {
      const [erin, frank, hank] = [await makePat('erin'), await makePat('frank'), await makePat('hank')];
      expect((await keycloakAdmin(`/${realm}/users/${ids.erin}`, { method: 'DELETE' })).status).to.equal(204);
      expect(
        (await keycloakAdmin(`/${realm}/users/${ids.frank}`, { method: 'PUT', body: JSON.stringify({ enabled: false }) })).status,
      ).to.equal(204);
      await keycloakAdmin(`/${realm}/users/${ids.hank}/role-mappings/realm`, {
        method: 'DELETE',
        body: JSON.stringify([await role('keyward-requester')]),
      });
      const sweeper = await startKeyward({ KEYWARD_PAT_SWEEP_SECONDS: '2' });
      try {
        const { ms } = await until(
          'the sweep',
          async () => ((await listed('erin')) || (await listed('frank')) || (await listed('hank')) ? undefined : true),
          10_000,
        );
        expect(ms).to.be.below(6000); // the documented interval (2 s here) plus a sweep's work
      } finally {
        await sweeper.close();
      }
      const reasons = Object.fromEntries(
        (await auditActions())
          .filter((e) => e.action === 'personal_access_token.revoked' && ['erin', 'frank', 'hank'].includes(e.details.owner))
          .map((e) => [e.details.owner, e.details.reason]),
      );
      expect(reasons).to.deep.equal({ erin: 'user_deleted', frank: 'user_disabled', hank: 'no_keyward_role' });
      for (const t of [erin, frank, hank])
        expect((await call(kw.url, 'GET', '/v1/whoami', { token: t.token })).body.code).to.equal('pat.invalid');
    });

    it("follows IBM CSM's group case: losing a direct higher role keeps the token, limited to the group's access", async () => {
      // carol holds keyward-admin directly and is a member of a group that has keyward-requester.
      const g = await keycloakAdmin(`/${realm}/groups`, { method: 'POST', body: JSON.stringify({ name: 'operators' }) });
      expect(g.status).to.equal(201);
      const groupId = g.headers.get('location')!.split('/').pop()!;
      await keycloakAdmin(`/${realm}/groups/${groupId}/role-mappings/realm`, {
        method: 'POST',
        body: JSON.stringify([await role('keyward-requester')]),
      });
      expect((await keycloakAdmin(`/${realm}/users/${ids.carol}/groups/${groupId}`, { method: 'PUT' })).status).to.equal(204);
      const t = await makePat('carol');
      expect((await call(kw.url, 'GET', `/v1/realms/${realm}/personal-access-tokens`, { token: t.token })).status).to.equal(200);

      // An admin removes carol's direct access; the group still has access.
      await keycloakAdmin(`/${realm}/users/${ids.carol}/role-mappings/realm`, {
        method: 'DELETE',
        body: JSON.stringify([await role('keyward-admin')]),
      });
      await sleep(1500);
      const me = await call(kw.url, 'GET', '/v1/whoami', { token: t.token });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body.roles[realm]).to.include('keyward-requester').and.not.include('keyward-admin');
      const admin = await call(kw.url, 'GET', `/v1/realms/${realm}/personal-access-tokens`, { token: t.token });
      expect(admin.status).to.equal(403);
      expect(admin.body.code).to.equal('auth.forbidden');
      expect((await kw.keyward.pats.sweep()).removed).to.equal(0);
      expect(await listed('carol')).to.equal(true);

      // Removing the group's access too ends the token.
      expect((await keycloakAdmin(`/${realm}/users/${ids.carol}/groups/${groupId}`, { method: 'DELETE' })).status).to.equal(204);
      await sleep(1500);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: t.token })).body.code).to.equal('pat.invalid');
      expect(await listed('carol')).to.equal(false);
    });

    it("deletes the tokens of a group's members when the admin deletes the group", async () => {
      const g = await keycloakAdmin(`/${realm}/groups`, { method: 'POST', body: JSON.stringify({ name: 'contractors' }) });
      const groupId = g.headers.get('location')!.split('/').pop()!;
      await keycloakAdmin(`/${realm}/groups/${groupId}/role-mappings/realm`, {
        method: 'POST',
        body: JSON.stringify([await role('keyward-requester')]),
      });
      await keycloakAdmin(`/${realm}/users/${ids.ivan}/groups/${groupId}`, { method: 'PUT' });
      await makePat('ivan');
      expect((await keycloakAdmin(`/${realm}/groups/${groupId}`, { method: 'DELETE' })).status).to.equal(204);
      await kw.keyward.pats.sweep();
      expect(await listed('ivan')).to.equal(false);
      const event = (await auditActions()).find((e) => e.action === 'personal_access_token.revoked' && e.details.owner === 'ivan')!;
      expect(event.details.reason).to.equal('no_keyward_role');
    });
  });

  describe('the command line', () => {
    it('keyward pat create | list | revoke as the user', async () => {
      const alice = await token('alice');
      const created = await cli(['pat', 'create', '--days', '5', '--name', 'from-cli'], alice, kw.url);
      expect(created.code, created.stderr).to.equal(0);
      const pat = created.stdout.trim();
      expect(pat).to.match(PAT_SHAPE);
      expect(created.stderr).to.contain('shown only now');
      const listed = await cli(['pat', 'list'], pat, kw.url); // the PAT itself as KEYWARD_TOKEN
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout).to.contain('from-cli');
      const id = pat.split('_')[1]!;
      const revoked = await cli(['pat', 'revoke', id], alice, kw.url);
      expect(revoked.code, revoked.stderr).to.equal(0);
      const after = await cli(['pat', 'list'], pat, kw.url);
      expect(after.code).to.equal(1);
      expect(after.stderr).to.contain('pat.invalid');
      const tooLong = await cli(['pat', 'create', '--days', '400'], alice, kw.url);
      expect(tooLong.code).to.equal(1);
      expect(tooLong.stderr).to.contain('pat.expiry_exceeded');
    });

    it('keyward settings pat, approvals list | approve | reject, and the admin pat list | revoke', async () => {
      const ada = await token('ada');
      const ulla = await token('ulla');
      const shown = await cli(['settings', 'pat', '--realm', realm], ada, kw.url);
      expect(shown.stdout).to.contain('enabled, maximum expiry 15 days');
      const proposed = await cli(['settings', 'pat', '--realm', realm, '--max-days', '45'], ada, kw.url);
      expect(proposed.code, proposed.stderr).to.equal(0);
      const id = /approval ([0-9a-f-]{36})/.exec(proposed.stdout)![1]!;
      const list = await cli(['approvals', 'list', '--realm', realm, '--status', 'pending'], ulla, kw.url);
      expect(list.stdout).to.contain(id).and.to.contain('"maxExpirationDays":45');
      const self = await cli(['approvals', 'approve', id, '--realm', realm], ada, kw.url);
      expect(self.code).to.equal(1);
      expect(self.stderr).to.contain('approval.self_approval');
      const ok = await cli(['approvals', 'approve', id, '--realm', realm], ulla, kw.url);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.contain('approved');
      expect((await cli(['settings', 'pat', '--realm', realm, '--json'], ada, kw.url)).stdout).to.contain('"maxExpirationDays": 45');
      const p2 = await cli(['settings', 'pat', '--realm', realm, '--disable'], ulla, kw.url);
      const id2 = /approval ([0-9a-f-]{36})/.exec(p2.stdout)![1]!;
      const rejected = await cli(['approvals', 'reject', id2, '--realm', realm, '--reason', 'not now'], ada, kw.url);
      expect(rejected.code, rejected.stderr).to.equal(0);
      expect(rejected.stdout).to.contain('rejected');

      await cli(['pat', 'create', '--days', '3', '--name', 'bob-cli'], await token('bob'), kw.url);
      const rows = await cli(['pat', 'list', '--realm', realm, '--sort=-expiresAt'], ulla, kw.url);
      expect(rows.code, rows.stderr).to.equal(0);
      expect(rows.stdout).to.match(/bob\s+[0-9a-f]{16}\s+bob-cli/);
      const gone = await cli(['pat', 'revoke', '--realm', realm, '--user', 'bob'], ulla, kw.url);
      expect(gone.stdout).to.contain('revoked 1 token(s)');
    });
  });

  describe('turning dual control off', () => {
    it('needs a second keyward-admin: keyward-user-admin cannot approve it', async () => {
      const path = `/v1/realms/${realm}/settings/dual-control`;
      const p = await call(kw.url, 'PUT', path, { token: await token('ada'), body: { enabled: false } });
      expect(p.status).to.equal(202);
      const byUserAdmin = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${p.body.approvalId}/approve`, {
        token: await token('ulla'),
      });
      expect(byUserAdmin.status).to.equal(403);
      expect(byUserAdmin.body.code).to.equal('auth.forbidden');
      expect((await call(kw.url, 'GET', path, { token: await token('ada') })).body).to.deep.equal({
        enabled: true,
        pendingApprovalId: p.body.approvalId,
      });
      const ok = await call(kw.url, 'POST', `/v1/realms/${realm}/approvals/${p.body.approvalId}/approve`, { token: await token('abe') });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect((await call(kw.url, 'GET', path, { token: await token('ada') })).body).to.deep.equal({ enabled: false });
      const direct = await call(kw.url, 'PUT', settingsPath, {
        token: await token('ulla'),
        body: { enabled: true, maxExpirationDays: 366 },
      });
      expect(direct.status).to.equal(200);
      expect(direct.body).to.deep.equal({ enabled: true, maxExpirationDays: 366 });
    });
  });
});
