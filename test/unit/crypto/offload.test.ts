import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { localSigner, parseCsr, parseCsrAsync, verifyCsrSignature, type Csr } from '../../../services/keyward/src/ca/index.ts';
import { CryptoOffload } from '../../../services/keyward/src/crypto/offload.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { expectCodeAsync, opensslCsr, pemToDer, Workdir } from '../ca/fixtures.ts';

const view = (c: Csr) => ({
  subject: c.subject,
  sans: c.sans,
  unsupported: c.unsupportedSans,
  spki: Buffer.from(c.spki).toString('hex'),
  keyType: c.keyType,
  alg: c.signatureAlgorithm,
  pem: c.pem,
});

describe('crypto offload (CSR checks and CA signatures on a worker thread under load)', () => {
  const dir = new Workdir();
  const offload = new CryptoOffload({ threads: 1 });
  let pems: string[];
  after(async () => {
    await offload.close();
    dir.remove();
  });
  before(() => {
    pems = [
      opensslCsr(dir).pem,
      opensslCsr(dir, { key: 'rsa:2048', sans: ['DNS:a.example.internal', 'IP:10.1.2.3'] }).pem,
      opensslCsr(dir, { key: 'ed25519' }).pem,
      opensslCsr(dir, { key: 'ec:P-384' }).pem,
    ];
  });

  it('parses a burst of CSRs exactly as parseCsr does, part of them on the worker', async () => {
    const burst = Array.from({ length: 24 }, (_, i) => pems[i % pems.length]!);
    const parsed = await Promise.all(burst.map((p) => parseCsrAsync(p, offload.verifyCsr)));
    for (const [i, c] of parsed.entries()) expect(view(c)).to.deep.equal(view(parseCsr(burst[i]!)));
  });

  it('refuses in a burst what parseCsr refuses, with the same codes', async () => {
    const der = pemToDer(pems[0]!);
    const badSignature = Buffer.from(der);
    badSignature[badSignature.length - 1]! ^= 0x01;
    const sha1 = opensslCsr(dir, { digest: 'sha1' }).pem;
    const dsa = opensslCsr(dir, {
      key: generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    }).pem;
    const cases: Array<[string | Uint8Array, string]> = [
      [badSignature, 'csr.bad_signature'],
      [sha1, 'csr.bad_signature'],
      [dsa, 'policy.key_not_allowed'],
      [Buffer.from('not a csr'), 'csr.malformed'],
    ];
    const burst = [...cases, ...cases, ...cases];
    const outcomes = await Promise.all(
      burst.map(([input]) =>
        parseCsrAsync(input, offload.verifyCsr).then(
          () => 'accepted',
          (err: unknown) => (err instanceof KeywardError ? err.code : String(err)),
        ),
      ),
    );
    expect(outcomes).to.deep.equal(burst.map(([, code]) => code));
    for (const [input, code] of cases) {
      let sync = 'accepted';
      try {
        parseCsr(input);
      } catch (err) {
        sync = (err as KeywardError).code;
      }
      expect(sync).to.equal(code);
    }
  });

  it("answers an unusable key as verifyCsrSignature does ('unusable-key')", async () => {
    const check = { digest: 'sha256', tbs: Buffer.from('tbs'), spki: Buffer.from('no key'), signature: Buffer.from('sig') };
    const results = await Promise.all(Array.from({ length: 6 }, () => offload.verifyCsr(check)));
    expect(results).to.deep.equal(Array(6).fill(verifyCsrSignature(check)));
    expect(verifyCsrSignature(check)).to.equal('unusable-key');
  });

  it('signs a burst with an EC key: every signature verifies with the CA key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = offload.signer(privateKey);
    const data = Array.from({ length: 20 }, (_, i) => Buffer.from(`tbs ${i}`));
    const sigs = await Promise.all(data.map((d) => signer.sign(d)));
    expect(sigs.some((s) => s instanceof Uint8Array)).to.equal(true);
    for (const [i, s] of sigs.entries()) expect(verify('sha256', data[i]!, { key: publicKey, dsaEncoding: 'der' }, s)).to.equal(true);
    expect(signer.spki).to.deep.equal(localSigner(privateKey).spki);
  });

  it('signs a burst with an RSA key byte for byte as localSigner does (PKCS#1 v1.5 is deterministic)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pooled = offload.signer(privateKey);
    const local = localSigner(privateKey);
    const data = Array.from({ length: 12 }, (_, i) => Buffer.from(`tbs ${i}`));
    const sigs = await Promise.all(data.map((d) => pooled.sign(d)));
    for (const [i, s] of sigs.entries()) expect(Buffer.from(s)).to.deep.equal(Buffer.from(local.sign(data[i]!) as Uint8Array));
    expect(createPublicKey(privateKey).asymmetricKeyType).to.equal('rsa');
  });

  it('runs a lone operation inline (no hop), and everything inline without threads', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const fresh = new CryptoOffload({ threads: 1 });
    expect(fresh.signer(privateKey).sign(Buffer.from('one'))).to.be.instanceOf(Uint8Array);
    const none = new CryptoOffload({ threads: 0 });
    const signer = none.signer(privateKey);
    for (let i = 0; i < 10; i++) expect(signer.sign(Buffer.from(`x${i}`))).to.be.instanceOf(Uint8Array);
    for (let i = 0; i < 10; i++)
      expect(none.verifyCsr({ digest: 'sha256', tbs: Buffer.from('t'), spki: Buffer.from('k'), signature: Buffer.from('s') })).to.equal(
        'unusable-key',
      );
  });

  it('finishes operations in flight inline when the workers stop, and starts new ones afterwards', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const own = new CryptoOffload({ threads: 1 });
    const signer = own.signer(privateKey);
    await Promise.all(Array.from({ length: 8 }, (_, i) => signer.sign(Buffer.from(`warm ${i}`))));
    const inFlight = Array.from({ length: 40 }, (_, i) => signer.sign(Buffer.from(`during ${i}`)));
    await new Promise((r) => setImmediate(r)); // the batch is posted
    await own.close();
    const during = await Promise.all(inFlight);
    for (const [i, s] of during.entries())
      expect(verify('sha256', Buffer.from(`during ${i}`), { key: publicKey, dsaEncoding: 'der' }, s)).to.equal(true);
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => signer.sign(Buffer.from(`again ${i}`))));
    expect(after).to.have.length(8);
    await own.close();
  });

  it('parseCsrAsync keeps parseCsr refusing misuse with TypeError', async () => {
    let err: unknown;
    try {
      await parseCsrAsync(42 as never, offload.verifyCsr);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TypeError);
    await expectCodeAsync(
      () => parseCsrAsync('-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n', offload.verifyCsr),
      'csr.malformed',
    );
  });
});
