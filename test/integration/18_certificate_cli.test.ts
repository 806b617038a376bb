/**
 * Scenario 18 — certificates from the command line, as an operator of a
 * machine uses them (after smallstep's `step ca certificate` and `step ca
 * renew --daemon`): `keyward certificate request` makes the key locally and
 * writes three files, openssl verifies them, list/get/inspect/revoke work
 * against the real server, and `certificate renew --daemon` keeps a two-minute
 * certificate alive with no credential but the certificate — until the API
 * client that requested it is deleted in Keycloak.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { BIN, keyward } from '../support/cli.ts';
import {
  call,
  clientToken,
  integrationEnv,
  keycloakAdmin,
  operatorToken,
  startKeyward,
  unique,
  type RunningKeyward,
} from '../support/env.ts';
import { run } from '../support/curl.ts';
import { csr, must, openssl, work, write } from '../support/openssl.ts';

const policy = (domain: string, validity: Record<string, unknown>) => ({
  keyTypes: ['EC-P256', 'EC-P384', 'RSA-2048'],
  ...validity,
  subject: { required: ['CN'], allowed: ['CN', 'O'] },
  san: { dns: [`*.${domain}`], ip: ['10.0.0.0/8'], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
});

/** The certificates of a PEM bundle. */
const blocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

describe('18 certificates from the command line', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('cli');
  const domain = `${realm}.internal`;
  const clientId = `${realm}-deployer`;
  let kw: RunningKeyward;
  let op: string;
  let env: NodeJS.ProcessEnv;
  /** Only PATH and HOME: what a machine with no Keyward credentials has. */
  let bare: NodeJS.ProcessEnv;
  let root: string;
  let secret: string;

  before(async () => {
    const ie = await integrationEnv();
    for (const args of [
      ['initialize', 'cli-cluster'],
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
    op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    for (const [name, validity] of [
      ['web', { maxValidityDays: 30 }],
      ['short', { maxValidity: 'PT2M' }],
      ['reviewed', { maxValidity: 'PT1H', approval: 'required' }],
    ] as const) {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/${name}`, {
        token: op,
        body: { ...policy(domain, {}), ...validity },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
    const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId, roles: ['keyward-requester'], defaultPolicy: { realm, name: 'web' } },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    secret = created.body.secret;
    const home = mkdtempSync(join(tmpdir(), 'keyward-cli-home-'));
    bare = { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
    env = {
      ...bare,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: ie.keycloakUrl,
      KEYWARD_CLIENT_REALM: realm,
      KEYWARD_CLIENT_ID: clientId,
      KEYWARD_CLIENT_SECRET: created.body.secret,
    };
    const chain = (await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } })).body.chain;
    root = write(dir, 'root.pem', chain.at(-1));
  });

  const ok = async (args: string[], e = env) => {
    const r = await keyward(['certificate', ...args], e);
    expect(r.status, `keyward certificate ${args.join(' ')}\n${r.stderr}${r.stdout}`).to.equal(0);
    return r;
  };
  const verify = (file: string, chain: string) => must(['verify', '-CAfile', root, '-untrusted', chain, file]);

  let serial: string;

  it('request: makes the key here, writes <name>.crt, <name>.chain.pem and <name>.key (0600), with client credentials only', async () => {
    const out = join(dir, 'web');
    const r = await ok(['request', 'web', '--realm', realm, '--san', `DNS:web.${domain}`, '--san', 'IP:10.1.2.3', '--out', out]);
    expect(r.stdout).to.match(/^issued [0-9a-f]+ {2}CN=web\./);
    for (const f of ['web.crt', 'web.chain.pem', 'web.key']) expect(existsSync(join(out, f)), f).to.equal(true);
    expect(statSync(join(out, 'web.key')).mode & 0o777).to.equal(0o600);
    expect(blocks(readFileSync(join(out, 'web.crt'), 'utf8'))).to.have.length(1);
    expect(blocks(readFileSync(join(out, 'web.chain.pem'), 'utf8'))).to.have.length(3);
    expect((await verify(join(out, 'web.crt'), join(out, 'web.chain.pem'))).trim()).to.match(/: OK$/);
    const text = await must(['x509', '-in', join(out, 'web.crt'), '-noout', '-subject', '-ext', 'subjectAltName', '-serial']);
    expect(text).to.include(`CN = web.${domain}`).and.include(`DNS:web.${domain}`).and.include('IP Address:10.1.2.3');
    serial = /serial=([0-9A-F]+)/.exec(text)![1]!.toLowerCase().replace(/^0+/, '');
  });

  it('certifies the local key, and Keyward stores no private key', async () => {
    const out = join(dir, 'web');
    const fromKey = await must(['pkey', '-in', join(out, 'web.key'), '-pubout']);
    const fromCert = await must(['x509', '-in', join(out, 'web.crt'), '-noout', '-pubkey']);
    expect(fromCert).to.equal(fromKey);
    const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
    await db.connect();
    try {
      const rows = (await db.query('SELECT * FROM certificates WHERE realm = $1 AND serial = $2', [realm, serial])).rows;
      expect(rows).to.have.length(1);
      const stored = JSON.stringify(rows[0]) + Buffer.from(rows[0].der).toString('latin1');
      expect(stored).to.not.match(/PRIVATE KEY/);
      const keyBody = readFileSync(join(out, 'web.key'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
      expect(stored).to.not.include(keyBody.slice(40, 100));
    } finally {
      await db.end();
    }
  });

  it('asks for a validity in minutes (PT2M) under a short-lived policy; refuses under PT1M and over the policy maximum', async () => {
    const r = await ok([
      'request',
      'two',
      '--realm',
      realm,
      '--policy',
      `${realm}/short`,
      '--san',
      `DNS:two.${domain}`,
      '--validity',
      'PT2M',
      '--out',
      dir,
      '--json',
    ]);
    const view = JSON.parse(r.stdout);
    expect(new Date(view.notAfter).getTime() - new Date(view.notBefore).getTime()).to.equal(120_000);
    const short = await keyward(
      [
        'certificate',
        'request',
        'tiny',
        '--realm',
        realm,
        '--policy',
        'short',
        '--san',
        `DNS:tiny.${domain}`,
        '--validity',
        'PT30S',
        '--out',
        dir,
      ],
      env,
    );
    expect(short.status).to.equal(1);
    expect(short.stderr).to.match(/shorter than one minute.*\[validity\.too_short\]/);
    const long = await keyward(
      [
        'certificate',
        'request',
        'long',
        '--realm',
        realm,
        '--policy',
        'short',
        '--san',
        `DNS:long.${domain}`,
        '--validity',
        'PT3M',
        '--out',
        dir,
      ],
      env,
    );
    expect(long.status).to.equal(1);
    expect(long.stderr).to.include('[policy.validity_exceeded]');
    const csrPem = (await csr(work(), { subject: `/CN=both.${domain}`, sans: [`DNS:both.${domain}`] })).pem;
    const api = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token: await clientToken(realm, clientId, secret),
      body: { csr: csrPem, policy: 'short', validity: 'PT1H', validityDays: 1 },
    });
    expect(api.status).to.equal(422);
    expect(api.body.code).to.equal('validity.conflict');
  });

  it('list, get and inspect show the certificate; inspect asks the OCSP responder (good)', async () => {
    const listed = JSON.parse((await ok(['list', '--realm', realm, '--san', `DNS:web.${domain}`, '--json'])).stdout);
    expect(listed.map((c: { serialNumber: string }) => c.serialNumber)).to.include(serial);
    const table = (await ok(['list', '--realm', realm, '--status', 'valid'])).stdout;
    expect(table.split('\n')[0]).to.match(/^SERIAL\s+STATUS\s+NOT AFTER\s+POLICY\s+SUBJECT\s+SANS/);
    expect(table).to.include(serial);
    const got = join(dir, 'got.pem');
    await ok(['get', serial, '--realm', realm, '--chain', '--out', got]);
    expect(blocks(readFileSync(got, 'utf8'))).to.have.length(3);
    expect((await verify(got, got)).trim()).to.match(/: OK$/);
    const shown = (await ok(['inspect', join(dir, 'web', 'web.crt')])).stdout;
    for (const field of [
      'Subject',
      'SANs',
      'Key',
      'Valid until',
      'Key usage',
      'Extended key usage',
      'Issuer',
      'Serial',
      'SHA-256',
      'CRL',
      'OCSP',
    ])
      expect(shown, field).to.include(field);
    expect(shown)
      .to.match(/Key\s+EC-P256/)
      .and.match(/left\)/)
      .and.match(/Revocation \(OCSP\)\s+good/);
    const fp = (await must(['x509', '-in', join(dir, 'web', 'web.crt'), '-noout', '-fingerprint', '-sha256'])).trim().split('=')[1];
    expect(shown).to.include(fp);
    const bySerial = JSON.parse((await ok(['inspect', serial, '--realm', realm, '--json'])).stdout);
    expect(bySerial).to.deep.include({ serialNumber: serial, key: 'EC-P256' });
    expect(bySerial.revocation.status).to.equal('good');
  });

  it('revoke: refuses without --yes when there is no terminal, then revokes; OCSP says revoked', async () => {
    const cert = join(dir, 'web', 'web.crt');
    const asked = await keyward(['certificate', 'revoke', '--cert', cert, '--reason', 'keyCompromise'], env);
    expect(asked.status).to.equal(2);
    expect(asked.stderr).to.include('Pass --yes');
    const r = await ok(['revoke', '--cert', cert, '--reason', 'keyCompromise', '--yes']);
    expect(r.stdout).to.match(new RegExp(`^revoked ${serial} \\(keyCompromise\\)`));
    const shown = (await ok(['inspect', cert])).stdout;
    expect(shown).to.match(/Revocation \(OCSP\)\s+revoked at \S+ \(keyCompromise\)/);
    // openssl as the independent witness; its -issuer is the issuing CA alone.
    const issuer = write(dir, 'issuing.pem', blocks(readFileSync(join(dir, 'web', 'web.chain.pem'), 'utf8'))[1]!);
    const ocsp = await openssl(['ocsp', '-issuer', issuer, '-cert', cert, '-url', `${kw.url}/v1/realms/${realm}/ocsp`, '-noverify']);
    expect(ocsp.stdout).to.match(/: revoked/);
  });

  it('request --wait: a request that needs approval says so, waits, and writes the files once a keyward-approver approves', async () => {
    const approver = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId: `${realm}-approver`, roles: ['keyward-approver'] },
    });
    expect(approver.status, JSON.stringify(approver.body)).to.equal(201);
    const token = await clientToken(realm, `${realm}-approver`, approver.body.secret);
    const out = join(dir, 'rv');
    const args = ['certificate', 'request', 'rv', '--realm', realm, '--policy', 'reviewed', '--san', `DNS:rv.${domain}`, '--out', out];
    const waiting = keyward([...args, '--wait', '--wait-timeout', 'PT1M'], env);
    let pending: { requestId: string } | undefined;
    for (let i = 0; i < 100 && !pending; i++) {
      const list = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests?status=pending`, { token });
      pending = list.body.items.find((r: { sans: string[] }) => r.sans.includes(`dns:rv.${domain}`));
      if (!pending) await new Promise((r) => setTimeout(r, 300));
    }
    expect(pending, 'the pending request').to.not.equal(undefined);
    expect(existsSync(join(out, 'rv.key')), 'the key is written before the decision').to.equal(true);
    const approved = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${pending!.requestId}/approve`, { token });
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    const r = await waiting;
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`request ${pending!.requestId} waits for approval`);
    expect(r.stdout).to.match(/^issued [0-9a-f]+/);
    expect((await verify(join(out, 'rv.crt'), join(out, 'rv.chain.pem'))).trim()).to.match(/: OK$/);
  });

  describe('renew --daemon with the certificate as the only credential', () => {
    let daemon: ChildProcess;
    let log = '';
    const lines = (re: RegExp) => log.split('\n').filter((l) => re.test(l));
    const until = async (what: string, test: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!test()) {
        if (Date.now() > end) throw new Error(`${what} did not happen within ${ms / 1000} s; daemon log:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    after(() => daemon?.kill('SIGKILL'));

    it('renews a PT2M certificate at least twice, each new certificate verifying, and runs the hook after each', async () => {
      const out = join(dir, 'svc');
      await ok(['request', 'svc', '--realm', realm, '--policy', 'short', '--san', `DNS:svc.${domain}`, '--out', out]);
      const first = readFileSync(join(out, 'svc.crt'), 'utf8');
      // 120 s certificates back-dated a minute: 40 % before the end is 12 s after issuance.
      daemon = spawn(
        BIN,
        [
          'certificate',
          'renew',
          '--cert',
          'svc.crt',
          '--key',
          'svc.key',
          '--daemon',
          '--renew-before',
          '40%',
          '--exec',
          'touch renewed',
          '--url',
          kw.tlsUrl!,
          '--ca-file',
          join(dir, 'cluster.crt'),
        ],
        { cwd: out, env: bare, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      daemon.stdout!.on('data', (d) => (log += String(d)));
      daemon.stderr!.on('data', (d) => (log += String(d)));
      const seen = new Set<string>([first]);
      await until(
        'two renewals',
        () => {
          if (lines(/ renewed svc\.crt/).length > seen.size - 1) seen.add(readFileSync(join(out, 'svc.crt'), 'utf8'));
          return lines(/ renewed svc\.crt/).length >= 2;
        },
        50_000,
      );
      expect(existsSync(join(out, 'renewed')), 'the hook ran').to.equal(true);
      expect(lines(/hook "touch renewed" exited 0/).length).to.be.at.least(1);
      const now = readFileSync(join(out, 'svc.crt'), 'utf8');
      expect(now).to.not.equal(first);
      expect((await verify(join(out, 'svc.crt'), join(out, 'svc.chain.pem'))).trim()).to.match(/: OK$/);
      for (const pem of seen)
        expect((await verify(write(dir, `seen-${seen.size}-${pem.length}.pem`, pem), join(out, 'svc.chain.pem'))).trim()).to.match(/: OK$/);
      expect(statSync(join(out, 'svc.key')).mode & 0o777).to.equal(0o600);
      const serials = lines(/ renewed svc\.crt/).map((l) => /serial ([0-9a-f]+)/.exec(l)![1]);
      expect(new Set(serials).size).to.equal(serials.length);
    });

    it('renews once with --rekey: a new key (0600) in place, certified, with no other credential', async () => {
      const out = join(dir, 'rk');
      await ok(['request', 'rk', '--realm', realm, '--policy', 'short', '--san', `DNS:rk.${domain}`, '--out', out]);
      const oldKey = readFileSync(join(out, 'rk.key'), 'utf8');
      const args = ['renew', '--cert', join(out, 'rk.crt'), '--key', join(out, 'rk.key'), '--rekey'];
      const r = await ok([...args, '--url', kw.tlsUrl!, '--ca-file', join(dir, 'cluster.crt')], bare);
      expect(r.stdout).to.match(/renewed .*rk\.crt: serial [0-9a-f]+, valid until \S+ \(new key\)/);
      expect(readFileSync(join(out, 'rk.key'), 'utf8')).to.not.equal(oldKey);
      expect(statSync(join(out, 'rk.key')).mode & 0o777).to.equal(0o600);
      const fromKey = await must(['pkey', '-in', join(out, 'rk.key'), '-pubout']);
      expect(await must(['x509', '-in', join(out, 'rk.crt'), '-noout', '-pubkey'])).to.equal(fromKey);
      expect((await verify(join(out, 'rk.crt'), join(out, 'rk.chain.pem'))).trim()).to.match(/: OK$/);
    });

    it('is refused with renewal.requester_inactive once the API client is deleted in Keycloak, and keeps the old files', async () => {
      const out = join(dir, 'svc');
      const found = (await (await keycloakAdmin(`/${realm}/clients?clientId=${encodeURIComponent(clientId)}`)).json()) as { id: string }[];
      expect(found).to.have.length(1);
      expect((await keycloakAdmin(`/${realm}/clients/${found[0]!.id}`, { method: 'DELETE' })).status).to.equal(204);
      const before = readFileSync(join(out, 'svc.crt'), 'utf8');
      const renewedBefore = lines(/ renewed svc\.crt/).length;
      await until('a refusal', () => lines(/renewal refused: .*\[renewal\.requester_inactive\]/).length > 0, 40_000);
      expect(lines(/renewal refused/)[0]).to.include('the current files are kept');
      expect(lines(/ renewed svc\.crt/).length).to.equal(renewedBefore);
      expect(readFileSync(join(out, 'svc.crt'), 'utf8')).to.equal(before);
      const audit = await call(kw.url, 'GET', `/v1/realms/${realm}/audit-events?action=certificate`, { token: op });
      const actions = audit.body.items.map((e: { action: string }) => e.action);
      expect(actions).to.include('certificate.renewed').and.include('certificate.renewal_refused');
      const refused = audit.body.items.find((e: { action: string }) => e.action === 'certificate.renewal_refused');
      expect(refused.details.code).to.equal('renewal.requester_inactive');
    });

    it('stops cleanly on SIGTERM (exit 0)', async () => {
      const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
      daemon.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(log)
        .to.match(/SIGTERM: stopping/)
        .and.match(/ stopped\n/);
    });
  });

  describe('mistakes get one clear sentence and an exit status, never a stack trace', () => {
    const cases: Array<[string, string[], number, RegExp, 'env' | 'bare']> = [
      [
        'an unknown key type',
        ['request', 'x', '--realm', 'r', '--key-type', 'DSA-1024', '--san', 'DNS:x.example'],
        2,
        /unknown key type "DSA-1024"/,
        'env',
      ],
      ['bad SAN syntax', ['request', 'x', '--realm', 'r', '--san', 'web.example'], 2, /bad --san "web\.example"/, 'env'],
      ['a bad IP SAN', ['request', 'x', '--realm', 'r', '--san', 'IP:10.0.0.300'], 2, /not an IPv4 or IPv6 address/, 'env'],
      [
        'a bad duration',
        ['request', 'x', '--realm', 'r', '--validity', '2 hours'],
        2,
        /--validity: "2 hours" is not an ISO 8601 duration/,
        'env',
      ],
      ['missing credentials', ['list', '--realm', 'r'], 1, /\[auth\.missing\]/, 'bare'],
      [
        'renewal over plain HTTP',
        ['renew', '--cert', 'a.crt', '--key', 'a.key', '--url', 'http://127.0.0.1:1'],
        2,
        /HTTPS listener/,
        'bare',
      ],
    ];
    for (const [what, args, status, message, which] of cases) {
      it(`${what}: exit ${status}`, async () => {
        const e = which === 'env' ? env : { ...bare, KEYWARD_URL: kw.url };
        const r = await keyward(['certificate', ...args], e);
        expect(r.status, r.stderr).to.equal(status);
        expect(r.stderr).to.match(message);
        expect(r.stderr).to.not.match(/\n\s+at /);
        expect(r.stderr.trim().split('\n').length).to.be.at.most(2);
      });
    }
  });
});
