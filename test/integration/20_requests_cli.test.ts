/**
 * Scenario 20 — certificate requests and end entities from the command line:
 * a request under a policy with `approval: required` is opened by `keyward
 * certificate request`, listed and shown by `keyward requests`, approved by
 * another keyward-approver (never by its own requester) or rejected with a
 * reason; end entities are created, listed, shown, issued for (openssl
 * verifies the chain written) and deleted with `keyward end-entities`. Every
 * command is a real `keyward` child process against a real Keyward, Keycloak
 * and PostgreSQL.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyward } from '../support/cli.ts';
import { call, clientToken, integrationEnv, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { csr, must, work, write } from '../support/openssl.ts';

const policy = (domain: string, approval: 'none' | 'required') => ({
  keyTypes: ['EC-P256', 'EC-P384', 'RSA-2048'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN', 'O', 'OU'] },
  san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval,
});

const blocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

/** A mistake or a refusal is one or two lines on stderr, never a stack trace. */
const noTrace = (stderr: string) => {
  expect(stderr).to.not.match(/\n\s+at /);
  expect(stderr.trim().split('\n').length).to.be.at.most(2);
};

describe('20 certificate requests and end entities from the command line', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('req');
  const domain = `${realm}.internal`;
  let kw: RunningKeyward;
  let root: string;
  /** The environment of each API client, as a CI job would set it. */
  const envs: Record<'requester' | 'approver' | 'entities', NodeJS.ProcessEnv> = { requester: {}, approver: {}, entities: {} };
  let approverToken: string;

  const run = (who: keyof typeof envs, args: string[]) => keyward(args, envs[who]);
  const ok = async (who: keyof typeof envs, args: string[]) => {
    const r = await run(who, args);
    expect(r.status, `keyward ${args.join(' ')}\n${r.stderr}${r.stdout}`).to.equal(0);
    return r;
  };
  const verify = (file: string, chain: string) => must(['verify', '-CAfile', root, '-untrusted', chain, file]);

  before(async () => {
    const ie = await integrationEnv();
    kw = await startKeyward();
    const op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    for (const [name, approval] of [
      ['reviewed', 'required'],
      ['svc', 'none'],
    ] as const) {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/${name}`, { token: op, body: policy(domain, approval) });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
    const home = mkdtempSync(join(tmpdir(), 'keyward-cli-home-'));
    const bare = { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
    // The requester holds keyward-approver too: what stops it approving its own request is self-approval, not a missing role.
    for (const [who, roles] of [
      ['requester', ['keyward-requester', 'keyward-approver']],
      ['approver', ['keyward-approver']],
      ['entities', ['keyward-entity-admin', 'keyward-requester']],
    ] as const) {
      const clientId = `${realm}-${who}`;
      const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId, roles } });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      envs[who] = {
        ...bare,
        KEYWARD_URL: kw.url,
        KEYWARD_KEYCLOAK_URL: ie.keycloakUrl,
        KEYWARD_CLIENT_REALM: realm,
        KEYWARD_CLIENT_ID: clientId,
        KEYWARD_CLIENT_SECRET: created.body.secret,
      };
      if (who === 'approver') approverToken = await clientToken(realm, clientId, created.body.secret);
    }
    const chain = (await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } })).body.chain;
    root = write(dir, 'root.pem', chain.at(-1));
  });

  describe('requests', () => {
    let approveId: string;
    let rejectId: string;

    it('certificate request under a policy that needs approval prints the request id and writes only the key', async () => {
      const ids: string[] = [];
      for (const name of ['rv', 'rj']) {
        const out = join(dir, name);
        const r = await ok('requester', [
          'certificate',
          'request',
          name,
          '--realm',
          realm,
          '--policy',
          'reviewed',
          '--san',
          `DNS:${name}.${domain}`,
          '--out',
          out,
        ]);
        const id = r.stdout.trim();
        expect(id).to.match(/^[0-9a-f-]{36}$/);
        expect(r.stderr).to.include(`request ${id} waits for approval by a keyward-approver of realm ${realm} (policy reviewed)`);
        expect(existsSync(join(out, `${name}.key`))).to.equal(true);
        expect(existsSync(join(out, `${name}.crt`))).to.equal(false);
        ids.push(id);
      }
      [approveId, rejectId] = ids as [string, string];
    });

    it('requests list shows both as a table and as JSON, to an approver and to the requester', async () => {
      const table = (await ok('approver', ['requests', 'list', '--realm', realm, '--status', 'pending'])).stdout;
      const lines = table.trim().split('\n');
      expect(lines[0]).to.match(/^ID\s+STATUS\s+POLICY\s+REQUESTED BY\s+CREATED\s+SUBJECT\s+SANS$/);
      const row = lines.find((l) => l.startsWith(approveId));
      expect(row, table).to.match(new RegExp(`^${approveId}\\s+pending\\s+reviewed\\s+${realm}-requester@${realm}\\s+\\S+Z\\s+CN=rv\\.`));
      expect(row).to.include(`dns:rv.${domain}`);
      expect(table).to.include(rejectId);
      const listed = JSON.parse((await ok('approver', ['requests', 'list', '--realm', realm, '--json'])).stdout);
      const mine = listed.filter((x: { requestId: string }) => [approveId, rejectId].includes(x.requestId));
      expect(mine).to.have.length(2);
      for (const x of mine) expect(x).to.include({ status: 'pending', policy: 'reviewed' });
      const own = JSON.parse((await ok('requester', ['requests', 'list', '--realm', realm, '--status', 'pending', '--json'])).stdout);
      expect(own.map((x: { requestId: string }) => x.requestId)).to.include.members([approveId, rejectId]);
      const paged = JSON.parse((await ok('approver', ['requests', 'list', '--realm', realm, '--max', '1', '--json'])).stdout);
      expect(paged).to.have.length(1);
      const shown = (await ok('approver', ['requests', 'show', approveId, '--realm', realm])).stdout;
      expect(shown)
        .to.match(new RegExp(`^Request\\s+${approveId}$`, 'm'))
        .and.match(/^Status\s+pending$/m)
        .and.match(new RegExp(`^SANs\\s+dns:rv\\.${domain.replace(/\./g, '\\.')}$`, 'm'))
        .and.match(new RegExp(`^Requested by\\s+${realm}-requester@${realm} at `, 'm'));
      const json = JSON.parse((await ok('approver', ['requests', 'show', approveId, '--realm', realm, '--json'])).stdout);
      expect(json).to.include({ requestId: approveId, status: 'pending', policy: 'reviewed' });
    });

    it('the requester cannot approve its own request: exit 1 with certificate_request.self_approval', async () => {
      const r = await run('requester', ['requests', 'approve', approveId, '--realm', realm]);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/cannot decide it.*\[certificate_request\.self_approval\]/);
      noTrace(r.stderr);
      const still = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${approveId}`, { token: approverToken });
      expect(still.body.status).to.equal('pending');
    });

    it('another approver approves: the serial is printed, and the API shows the request issued with that certificate', async () => {
      const r = await ok('approver', ['requests', 'approve', approveId, '--realm', realm]);
      const m = new RegExp(`^approved ${approveId}: issued ([0-9a-f]+) {2}CN=rv\\.${realm}\\.internal {2}valid until \\S+Z$`).exec(
        r.stdout.trim(),
      );
      expect(m, r.stdout).to.not.equal(null);
      const serial = m![1]!;
      const req = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${approveId}`, { token: approverToken });
      expect(req.status).to.equal(200);
      expect(req.body.status).to.equal('issued');
      expect(req.body.decidedBy.name).to.equal(`${realm}-approver`);
      expect(req.body.certificate.serialNumber).to.equal(serial);
      const cert = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token: approverToken });
      expect(cert.status).to.equal(200);
      expect(cert.body).to.include({ status: 'valid', policy: 'reviewed' });
      // The key written when the request was made is the one certified.
      const fromKey = await must(['pkey', '-in', join(dir, 'rv', 'rv.key'), '-pubout']);
      expect(await must(['x509', '-noout', '-pubkey'], cert.body.certificate)).to.equal(fromKey);
      const again = await run('approver', ['requests', 'approve', approveId, '--realm', realm]);
      expect(again.status).to.equal(1);
      expect(again.stderr).to.include('[certificate_request.not_pending]');
      noTrace(again.stderr);
      const issued = JSON.parse((await ok('approver', ['requests', 'list', '--realm', realm, '--status', 'issued', '--json'])).stdout);
      expect(issued.map((x: { requestId: string }) => x.requestId)).to.include(approveId);
    });

    it('reject needs a reason (exit 2), then rejects with it; the API shows the reason and no certificate', async () => {
      const none = await run('approver', ['requests', 'reject', rejectId, '--realm', realm]);
      expect(none.status).to.equal(2);
      expect(none.stderr).to.include('reject needs --reason TEXT');
      noTrace(none.stderr);
      const r = await ok('approver', ['requests', 'reject', rejectId, '--realm', realm, '--reason', 'not for production names']);
      expect(r.stdout.trim()).to.equal(`rejected ${rejectId} by ${realm}-approver@${realm}: not for production names`);
      const req = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${rejectId}`, { token: approverToken });
      expect(req.body).to.include({ status: 'rejected', reason: 'not for production names' });
      expect(req.body.certificate).to.equal(undefined);
      const json = JSON.parse((await ok('requester', ['requests', 'show', rejectId, '--realm', realm, '--json'])).stdout);
      expect(json).to.include({ status: 'rejected', reason: 'not for production names' });
    });
  });

  describe('end entities', () => {
    let serial: string;

    it('create binds a subject and SANs to a policy; list shows it as a table and as JSON', async () => {
      const r = await ok('entities', [
        'end-entities',
        'create',
        'billing',
        '--realm',
        realm,
        '--policy',
        'svc',
        '--subject',
        `CN=billing.${domain},OU=payments`,
        '--san',
        `DNS:billing.${domain}`,
        '--san',
        `DNS:pay.${domain}`,
      ]);
      expect(r.stdout.trim()).to.equal(
        `created end entity billing: CN=billing.${domain}, OU=payments  dns:billing.${domain},dns:pay.${domain}  (policy svc)`,
      );
      const made = JSON.parse(
        (
          await ok('entities', [
            'end-entities',
            'create',
            'web',
            '--realm',
            realm,
            '--policy',
            'svc',
            '--san',
            `DNS:web.${domain}`,
            '--json',
          ])
        ).stdout,
      );
      expect(made).to.deep.include({ name: 'web', subject: [{ type: 'CN', value: `web.${domain}` }], policy: 'svc' });
      // RFC 4514 escaping: a comma inside a value.
      const escaped = await ok('entities', [
        'end-entities',
        'create',
        'acme',
        '--realm',
        realm,
        '--policy',
        'svc',
        '--json',
        '--subject',
        `CN=acme.${domain}, O=Example\\, Inc.`,
        '--san',
        `DNS:acme.${domain}`,
      ]);
      expect(JSON.parse(escaped.stdout).subject).to.deep.equal([
        { type: 'CN', value: `acme.${domain}` },
        { type: 'O', value: 'Example, Inc.' },
      ]);
      const table = (await ok('entities', ['end-entities', 'list', '--realm', realm])).stdout.trim().split('\n');
      expect(table[0]).to.match(/^NAME\s+POLICY\s+SUBJECT\s+CREATED\s+SANS$/);
      expect(table.find((l) => l.startsWith('billing '))).to.match(
        new RegExp(`^billing\\s+svc\\s+CN=billing\\.${realm}\\.internal, OU=payments\\s+`),
      );
      const listed = JSON.parse((await ok('entities', ['end-entities', 'list', '--realm', realm, '--json'])).stdout);
      expect(listed.map((e: { name: string }) => e.name).sort()).to.deep.equal(['acme', 'billing', 'web']);
      const billing = listed.find((e: { name: string }) => e.name === 'billing');
      expect(billing.sans.dns).to.deep.equal([`billing.${domain}`, `pay.${domain}`]);
    });

    it('refuses an entity outside its policy with policy.san_not_allowed (exit 1)', async () => {
      const r = await run('entities', [
        'end-entities',
        'create',
        'evil',
        '--realm',
        realm,
        '--policy',
        'svc',
        '--subject',
        `CN=evil.${domain}`,
        '--san',
        'DNS:evil.example.com',
      ]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.include('[policy.san_not_allowed]');
      noTrace(r.stderr);
    });

    it('issue makes the key here and writes the three files; the certificate carries the entity names and verifies', async () => {
      const out = join(dir, 'ee');
      const r = await ok('entities', ['end-entities', 'issue', 'billing', '--realm', realm, '--out', out]);
      expect(r.stdout).to.match(new RegExp(`^issued [0-9a-f]+ {2}CN=billing\\.${realm}\\.internal, OU=payments {2}valid until `));
      serial = /^issued ([0-9a-f]+)/.exec(r.stdout)![1]!;
      for (const f of ['billing.crt', 'billing.chain.pem', 'billing.key']) expect(existsSync(join(out, f)), f).to.equal(true);
      expect(statSync(join(out, 'billing.key')).mode & 0o777).to.equal(0o600);
      expect(blocks(readFileSync(join(out, 'billing.chain.pem'), 'utf8'))).to.have.length(3);
      expect((await verify(join(out, 'billing.crt'), join(out, 'billing.chain.pem'))).trim()).to.match(/: OK$/);
      const text = await must(['x509', '-in', join(out, 'billing.crt'), '-noout', '-subject', '-ext', 'subjectAltName']);
      expect(text)
        .to.match(/CN\s*=\s*billing\./)
        .and.match(/OU\s*=\s*payments/)
        .and.include(`DNS:billing.${domain}`)
        .and.include(`DNS:pay.${domain}`);
      const fromKey = await must(['pkey', '-in', join(out, 'billing.key'), '-pubout']);
      expect(await must(['x509', '-in', join(out, 'billing.crt'), '-noout', '-pubkey'])).to.equal(fromKey);
    });

    it('issue --csr sends a CSR made elsewhere (its names ignored) and writes the certificate and chain, no key', async () => {
      const out = join(dir, 'ee-csr');
      const made = await csr(work(), { subject: '/CN=ignored', sans: ['DNS:ignored.example.com'] });
      const csrFile = write(dir, 'billing.csr', made.pem);
      const r = await ok('entities', ['end-entities', 'issue', 'billing', '--realm', realm, '--csr', csrFile, '--out', out, '--json']);
      const view = JSON.parse(r.stdout);
      expect(view.subject).to.include(`CN=billing.${domain}`);
      expect(view.files.key).to.equal(undefined);
      expect(existsSync(join(out, 'billing.key'))).to.equal(false);
      expect((await verify(join(out, 'billing.crt'), join(out, 'billing.chain.pem'))).trim()).to.match(/: OK$/);
      expect(await must(['x509', '-in', join(out, 'billing.crt'), '-noout', '-ext', 'subjectAltName'])).to.not.include('ignored');
    });

    it('show gives the entity and its certificates', async () => {
      const shown = (await ok('entities', ['end-entities', 'show', 'billing', '--realm', realm])).stdout;
      expect(shown)
        .to.match(/^End entity\s+billing$/m)
        .and.match(new RegExp(`^Subject\\s+CN=billing\\.${realm}\\.internal, OU=payments$`, 'm'))
        .and.match(/^Policy\s+svc$/m)
        .and.match(/^SERIAL\s+STATUS\s+NOT BEFORE\s+NOT AFTER$/m)
        .and.match(new RegExp(`^${serial}\\s+valid\\s+`, 'm'));
      const json = JSON.parse((await ok('entities', ['end-entities', 'show', 'billing', '--realm', realm, '--json'])).stdout);
      expect(json).to.include({ name: 'billing', policy: 'svc' });
      expect(json.certificates).to.have.length(2);
      expect(json.certificates.map((c: { serialNumber: string }) => c.serialNumber)).to.include(serial);
      expect(json.certificates[0].certificate, 'no PEM in the summary').to.equal(undefined);
    });

    it('delete refuses without --yes when there is no terminal (exit 2), then deletes with --yes; its certificates stay', async () => {
      const asked = await run('entities', ['end-entities', 'delete', 'billing', '--realm', realm]);
      expect(asked.status).to.equal(2);
      expect(asked.stderr).to.include('Pass --yes');
      noTrace(asked.stderr);
      await ok('entities', ['end-entities', 'show', 'billing', '--realm', realm]);
      const r = await ok('entities', ['end-entities', 'delete', 'billing', '--realm', realm, '--yes']);
      expect(r.stdout.trim()).to.equal('deleted end entity billing');
      const gone = await run('entities', ['end-entities', 'show', 'billing', '--realm', realm]);
      expect(gone.status).to.equal(1);
      expect(gone.stderr).to.include('[end_entity.not_found]');
      noTrace(gone.stderr);
      const cert = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token: approverToken });
      expect(cert.status).to.equal(200);
      expect(cert.body.status).to.equal('valid');
      const listed = JSON.parse((await ok('entities', ['end-entities', 'list', '--realm', realm, '--json'])).stdout);
      expect(listed.map((e: { name: string }) => e.name).sort()).to.deep.equal(['acme', 'web']);
    });
  });

  describe('mistakes and refusals: one sentence, an exit status, never a stack trace', () => {
    const cases: Array<[string, keyof typeof envs, () => string[], number, RegExp]> = [
      [
        'an unknown request id',
        'approver',
        () => ['requests', 'show', randomUUID(), '--realm', realm],
        1,
        /\[certificate_request\.not_found\]/,
      ],
      [
        'a request id that is not one',
        'approver',
        () => ['requests', 'show', 'not-an-id', '--realm', realm],
        1,
        /\[certificate_request\.not_found\]/,
      ],
      [
        'approving an unknown request',
        'approver',
        () => ['requests', 'approve', randomUUID(), '--realm', realm],
        1,
        /\[certificate_request\.not_found\]/,
      ],
      ['an unknown end entity', 'entities', () => ['end-entities', 'show', 'nope', '--realm', realm], 1, /\[end_entity\.not_found\]/],
      [
        'issuing for an unknown end entity',
        'entities',
        () => ['end-entities', 'issue', 'nope', '--realm', realm, '--out', dir],
        1,
        /\[end_entity\.not_found\]/,
      ],
      ['requests without --realm', 'approver', () => ['requests', 'list'], 2, /name the realm with --realm R/],
      ['end-entities without --realm', 'entities', () => ['end-entities', 'list'], 2, /name the realm with --realm R/],
      ['an unknown status', 'approver', () => ['requests', 'list', '--realm', realm, '--status', 'done'], 2, /unknown status "done"/],
      [
        'create without a policy',
        'entities',
        () => ['end-entities', 'create', 'x', '--realm', realm, '--san', `DNS:x.${domain}`],
        2,
        /needs --policy/,
      ],
      [
        'a bad subject',
        'entities',
        () => ['end-entities', 'create', 'x', '--realm', realm, '--policy', 'svc', '--subject', 'web'],
        2,
        /bad --subject/,
      ],
      [
        'a role the client lacks',
        'approver',
        () => ['end-entities', 'create', 'x', '--realm', realm, '--policy', 'svc', '--subject', 'CN=x'],
        1,
        /\[auth\.forbidden\]/,
      ],
    ];
    for (const [what, who, args, status, message] of cases) {
      it(`${what}: exit ${status}`, async () => {
        const r = await run(who, args());
        expect(r.status, r.stderr).to.equal(status);
        expect(r.stderr).to.match(message);
        noTrace(r.stderr);
      });
    }

    it('--help on each subcommand prints the usage (exit 0)', async () => {
      for (const args of [
        ['requests', 'approve', '--help'],
        ['end-entities', 'issue', '--help'],
      ]) {
        const r = await keyward(args, envs.approver);
        expect(r.status).to.equal(0);
        expect(r.stdout).to.include(`keyward ${args[0]} ${args[1]} `);
      }
    });
  });
});
