/**
 * Scenario 25 — certificates' lifecycle leaves the control plane: webhooks
 * signed per Standard Webhooks carrying CloudEvents, sent from a transactional
 * outbox by the leader replica (a rolled-back issuance sends nothing; a
 * receiver that is down gets everything once it is back), expiry metrics that
 * match the store, and the inventory exported as CSV and JSON Lines.
 *
 * The receiver is an HTTP server of the test on loopback; signatures are
 * checked here with node:crypto alone, from the specification's recipe.
 */
import { expect } from 'chai';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { call, clientToken, integrationEnv, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { csr, work, write } from '../support/openssl.ts';
import { keyward } from '../support/cli.ts';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly event: { id: string; type: string; subject?: string; data: Record<string, unknown>; specversion: string; source: string };
}

/** A webhook receiver on loopback: records what it gets, answers `status`. */
async function receiver(
  port = 0,
  status = 204,
): Promise<{ url: string; port: number; got: Received[]; server: Server; close: () => Promise<void> }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      got.push({ headers: req.headers, body, event: JSON.parse(body) });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}/hook`, port: p, got, server, close: () => new Promise((r) => server.close(() => r())) };
}

/** The Standard Webhooks check, written from the specification: HMAC-SHA256 of "id.timestamp.body" under the secret's bytes. */
function validSignature(secret: string, r: Received): boolean {
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${r.body}`).digest();
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((s) => {
      const [version, sig] = s.split(',');
      const b = Buffer.from(sig ?? '', 'base64');
      return version === 'v1' && b.length === expected.length && timingSafeEqual(b, expected);
    });
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, seconds = 30): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const DAY = 86_400_000;

describe('25 lifecycle webhooks, expiry metrics and inventory export', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('hooks');
  const domain = `${realm}.internal`;
  /** The sweep's clock: moved forward to bring certificates nearer to their expiry. */
  let offset = 0;
  let kw: RunningKeyward;
  let op: string;
  let token: string;
  let db: pg.Client;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let secret: string;

  const issue = async (cn: string, validityDays = 30) => {
    const { pem } = await csr(dir, { subject: `/CN=${cn}.${domain}`, sans: [`DNS:${cn}.${domain}`] });
    return call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token, body: { csr: pem, policy: 'web', validityDays } });
  };
  const issued = async (cn: string, validityDays = 30): Promise<string> => {
    const r = await issue(cn, validityDays);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body.serialNumber;
  };
  const putHook = (name: string, body: Record<string, unknown>) =>
    call(kw.url, 'PUT', `/v1/realms/${realm}/webhooks/${name}`, { token: op, body });

  before(async () => {
    const ie = await integrationEnv();
    kw = await startKeyward(
      {
        KEYWARD_WEBHOOK_POLL_SECONDS: '0.2',
        KEYWARD_WEBHOOK_RETRY_BASE_SECONDS: '0.3',
        KEYWARD_WEBHOOK_RETRY_MAX_SECONDS: '1',
        KEYWARD_WEBHOOK_MAX_ATTEMPTS: '100',
        KEYWARD_WEBHOOK_TIMEOUT_MS: '2000',
        KEYWARD_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128',
        KEYWARD_EXPIRY_SWEEP_SECONDS: '1',
        KEYWARD_LEADER_LEASE_SECONDS: '3',
      },
      { clock: { now: () => new Date(Date.now() + offset) } },
    );
    db = new pg.Client({ connectionString: ie.databaseUrl });
    await db.connect();
    op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    const policy = {
      keyTypes: ['EC-P256'],
      maxValidityDays: 60,
      subject: { required: ['CN'], allowed: ['CN'] },
      san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['serverAuth'],
      approval: 'none',
    };
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/web`, { token: op, body: policy })).status).to.equal(201);
    const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId: `${realm}-svc`, roles: ['keyward-requester'], defaultPolicy: { realm, name: 'web' } },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    token = await clientToken(realm, `${realm}-svc`, created.body.secret);
    hook = await receiver();
  });

  after(async () => {
    await hook?.close();
    await db?.end();
  });

  it('creates a webhook with a generated whsec_ secret shown once, and never shows it again', async () => {
    const r = await putHook('audit', { url: hook.url, events: ['certificate.issued', 'certificate.revoked'] });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.secret).to.match(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(r.body.secret.slice(6), 'base64')).to.have.length(32);
    secret = r.body.secret;
    // certificate.expiring goes to the same receiver from the start: the sweep runs every second.
    expect((await putHook('expiry', { url: hook.url, events: ['certificate.expiring'] })).status).to.equal(201);
    const got = await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/audit`, { token: op });
    expect(got.status).to.equal(200);
    expect(got.body).to.include({ name: 'audit', url: hook.url });
    expect(got.body).to.not.have.property('secret');
    const list = await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks`, { token: op });
    expect(list.body.items.map((w: { name: string }) => w.name)).to.deep.equal(['audit', 'expiry']);
    const stored = (await db.query('SELECT secret::text AS s FROM webhooks WHERE realm = $1', [realm])).rows[0].s as string;
    expect(stored).to.not.include(secret.slice(6, 20));
  });

  it('refuses a destination outside KEYWARD_WEBHOOK_ALLOWED_NETWORKS with webhook.destination_not_allowed', async () => {
    for (const url of ['http://192.0.2.10/hook', 'http://169.254.169.254/latest', 'http://[fe80::1]/x']) {
      const r = await putHook('outside', { url, events: ['certificate.issued'] });
      expect(r.status, url).to.equal(422);
      expect(r.body.code).to.equal('webhook.destination_not_allowed');
    }
    expect((await putHook('bad', { url: 'ftp://127.0.0.1/x', events: ['certificate.issued'] })).body.code).to.equal('webhook.url_invalid');
    expect((await putHook('bad', { url: hook.url, events: ['certificate.exploded'] })).body.code).to.equal('webhook.unknown_event');
    expect((await putHook('bad', { url: hook.url, events: ['certificate.issued'], secret: 'whsec_c2hvcnQ=' })).body.code).to.equal(
      'webhook.secret_invalid',
    );
    expect(
      (await db.query("SELECT count(*)::int AS n FROM webhooks WHERE realm = $1 AND name NOT IN ('audit', 'expiry')", [realm])).rows[0].n,
    ).to.equal(0);
  });

  let serial: string;

  it('sends certificate.issued and certificate.revoked as CloudEvents with valid Standard Webhooks signatures', async () => {
    serial = await issued('first');
    const first = await until('certificate.issued', async () =>
      hook.got.find((g) => g.event.subject === serial && g.event.type === 'io.keyward.certificate.issued'),
    );
    // A 30-day certificate is inside the 30-day threshold at once: its certificate.expiring may arrive first, on its own webhook.
    expect(first.headers['content-type']).to.equal('application/cloudevents+json');
    expect(first.event).to.include({
      specversion: '1.0',
      type: 'io.keyward.certificate.issued',
      subject: serial,
      datacontenttype: 'application/json',
    });
    expect(first.event.source).to.match(new RegExp(`/v1/realms/${realm}$`));
    expect(first.event.data).to.include({ serialNumber: serial, policy: 'web', subject: `CN=first.${domain}` });
    expect(validSignature(secret, first)).to.equal(true);
    expect(validSignature(`whsec_${randomBytes(32).toString('base64')}`, first)).to.equal(false);
    const revoked = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${serial}/revoke`, {
      token,
      body: { reason: 'superseded' },
    });
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
    const r = await until('certificate.revoked', async () => hook.got.find((g) => g.event.type === 'io.keyward.certificate.revoked'));
    expect(r.event.subject).to.equal(serial);
    expect(r.event.data).to.include({ serialNumber: serial, reason: 'superseded' });
    expect(validSignature(secret, r)).to.equal(true);
    expect(r.headers['webhook-id']).to.not.equal(first.headers['webhook-id']);
  });

  it('sends certificate.held and certificate.released for a hold (RFC 5280 certificateHold) and its release', async () => {
    expect((await putHook('holds', { url: hook.url, events: ['certificate.held', 'certificate.released'] })).status).to.equal(201);
    const held = await issued('held');
    const hold = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${held}/revoke`, {
      token,
      body: { reason: 'certificateHold' },
    });
    expect(hold.status, JSON.stringify(hold.body)).to.equal(200);
    const h = await until('certificate.held', async () =>
      hook.got.find((g) => g.event.type === 'io.keyward.certificate.held' && g.event.subject === held),
    );
    expect(h.event.data).to.include({ serialNumber: held, reason: 'certificateHold', policy: 'web' });
    const release = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${held}/release`, { token, body: {} });
    expect(release.status, JSON.stringify(release.body)).to.equal(200);
    const r = await until('certificate.released', async () =>
      hook.got.find((g) => g.event.type === 'io.keyward.certificate.released' && g.event.subject === held),
    );
    expect(r.event.data).to.include({ serialNumber: held, policy: 'web' });
    // A release of a certificate that is not held changes nothing and sends nothing.
    const again = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${held}/release`, { token, body: {} });
    expect(again.status).to.equal(409);
    expect(again.body.code).to.equal('certificate.not_held');
    const sent = (
      await db.query("SELECT count(*)::int AS n FROM event_outbox WHERE realm = $1 AND subject = $2 AND type = 'certificate.released'", [
        realm,
        held,
      ])
    ).rows[0].n;
    expect(sent).to.equal(1);
    expect((await call(kw.url, 'DELETE', `/v1/realms/${realm}/webhooks/holds`, { token: op })).status).to.be.oneOf([200, 204]);
  });

  it('delivers all three issuances made while the receiver was down once it is up, the same webhook-id on every attempt', async () => {
    const down = await receiver();
    const port = down.port;
    await down.close(); // nothing listens there now
    const r = await putHook('later', { url: `http://127.0.0.1:${port}/later`, events: ['certificate.issued'] });
    expect(r.status).to.equal(201);
    const laterSecret = r.body.secret as string;
    const serials = [await issued('down-1'), await issued('down-2'), await issued('down-3')];
    // Each has failed at least twice before the receiver comes up.
    await until('failed attempts', async () => {
      const log = await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/later/deliveries`, { token: op });
      return log.body.items.length === 3 && log.body.items.every((d: { attempts: number }) => d.attempts >= 2) && log.body.items;
    });
    const log = (await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/later/deliveries`, { token: op })).body.items;
    for (const d of log) {
      expect(d.status).to.equal('pending');
      expect(d.lastError).to.match(/ECONNREFUSED/);
      expect(new Date(d.nextAttemptAt).getTime()).to.be.greaterThan(0);
    }
    const up = await receiver(port);
    try {
      await until('three deliveries', async () => new Set(up.got.map((g) => g.event.subject)).size === 3);
      expect(new Set(up.got.map((g) => g.event.subject))).to.deep.equal(new Set(serials));
      for (const g of up.got) expect(validSignature(laterSecret, g)).to.equal(true);
      // The attempt is logged once the receiver has answered.
      const after = await until('three deliveries logged', async () => {
        const items = (await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/later/deliveries`, { token: op })).body.items;
        return items.every((d: { status: string }) => d.status === 'delivered') && items;
      });
      for (const d of after) {
        expect(d.status).to.equal('delivered');
        expect(d.lastStatusCode).to.equal(204);
        const sent = up.got.find((g) => g.event.id === d.eventId)!;
        expect(sent.headers['webhook-id'], 'the webhook-id is the delivery id, the same on every attempt').to.equal(d.id);
        const one = (await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/later/deliveries/${d.id}`, { token: op })).body;
        expect(one.attemptLog.length).to.equal(one.attempts);
        expect(one.attemptLog.at(-1).statusCode).to.equal(204);
        expect(one.attemptLog[0].error).to.match(/ECONNREFUSED/);
      }
    } finally {
      await up.close();
    }
    expect((await call(kw.url, 'DELETE', `/v1/realms/${realm}/webhooks/later`, { token: op })).status).to.equal(204);
  });

  it('sends nothing for an issuance rolled back after its outbox row was written, and leaves no event row', async () => {
    // A deferred constraint trigger fails the commit of any transaction that wrote this CN's event: the outbox row was
    // inserted, in the same statement as the certificate, and both roll back.
    await db.query(`CREATE FUNCTION test_refuse_rollback_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.data->>'subject' LIKE 'CN=rollback.%' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NULL; END $$`);
    await db.query(`CREATE CONSTRAINT TRIGGER test_refuse_rollback AFTER INSERT ON event_outbox DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION test_refuse_rollback_event()`);
    try {
      const before = hook.got.length;
      const r = await issue('rollback');
      expect(r.status, JSON.stringify(r.body)).to.equal(500);
      expect(r.body.code).to.equal('server.error');
      const ok = await issued('after-rollback');
      await until('the next issuance delivered', async () => hook.got.find((g) => g.event.subject === ok));
      expect(hook.got.slice(before).filter((g) => String(g.event.data.subject).startsWith('CN=rollback.'))).to.deep.equal([]);
      const rows = await db.query(
        "SELECT (SELECT count(*)::int FROM event_outbox WHERE realm = $1 AND data->>'subject' LIKE 'CN=rollback.%') AS events, " +
          "(SELECT count(*)::int FROM certificates WHERE realm = $1 AND subject LIKE 'CN=rollback.%') AS certificates, " +
          "(SELECT count(*)::int FROM audit_events WHERE realm = $1 AND details->>'subject' LIKE 'CN=rollback.%') AS audit",
        [realm],
      );
      expect(rows.rows[0]).to.deep.equal({ events: 0, certificates: 0, audit: 0 });
    } finally {
      await db.query('DROP TRIGGER test_refuse_rollback ON event_outbox');
      await db.query('DROP FUNCTION test_refuse_rollback_event()');
    }
  });

  it('lists deliveries and redelivers one with the same webhook-id and body', async () => {
    const log = await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/audit/deliveries`, { token: op });
    expect(log.status).to.equal(200);
    const revokedDelivery = log.body.items.find((d: { eventType: string }) => d.eventType === 'certificate.revoked');
    expect(revokedDelivery).to.include({ status: 'delivered', attempts: 1, lastStatusCode: 204 });
    const original = hook.got.find((g) => g.headers['webhook-id'] === revokedDelivery.id)!;
    const count = hook.got.filter((g) => g.headers['webhook-id'] === revokedDelivery.id).length;
    const r = await call(kw.url, 'POST', `/v1/realms/${realm}/webhooks/audit/deliveries/${revokedDelivery.id}/redeliver`, { token: op });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    const again = await until('the redelivery', async () => {
      const same = hook.got.filter((g) => g.headers['webhook-id'] === revokedDelivery.id);
      return same.length > count && same.at(-1);
    });
    expect(again.body).to.equal(original.body);
    expect(validSignature(secret, again)).to.equal(true);
    const one = await until('the second attempt logged', async () => {
      const d = (await call(kw.url, 'GET', `/v1/realms/${realm}/webhooks/audit/deliveries/${revokedDelivery.id}`, { token: op })).body;
      return d.attempts === 2 && d;
    });
    expect(one.status).to.equal('delivered');
    const missing = await call(kw.url, 'POST', `/v1/realms/${realm}/webhooks/audit/deliveries/${randomUUIDLike()}/redeliver`, {
      token: op,
    });
    expect(missing.status).to.equal(404);
    expect(missing.body.code).to.equal('webhook.delivery_not_found');
  });

  it('reports certificates by status, expiring within 7 and 30 days and the earliest expiry, matching the store', async () => {
    await issued('soon', 5);
    await issued('month', 20);
    const search = async (query: string) =>
      (await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=500&${query}`, { token: op })).body.items as {
        serialNumber: string;
        notAfter: string;
      }[];
    const valid = (await search('status=valid')).length;
    const revoked = (await search('status=revoked')).length;
    const within7 = (await search('expiringWithin=7')).length;
    const within30 = await search('expiringWithin=P30D&sort=notAfter');
    expect(within7).to.equal(1);
    const earliest = Math.floor(new Date(within30[0]!.notAfter).getTime() / 1000);
    const sample = (text: string, name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const at = `policy="web",realm="${realm}"`;
    await until('metrics matching the store (cached at most 5 s)', async () => {
      const m = (await call(kw.url, 'GET', '/metrics')).body as string;
      const figures = [
        sample(m, 'keyward_certificates', `${at},status="valid"`),
        sample(m, 'keyward_certificates', `${at},status="revoked"`),
        sample(m, 'keyward_certificates', `${at},status="expired"`),
        sample(m, 'keyward_certificates_expiring', `${at},within="7d"`),
        sample(m, 'keyward_certificates_expiring', `${at},within="30d"`),
        sample(m, 'keyward_certificate_earliest_expiry_timestamp_seconds', at),
      ];
      return JSON.stringify(figures) === JSON.stringify([valid, revoked, 0, within7, within30.length, earliest]);
    });
    // The counts the metrics read equal a count of the table.
    const counted = await db.query(`SELECT status, count(*)::int AS n FROM certificates WHERE realm = $1 GROUP BY status ORDER BY status`, [
      realm,
    ]);
    expect(counted.rows).to.deep.equal([
      { status: 'revoked', n: revoked },
      { status: 'valid', n: valid },
    ]);
  });

  it('pages sort=notAfter with after= in expiry order, every certificate once', async () => {
    const all = (await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=500&sort=notAfter`, { token: op })).body.items as {
      serialNumber: string;
      notAfter: string;
    }[];
    expect(all.length).to.be.greaterThan(4);
    const times = all.map((c) => new Date(c.notAfter).getTime());
    expect([...times].sort((a, b) => a - b)).to.deep.equal(times);
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (
        await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=2&sort=notAfter${after ? `&after=${after}` : ''}`, { token: op })
      ).body.items as { serialNumber: string }[];
      if (!page.length) break;
      paged.push(...page.map((c) => c.serialNumber));
      after = page.at(-1)!.serialNumber;
    }
    expect(paged).to.deep.equal(all.map((c) => c.serialNumber));
  });

  it('exports the inventory as CSV and JSON Lines, the same certificates as the search', async () => {
    const json = (await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=500`, { token: op })).body.items as {
      serialNumber: string;
      status: string;
      notAfter: string;
    }[];
    const csvRes = await fetch(`${kw.url}/v1/realms/${realm}/certificates`, {
      headers: { authorization: `Bearer ${op}`, accept: 'text/csv' },
    });
    expect(csvRes.status).to.equal(200);
    expect(csvRes.headers.get('content-type')).to.match(/^text\/csv/);
    const lines = (await csvRes.text()).trimEnd().split('\r\n');
    expect(lines[0]).to.match(/^serialNumber,subject,sans,policy,status,notBefore,notAfter,/);
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.map((r) => r[0])).to.deep.equal(json.map((c) => c.serialNumber));
    expect(rows.map((r) => r[4])).to.deep.equal(json.map((c) => c.status));
    expect(rows.map((r) => r[6])).to.deep.equal(json.map((c) => new Date(c.notAfter).toISOString()));
    const nd = await fetch(`${kw.url}/v1/realms/${realm}/certificates?status=revoked`, {
      headers: { authorization: `Bearer ${op}`, accept: 'application/x-ndjson' },
    });
    expect(nd.headers.get('content-type')).to.match(/^application\/x-ndjson/);
    const objects = (await nd.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objects.map((o) => o.serialNumber)).to.deep.equal([serial]);
    expect(objects[0]).to.include({ status: 'revoked', revocationReason: 'superseded', policy: 'web', subject: `CN=first.${domain}` });
    expect(objects[0].sans).to.deep.equal([`dns:first.${domain}`]);
  });

  it('does the same from the command line: keyward webhooks and keyward certificate list --expiring-within / --format', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: dir, KEYWARD_URL: kw.url, KEYWARD_TOKEN: op };
    const cli = async (...args: string[]) => {
      const r = await keyward(args, env);
      expect(r.status, `keyward ${args.join(' ')}\n${r.stderr}${r.stdout}`).to.equal(0);
      return r.stdout;
    };
    const given = `whsec_${randomBytes(24).toString('base64')}`;
    const secretFile = write(dir, 'cli.secret', `${given}\n`);
    const put = await cli(
      'webhooks',
      'put',
      'cli',
      '--realm',
      realm,
      '--url',
      hook.url,
      '--event',
      'certificate.issued',
      '--secret-file',
      secretFile,
    );
    expect(put).to.equal(`cli  ${hook.url}  certificate.issued\n`); // a given secret is not printed back
    const generated = await cli('webhooks', 'put', 'cli2', '--realm', realm, '--url', hook.url, '--event', 'certificate.revoked');
    expect(generated).to.match(/^secret: whsec_[A-Za-z0-9+/]+=*  \(shown once/m);
    expect(await cli('webhooks', 'list', '--realm', realm)).to.include(`cli  ${hook.url}  certificate.issued\n`);
    expect(JSON.parse(await cli('webhooks', 'get', 'cli', '--realm', realm, '--json'))).to.include({ name: 'cli', url: hook.url });
    const s = await issued('cli');
    const got = await until('the CLI webhook delivery', async () =>
      hook.got.find((g) => g.event.subject === s && validSignature(given, g)),
    );
    const deliveries = await until('the delivery listed', async () => {
      const out = await cli('webhooks', 'deliveries', 'cli', '--realm', realm);
      return out.includes('delivered') && out;
    });
    expect(deliveries).to.match(new RegExp(`^${got.headers['webhook-id']}  delivered +certificate.issued +attempts 1  last HTTP 204`, 'm'));
    const again = await cli('webhooks', 'redeliver', 'cli', String(got.headers['webhook-id']), '--realm', realm);
    expect(again).to.match(/^\S+  pending/);
    await until(
      'the CLI redelivery',
      async () => hook.got.filter((g) => g.headers['webhook-id'] === got.headers['webhook-id']).length === 2,
    );
    expect(await cli('webhooks', 'delete', 'cli2', '--realm', realm)).to.equal('deleted webhook cli2\n');
    const gone = await keyward(['webhooks', 'get', 'cli2', '--realm', realm], env);
    expect(gone.status).to.equal(1);
    expect(gone.stderr).to.include('[webhook.not_found]');

    const soonest = (await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?expiringWithin=30&sort=notAfter&max=500`, { token: op }))
      .body.items as { serialNumber: string }[];
    const table = await cli('certificate', 'list', '--realm', realm, '--expiring-within', '30d', '--sort', 'notAfter', '--max', '500');
    expect(
      table
        .split('\n')
        .slice(1, -1)
        .map((l) => l.split(' ')[0]),
    ).to.deep.equal(soonest.map((c) => c.serialNumber));
    const csvOut = await cli('certificate', 'list', '--realm', realm, '--format', 'csv', '--expiring-within', 'P30D', '--sort', 'notAfter');
    expect(csvOut.split('\r\n')[0]).to.match(/^serialNumber,subject,sans,policy,status,/);
    expect(
      csvOut
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(',')[0]),
    ).to.deep.equal(soonest.map((c) => c.serialNumber));
    const nd = await cli('certificate', 'list', '--realm', realm, '--format', 'ndjson', '--status', 'revoked');
    expect(
      nd
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).serialNumber),
    ).to.deep.equal([serial]);
  });

  it('sends certificate.expiring once per certificate and threshold, as the sweep finds them', async () => {
    const expiring = (subject: string) =>
      hook.got.filter((g) => g.event.type === 'io.keyward.certificate.expiring' && g.event.subject === subject);
    const month = (await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?subject=month.`, { token: op })).body.items[0].serialNumber;
    const soon = (await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?subject=soon.`, { token: op })).body.items[0].serialNumber;
    await until('expiring events', async () => expiring(month).length === 1 && expiring(soon).length === 1);
    expect(expiring(month)[0]!.event.data).to.include({ thresholdDays: 30, serialNumber: month });
    // A certificate already within 7 days is told once, for the 7-day threshold (its 30-day notice is recorded too).
    expect(expiring(soon)[0]!.event.data).to.include({ thresholdDays: 7 });
    // Fourteen days on, the 20-day certificate enters the 7-day threshold: one more event, then none.
    offset = 14 * DAY;
    await until('the 7-day event', async () => expiring(month).length === 2);
    expect(expiring(month)[1]!.event.data).to.include({ thresholdDays: 7 });
    await new Promise((res) => setTimeout(res, 3000)); // three more sweeps
    expect(expiring(month)).to.have.length(2);
    expect(expiring(soon)).to.have.length(1);
    const notices = await db.query('SELECT serial, threshold_days FROM certificate_expiry_notices WHERE serial = ANY($1) ORDER BY 1, 2', [
      [month, soon],
    ]);
    expect(notices.rows).to.have.deep.members([
      { serial: month, threshold_days: 7 },
      { serial: month, threshold_days: 30 },
      { serial: soon, threshold_days: 7 },
      { serial: soon, threshold_days: 30 },
    ]);
    offset = 0;
  });
});

function randomUUIDLike(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
