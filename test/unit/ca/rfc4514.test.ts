import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { formatRfc4514, type NameAttribute } from '../../../services/keyward/src/ca/index.ts';

/** The subject of a self-signed certificate for `subj`, as `openssl x509 -nameopt RFC2253` prints it. */
function opensslRfc2253(subj: string): string {
  const pem = execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', subj, '-days', '1'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: pem, encoding: 'utf8' })
    .replace(/^subject=/, '')
    .trim();
}

describe('ca/name formatRfc4514 (the DN Keycloak pins for client-x509)', () => {
  const cases: Array<[string, NameAttribute[], string]> = [
    ['one CN with a space', [{ type: 'CN', value: 'orders-sync 0a1b2c3d4e5f6789' }], '/CN=orders-sync 0a1b2c3d4e5f6789'],
    [
      'CN then O, printed last RDN first',
      [
        { type: 'CN', value: 'Keyward demo Issuing CA' },
        { type: 'O', value: 'Keyward' },
      ],
      '/CN=Keyward demo Issuing CA/O=Keyward',
    ],
    ['special characters escaped', [{ type: 'CN', value: 'a,b+c;d' }], '/CN=a\\,b\\+c\\;d'],
  ];
  for (const [what, name, subj] of cases) {
    it(`matches openssl's RFC 2253 output: ${what}`, () => {
      expect(formatRfc4514(name)).to.equal(opensslRfc2253(subj));
    });
  }

  it('refuses an attribute type without an RFC 4514 keyword with a TypeError', () => {
    expect(() => formatRfc4514([{ type: 'serialNumber', value: '1' }])).to.throw(TypeError, /serialNumber/);
  });
});
