/**
 * Scenario 07 — an operator's own CA as the parent of a realm's issuing CA,
 * imported through the API as an operator would: parents made by `openssl
 * req -x509` (RSA-3072 and P-384, PKCS#8 and traditional keys, with and
 * without a pathLenConstraint), leaves from the realm checked by `openssl
 * verify` against the parent. Unsuitable parents (pathlen:0, expired, ending
 * too soon, a key that is not the certificate's or that Keyward does not sign
 * with) are refused with ca.invalid and the reason — never a 500, and the
 * realm can still import a good parent afterwards.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, clientToken, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { csr, must, openssl, work, write } from '../support/openssl.ts';

const SVC = {
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN'] },
  san: { dns: ['*.svc.internal'], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
};

interface Parent {
  readonly certFile: string;
  readonly keyFile: string;
}

describe('07 parent CA import', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;
  let op: string;
  const dir = work();
  let n = 0;

  /** A parent CA made by `openssl req -x509`; `key` is `-newkey` arguments or an existing key file. */
  async function parent(o: { newkey?: string[]; keyFile?: string; constraints?: string; days?: string }): Promise<Parent> {
    const id = ++n;
    const keyFile = o.keyFile ?? join(dir, `parent${id}.key`);
    const certFile = join(dir, `parent${id}.pem`);
    await must([
      'req',
      '-x509',
      ...(o.keyFile ? ['-key', o.keyFile] : [...o.newkey!, '-nodes', '-keyout', keyFile]),
      '-out',
      certFile,
      '-days',
      o.days ?? '3650',
      '-subj',
      `/CN=Operator Root ${id}/O=Operator`,
      '-addext',
      `basicConstraints=critical,${o.constraints ?? 'CA:TRUE'}`,
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { certFile, keyFile };
  }

  /** A managed realm with the policy and a requester. */
  async function realmWithRequester(): Promise<{ realm: string; token: () => Promise<string> }> {
    const realm = unique('par');
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: SVC })).status).to.equal(201);
    const made = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId: 'app', roles: ['keyward-requester'] },
    });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    return { realm, token: () => clientToken(realm, 'app', made.body.secret) };
  }

  const importParent = (realm: string, p: Parent) =>
    call(kw.url, 'PUT', `/v1/realms/${realm}/ca/parent`, {
      token: op,
      body: { certificate: readFileSync(p.certFile, 'utf8'), privateKey: readFileSync(p.keyFile, 'utf8') },
    });

  /** Imports `p`, issues a leaf in the realm, and checks the chain with openssl against the parent. */
  async function importsAndIssues(p: Parent): Promise<void> {
    const { realm, token } = await realmWithRequester();
    const imported = await importParent(realm, p);
    expect(imported.status, JSON.stringify(imported.body)).to.equal(201);
    expect(imported.body.chain).to.have.length(2);
    const issuingFile = write(dir, `${realm}-issuing.pem`, imported.body.chain[0]);
    const req = await csr(dir, { subject: '/CN=api.svc.internal', sans: ['DNS:api.svc.internal'] });
    const issued = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token: await token(),
      body: { csr: req.pem, policy: 'svc', validityDays: 7 },
    });
    expect(issued.status, JSON.stringify(issued.body)).to.equal(201);
    expect(issued.body.chain).to.have.length(2);
    const leafFile = write(dir, `${realm}-leaf.pem`, issued.body.certificate);
    const v = await openssl(['verify', '-CAfile', p.certFile, '-untrusted', issuingFile, leafFile]);
    expect(v.stdout.trim(), v.stderr).to.equal(`${leafFile}: OK`);
  }

  /** The import is refused with ca.invalid naming the reason; the realm keeps no CA and can import a good parent after. */
  async function refused(p: Parent, reason: RegExp): Promise<void> {
    const { realm } = await realmWithRequester();
    const res = await importParent(realm, p);
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.code).to.equal('ca.invalid');
    expect(res.body.detail).to.match(reason);
    const good = await importParent(realm, await parent({ newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] }));
    expect(good.status, JSON.stringify(good.body)).to.equal(201);
  }

  before(async () => {
    kw = await startKeyward();
    op = await operatorToken();
  });

  describe('accepts', () => {
    it('an RSA-3072 parent with a PKCS#8 key from openssl req -newkey rsa:3072 -nodes, no pathLenConstraint', async () => {
      await importsAndIssues(await parent({ newkey: ['-newkey', 'rsa:3072'] }));
    });

    it('an RSA-3072 parent with a traditional PKCS#1 key (openssl genrsa -traditional), pathlen:1', async () => {
      const keyFile = join(dir, 'pkcs1.key');
      await must(['genrsa', '-traditional', '-out', keyFile, '3072']);
      expect(readFileSync(keyFile, 'utf8')).to.contain('BEGIN RSA PRIVATE KEY');
      await importsAndIssues(await parent({ keyFile, constraints: 'CA:TRUE,pathlen:1' }));
    });

    it('a P-384 parent with a PKCS#8 key, pathlen:1', async () => {
      await importsAndIssues(
        await parent({ newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], constraints: 'CA:TRUE,pathlen:1' }),
      );
    });

    it('a P-384 parent with a traditional SEC1 key from openssl ecparam -genkey (EC PARAMETERS block first)', async () => {
      const keyFile = join(dir, 'sec1.key');
      await must(['ecparam', '-genkey', '-name', 'secp384r1', '-out', keyFile]);
      expect(readFileSync(keyFile, 'utf8')).to.match(/BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
      await importsAndIssues(await parent({ keyFile }));
    });
  });

  describe('refuses with ca.invalid, never 500', () => {
    it('a parent whose pathLenConstraint 0 forbids an issuing CA below it', async () => {
      await refused(
        await parent({ newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], constraints: 'CA:TRUE,pathlen:0' }),
        /pathLenConstraint 0/,
      );
    });

    it('an expired parent', async () => {
      // openssl req cannot back-date; openssl ca can (-startdate/-enddate).
      const ca = join(dir, 'expired');
      await must([
        'req',
        '-new',
        '-newkey',
        'rsa:3072',
        '-nodes',
        '-keyout',
        `${ca}.key`,
        '-out',
        `${ca}.csr`,
        '-subj',
        '/CN=Expired Root',
      ]);
      writeFileSync(`${ca}.index`, '');
      writeFileSync(`${ca}.serial`, '01\n');
      writeFileSync(
        `${ca}.cnf`,
        [
          '[ca]',
          'default_ca = d',
          '[d]',
          `database = ${ca}.index`,
          `new_certs_dir = ${dir}`,
          `serial = ${ca}.serial`,
          'default_md = sha256',
          'policy = any',
          'unique_subject = no',
          '[any]',
          'commonName = supplied',
          '[v3]',
          'basicConstraints = critical,CA:TRUE',
          'keyUsage = critical,keyCertSign,cRLSign',
          'subjectKeyIdentifier = hash',
          '',
        ].join('\n'),
      );
      await must([
        'ca',
        '-batch',
        '-notext',
        '-config',
        `${ca}.cnf`,
        '-selfsign',
        '-keyfile',
        `${ca}.key`,
        '-in',
        `${ca}.csr`,
        '-out',
        `${ca}.pem`,
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20210101000000Z',
        '-extensions',
        'v3',
      ]);
      await refused({ certFile: `${ca}.pem`, keyFile: `${ca}.key` }, /not valid now/);
    });

    it('a parent that ends before a useful lifetime (7 days left)', async () => {
      await refused(await parent({ newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], days: '7' }), /days left/);
    });

    it('a key that is not the parent certificate key', async () => {
      const a = await parent({ newkey: ['-newkey', 'rsa:3072'] });
      const b = await parent({ newkey: ['-newkey', 'rsa:3072'] });
      await refused({ certFile: a.certFile, keyFile: b.keyFile }, /does not belong/);
    });

    it('a parent whose key Keyward does not sign with (Ed25519)', async () => {
      await refused(await parent({ newkey: ['-newkey', 'ed25519'] }), /not supported/);
    });

    it('a certificate that is not a CA', async () => {
      await refused(
        await parent({ newkey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], constraints: 'CA:FALSE' }),
        /not a CA certificate/,
      );
    });
  });
});
