import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import {
  buildCrl,
  createIssuingCa,
  createRootCa,
  loadCa,
  parseCsr,
  PROFILES,
  signCertificate,
  type CaContext,
  type CaKeyType,
} from '../../../services/keyward/src/ca/index.ts';
import { Pkcs11KeyStore, pkcs11IdOf } from '../../../services/keyward/src/crypto/pkcs11_key_store.ts';
import { ConfigError } from '../../../services/keyward/src/kernel/config.ts';
import { must, work, write } from '../../support/openssl.ts';
import { softHsmToken, type SoftHsmToken } from '../../support/softhsm.ts';

const NOW = new Date();

describe('PKCS#11 key store (SoftHSM2)', function () {
  this.timeout(120_000);
  let token: SoftHsmToken;
  let keys: Pkcs11KeyStore;

  before(() => {
    token = softHsmToken('keyward-unit');
    keys = Pkcs11KeyStore.open({ module: token.module, tokenLabel: token.label, pin: token.pin, sessions: 3 });
  });
  after(() => {
    keys?.close();
    token?.remove();
  });

  for (const [rootType, issuingType] of [
    ['EC-P384', 'EC-P256'],
    ['EC-P256', 'EC-P384'],
    ['RSA-2048', 'RSA-2048'],
  ] as const satisfies readonly (readonly [CaKeyType, CaKeyType])[]) {
    it(`generates ${rootType} root and ${issuingType} issuing keys inside the token, and openssl verifies what they sign`, async () => {
      const rootId = randomUUID();
      const issuingId = randomUUID();
      const root = await createRootCa({
        id: rootId,
        keys,
        subject: [{ type: 'CN', value: `HSM Root ${rootType}` }],
        now: NOW,
        keyType: rootType,
      });
      const issuing = await createIssuingCa({
        id: issuingId,
        keys,
        parent: root.ca,
        subject: [{ type: 'CN', value: `HSM Issuing ${issuingType}` }],
        now: NOW,
        keyType: issuingType,
      });
      expect(root.record.key).to.deep.equal({ store: 'pkcs11', token: token.label, id: rootId });
      expect(issuing.record.key).to.deep.equal({ store: 'pkcs11', token: token.label, id: issuingId });
      expect(issuing.record.kekId).to.equal(undefined);
      expect(issuing.record.keyType).to.equal(issuingType);

      const dir = work();
      const rootFile = write(dir, 'root.pem', root.record.certificatePem);
      const chainFile = write(dir, 'chain.pem', issuing.record.certificatePem);
      await must([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'leaf.key'),
        '-subj',
        '/CN=leaf.example',
        '-out',
        join(dir, 'leaf.csr'),
      ]);
      const leaf = await leafFrom(issuing.ca, join(dir, 'leaf.csr'));
      const leafFile = write(dir, 'leaf.pem', leaf);
      expect(await must(['verify', '-CAfile', rootFile, '-untrusted', chainFile, leafFile])).to.include(': OK');
      expect(await must(['verify', '-CAfile', rootFile, chainFile])).to.include(': OK');

      const crl = await buildCrl({
        ca: issuing.ca,
        crlNumber: 1n,
        thisUpdate: NOW,
        nextUpdate: new Date(NOW.getTime() + 86_400_000),
        entries: [],
      });
      const crlFile = write(dir, 'crl.der', crl);
      writeFileSync(join(dir, 'bundle.pem'), root.record.certificatePem + issuing.record.certificatePem);
      expect(await must(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', join(dir, 'bundle.pem'), '-noout'])).to.equal('');

      const objects = token.pkcs11Tool(['--list-objects'], true);
      expect(objects).to.include(`label:      ${issuingId}`);
      expect(objects).to.include(`ID:         ${pkcs11IdOf(issuingId).toString('hex')}`);
      const privateObject = objects.split(/\n(?=\S)/).find((o) => o.startsWith('Private Key Object') && o.includes(issuingId))!;
      expect(privateObject).to.match(/never extractable/);
      expect(privateObject).to.match(/Access:\s+sensitive/);
    });
  }

  it('opens a stored reference again in a new process-wide session, and refuses another token', async () => {
    const id = randomUUID();
    const root = await createRootCa({ id, keys, subject: [{ type: 'CN', value: 'Reopened Root' }], now: NOW, keyType: 'EC-P256' });
    keys.close();
    keys = Pkcs11KeyStore.open({ module: token.module, tokenLabel: token.label, pin: token.pin, sessions: 2 });
    const again = loadCa({ certificatePem: root.record.certificatePem }, keys.open(root.record.key));
    expect(await signsVerifiably(again, root.record.certificatePem)).to.equal(true);
    expect(() => keys.open({ store: 'pkcs11', token: 'other', id })).to.throw(TypeError, /token "other"/);
    expect(() => keys.open({ store: 'pkcs11', token: token.label, id: randomUUID() })).to.throw(TypeError, /holds no public key/);
  });

  it('logs in again after a logout, reopens closed sessions, re-initialises after a reset, then signs concurrently', async () => {
    const root = await createRootCa({
      id: randomUUID(),
      keys,
      subject: [{ type: 'CN', value: 'Resilient Root' }],
      now: NOW,
      keyType: 'EC-P256',
    });
    // A second handle on the same module (already initialised in this process) acts on the same application state.
    const other = new pkcs11js.PKCS11();
    other.load(token.module);
    try {
      other.C_Initialize();
    } catch (err) {
      expect((err as Error).message).to.match(/CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    }
    const slot = other.C_GetSlotList(true).find((s) => other.C_GetTokenInfo(s).label.trim() === token.label)!;
    const s = other.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    other.C_Logout(s); // CKR_USER_NOT_LOGGED_IN on the next signature
    expect(await signsVerifiably(root.ca, root.record.certificatePem)).to.equal(true);
    other.C_CloseAllSessions(slot); // CKR_SESSION_HANDLE_INVALID on the next signature
    expect(await signsVerifiably(root.ca, root.record.certificatePem)).to.equal(true);
    other.C_Finalize(); // the module loses its state (a token reset): CKR_CRYPTOKI_NOT_INITIALIZED next
    expect(await signsVerifiably(root.ca, root.record.certificatePem)).to.equal(true);
    // Concurrent signatures over a pool smaller than the burst.
    const results = await Promise.all(Array.from({ length: 12 }, () => signsVerifiably(root.ca, root.record.certificatePem)));
    expect(results.every(Boolean)).to.equal(true);
  });

  it('stops with one sentence naming the PIN setting when the token refuses the PIN', () => {
    keys.close(); // the module is logged in once per process: log this one out first
    let thrown: unknown;
    try {
      Pkcs11KeyStore.open({ module: token.module, tokenLabel: token.label, pin: '0000', pinSetting: 'KEYWARD_PKCS11_PIN_FILE' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(ConfigError);
    expect((thrown as ConfigError).message).to.equal(
      `KEYWARD_PKCS11_PIN_FILE was refused by PKCS#11 token "${token.label}" (CKR_PIN_INCORRECT)`,
    );
  });

  it('names the module setting for a file that is not a PKCS#11 module, and the label setting for a missing token', () => {
    const bogus = join(token.dir, 'not-a-module.so');
    writeFileSync(bogus, 'not a shared object');
    expect(() => Pkcs11KeyStore.open({ module: bogus, tokenLabel: token.label, pin: token.pin })).to.throw(
      ConfigError,
      /^KEYWARD_PKCS11_MODULE names .*not-a-module\.so, which could not be loaded as a PKCS#11 module/,
    );
    expect(() => Pkcs11KeyStore.open({ module: token.module, tokenLabel: 'no-such-token', pin: token.pin })).to.throw(
      ConfigError,
      /^KEYWARD_PKCS11_TOKEN_LABEL names token "no-such-token", which the module does not show/,
    );
  });
});

/** A leaf for the CSR file, signed by `ca` through the one certificate writer. */
async function leafFrom(ca: CaContext, csrFile: string): Promise<string> {
  const csr = parseCsr(readFileSync(csrFile, 'utf8'));
  const signed = await signCertificate({
    issuer: ca,
    profile: PROFILES.tlsServer,
    subject: csr.subject,
    spki: csr.spki,
    serialHex: '01' + randomUUID().replace(/-/g, '').slice(0, 30),
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 86_400_000),
  });
  return signed.pem;
}

/** Signs a certificate with `ca` and checks the signature with openssl. */
async function signsVerifiably(ca: CaContext, caPem: string): Promise<boolean> {
  const dir = work();
  await must([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'k.key'),
    '-subj',
    '/CN=x',
    '-out',
    join(dir, 'x.csr'),
  ]);
  const pem = await leafFrom(ca, join(dir, 'x.csr'));
  const out = await must(['verify', '-CAfile', write(dir, 'ca.pem', caPem), write(dir, 'x.pem', pem)]);
  return out.includes(': OK');
}
