import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyward } from '../../support/cli.ts';
import { must, openssl, work } from '../../support/openssl.ts';

const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

/** A self-signed P-384 root made by openssl req, as an operator makes one. */
async function root(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await must([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-384',
    '-nodes',
    '-keyout',
    key,
    '-subj',
    `/CN=${name}/O=Example`,
    '-days',
    '7300',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    cert,
  ]);
  return { cert, key };
}

describe('keyward ca cross-sign', function () {
  this.timeout(60_000);

  it('issues the new root under the old one, so a chain to the new root validates for clients trusting only the old', async () => {
    const dir = work();
    const oldRoot = await root(dir, 'old-root');
    const newRoot = await root(dir, 'new-root');
    // An issuing CA under the new root.
    await must([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'i.key'),
      '-subj',
      '/CN=issuing',
      '-out',
      join(dir, 'i.csr'),
    ]);
    const ext = join(dir, 'i.ext');
    writeFileSync(ext, 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    await must([
      'x509',
      '-req',
      '-in',
      join(dir, 'i.csr'),
      '-CA',
      newRoot.cert,
      '-CAkey',
      newRoot.key,
      '-extfile',
      ext,
      '-days',
      '100',
      '-out',
      join(dir, 'i.pem'),
    ]);
    const before = await openssl(['verify', '-CAfile', oldRoot.cert, join(dir, 'i.pem')]);
    expect(before.code, 'the old root alone does not validate it').to.not.equal(0);

    const r = await keyward(['ca', 'cross-sign', newRoot.cert, '--issuer', oldRoot.cert, '--issuer-key', oldRoot.key, '--dir', dir], env);
    expect(r.status, r.stderr).to.equal(0);
    const cross = join(dir, 'new-root.cross.pem');
    expect(r.stdout).to.contain(`wrote ${cross}`);
    expect((await openssl(['verify', '-CAfile', oldRoot.cert, '-untrusted', cross, join(dir, 'i.pem')])).stdout.trim()).to.equal(
      `${join(dir, 'i.pem')}: OK`,
    );
    const text = await must(['x509', '-in', cross, '-noout', '-subject', '-issuer', '-pubkey']);
    expect(text).to.contain('subject=CN = new-root, O = Example').and.contain('issuer=CN = old-root, O = Example');
    expect(text).to.contain(await must(['x509', '-in', newRoot.cert, '-noout', '-pubkey']));
    const again = await keyward(
      ['ca', 'cross-sign', newRoot.cert, '--issuer', oldRoot.cert, '--issuer-key', oldRoot.key, '--dir', dir],
      env,
    );
    expect(again.status).to.equal(2);
    expect(again.stderr).to.contain('already exist');
  });
});
