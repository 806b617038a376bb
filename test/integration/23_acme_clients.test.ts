/**
 * Scenario 23 — real ACME clients against a realm's ACME directory (RFC
 * 8555), as an operator runs them: an API client creates External Account
 * Binding credentials (RFC 8555 §7.3.4) through the API; certbot (Debian's
 * package) obtains a certificate with its standalone http-01 server, and
 * openssl verifies it against the realm's CA; lego obtains one through
 * http-01 and one through tls-alpn-01 (RFC 8737), renews, and revokes, after
 * which openssl ocsp against the OCSP responder named in the certificate
 * says revoked; Caddy, with the Caddyfile the README documents, obtains its
 * site's certificate; certbot asking for a name outside the policy fails
 * with rejectedIdentifier.
 *
 * The test names resolve to 127.0.0.1 for Keyward's validator through
 * pebble-challtestsrv's DNS server (KEYWARD_ACME_DNS_SERVER, A records added
 * through its management API): nothing on the machine changes. The clients'
 * challenge servers listen on free ports, which Keyward validates on
 * (KEYWARD_ACME_HTTP01_PORT, KEYWARD_ACME_TLSALPN01_PORT). The directory is
 * served on Keyward's HTTPS listener (KEYWARD_PUBLIC_URL), its certificate
 * from a `keyward ca` cluster CA that each client is told to trust as an
 * operator would: certbot through REQUESTS_CA_BUNDLE, lego through
 * LEGO_CA_CERTIFICATES, Caddy through acme_ca_root.
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caddyObtain, certbotCertonly, lego, type Eab, type LegoOptions } from '../support/acme_clients.ts';
import { BIN, keyward } from '../support/cli.ts';
import { run } from '../support/curl.ts';
import { call, clientToken, integrationEnv, operatorToken, unique } from '../support/env.ts';
import { must, openssl, write } from '../support/openssl.ts';
import { startChallTestSrv, type ChallTestSrv } from '../support/pebble.ts';
import { freePort, serveOnPort, type ServedKeyward } from '../support/served.ts';
import { closeServer, listenTls } from '../../services/keyward/src/server.ts';
import type { Server } from 'node:https';

describe('23 ACME clients: certbot and lego against a realm directory', function () {
  this.timeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), 'keyward-acme-clients-'));
  const realm = unique('acme');
  const domain = `${realm}.example.internal`;
  const clientId = `${realm}-web`;
  let kw: ServedKeyward;
  let tls: Server;
  /** The PEM file of the CA of Keyward's HTTPS certificate, as each client is given it. */
  let caBundle: string;
  let dns: ChallTestSrv;
  let httpPort: number;
  let tlsPort: number;
  let token: string;
  /** The API client's environment for the `keyward` command line. */
  let cliEnv: NodeJS.ProcessEnv;
  let directory: string;
  let rootFile: string;
  let chainFile: string;

  before(async () => {
    dns = await startChallTestSrv();
    httpPort = await freePort();
    tlsPort = await freePort();
    for (const args of [
      ['initialize', 'acme-clients'],
      ['create-control-certificate', '127.0.0.1'],
    ]) {
      const r = await run(BIN, ['ca', ...args, '--dir', dir]);
      expect(r.code, r.stderr).to.equal(0);
    }
    caBundle = join(dir, 'cluster.crt');
    const httpsPort = await freePort();
    kw = await serveOnPort(await freePort(), {
      KEYWARD_TLS_CERT: join(dir, 'control-127.0.0.1.crt'),
      KEYWARD_TLS_KEY: join(dir, 'control-127.0.0.1.key'),
      KEYWARD_TLS_PORT: String(httpsPort),
      KEYWARD_PUBLIC_URL: `https://127.0.0.1:${httpsPort}`,
      KEYWARD_ACME_HTTP01_PORT: String(httpPort),
      KEYWARD_ACME_TLSALPN01_PORT: String(tlsPort),
      KEYWARD_ACME_DNS_SERVER: dns.dns,
    });
    tls = (await listenTls(kw.keyward)) as Server;
    const op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    const policy = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/web`, {
      token: op,
      body: {
        keyTypes: ['EC-P256', 'EC-P384', 'RSA-2048'],
        maxValidityDays: 30,
        subject: { required: [], allowed: ['CN'] },
        san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['serverAuth', 'clientAuth'],
        approval: 'none',
      },
    });
    expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
    const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId, roles: ['keyward-requester'], defaultPolicy: { realm, name: 'web' } },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    token = await clientToken(realm, clientId, created.body.secret);
    cliEnv = {
      PATH: process.env.PATH ?? '',
      HOME: mkdtempSync(join(tmpdir(), 'keyward-acme-home-')),
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: (await integrationEnv()).keycloakUrl,
      KEYWARD_CLIENT_REALM: realm,
      KEYWARD_CLIENT_ID: clientId,
      KEYWARD_CLIENT_SECRET: created.body.secret,
    };
    const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    expect(ca.status).to.equal(200);
    rootFile = write(dir, 'root.pem', ca.body.chain.at(-1));
    chainFile = write(dir, 'ca-chain.pem', ca.body.chain.join(''));
    for (const name of ['svc', 'lego', 'alpn', 'caddy', 'outside-policy.example.org'])
      await dns.addA(name.includes('.') ? name : `${name}.${domain}`, ['127.0.0.1']);
  });

  after(async () => {
    if (tls) await closeServer(tls, 500);
    await kw?.close();
    await dns?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(String(cliEnv?.HOME ?? ''), { recursive: true, force: true });
  });

  const eab = async (): Promise<Eab> => {
    const r = await call(kw.url, 'POST', `/v1/realms/${realm}/acme/eab-keys`, { token });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return { kid: r.body.kid, hmacKey: r.body.hmacKey };
  };
  const verify = (file: string) => must(['verify', '-CAfile', rootFile, '-untrusted', chainFile, file]);
  const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber.toLowerCase();

  it('an API client creates EAB credentials for the realm directory, the HMAC key shown once', async () => {
    const r = await call(kw.url, 'POST', `/v1/realms/${realm}/acme/eab-keys`, { token });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.kid).to.be.a('string').and.not.equal('');
    expect(Buffer.from(r.body.hmacKey, 'base64url')).to.have.length.of.at.least(32);
    directory = r.body.directory;
    expect(directory)
      .to.equal(`${kw.keyward.config.publicUrl}/acme/${realm}/directory`)
      .and.match(/^https:/);
    const listed = await call(kw.url, 'GET', `/v1/realms/${realm}/acme/eab-keys`, { token });
    expect(listed.status).to.equal(200);
    expect(JSON.stringify(listed.body)).to.include(r.body.kid).and.not.include(r.body.hmacKey);
    const served = await run('curl', ['-sS', '--cacert', caBundle, directory]);
    expect(served.code, served.stderr).to.equal(0);
    expect(JSON.parse(served.stdout).meta.externalAccountRequired).to.equal(true);
  });

  it('certbot certonly --standalone (http-01), with a key from keyward acme eab create, gets a certificate openssl verifies', async () => {
    const created = await keyward(['acme', 'eab', 'create', '--realm', realm, '--json'], cliEnv);
    expect(created.status, created.stderr).to.equal(0);
    const key = JSON.parse(created.stdout) as { kid: string; hmacKey: string; directory: string };
    expect(key.directory).to.match(new RegExp(`/acme/${realm}/directory$`));
    const name = `svc.${domain}`;
    const r = await certbotCertonly({ server: directory, dir: join(dir, 'certbot'), eab: key, domains: [name], httpPort, caBundle });
    expect(r.code, `${r.stdout}\n${r.stderr}\n${r.log.slice(-4000)}`).to.equal(0);
    const cert = join(r.live, 'cert.pem');
    expect((await verify(cert)).trim()).to.match(/: OK$/);
    expect(new X509Certificate(readFileSync(cert)).subjectAltName).to.equal(`DNS:${name}`);
    // certbot's fullchain.pem is what a web server is given: the leaf then the issuing chain.
    expect((await verify(join(r.live, 'fullchain.pem'))).trim()).to.match(/: OK$/);
  });

  let legoHttp: LegoOptions;
  let firstSerial: string;

  it('lego run --http obtains a certificate that openssl verifies', async () => {
    legoHttp = {
      server: directory,
      path: join(dir, 'lego-http'),
      eab: await eab(),
      domains: [`lego.${domain}`],
      challenge: { type: 'http-01', port: httpPort },
      caBundle,
    };
    const r = await lego(legoHttp, ['run']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect((await verify(r.crt)).trim()).to.match(/: OK$/);
    firstSerial = serialOf(r.crt);
  });

  it('lego renew --days 9999 replaces it with a new certificate for the same name', async () => {
    const r = await lego(legoHttp, ['renew', '--days', '9999', '--no-random-sleep']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout + r.stderr).to.match(/renew/i);
    const renewed = serialOf(r.crt);
    expect(renewed).to.not.equal(firstSerial);
    expect((await verify(r.crt)).trim()).to.match(/: OK$/);
    expect(new X509Certificate(readFileSync(r.crt)).subjectAltName).to.equal(`DNS:lego.${domain}`);
    firstSerial = renewed;
  });

  it('lego revoke revokes it, and openssl ocsp against the responder in the certificate says revoked', async () => {
    const crt = join(legoHttp.path, 'certificates', `lego.${domain}.crt`);
    // lego's .crt holds the leaf then the issuing CA: the issuer for the OCSP request.
    const [leaf, issuer] = readFileSync(crt, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
    const leafFile = write(dir, 'lego-leaf.pem', leaf!);
    const issuerFile = write(dir, 'lego-issuer.pem', issuer!);
    const ocspUrl = (await must(['x509', '-in', leafFile, '-noout', '-ocsp_uri'])).trim();
    expect(ocspUrl).to.match(new RegExp(`/v1/realms/${realm}/ocsp$`));
    const ocsp = () =>
      openssl(['ocsp', '-issuer', issuerFile, '-cert', leafFile, '-url', ocspUrl, '-CAfile', rootFile, '-VAfile', issuerFile]);
    expect((await ocsp()).stdout).to.match(/: good/);
    const r = await lego(legoHttp, ['revoke', '--keep', '--reason', '4']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    const after = await ocsp();
    expect(after.stdout + after.stderr).to.match(/: revoked/);
    expect(after.stdout).to.match(/Reason: superseded/);
    expect(after.stdout + after.stderr).to.contain('Response verify OK');
    const stored = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serialOf(leafFile)}`, { token });
    expect(stored.status, JSON.stringify(stored.body)).to.equal(200);
    expect(stored.body.status).to.equal('revoked');
  });

  it('lego run --tls obtains a certificate through tls-alpn-01', async () => {
    const r = await lego(
      {
        server: directory,
        path: join(dir, 'lego-tls'),
        eab: await eab(),
        domains: [`alpn.${domain}`],
        challenge: { type: 'tls-alpn-01', port: tlsPort },
        caBundle,
      },
      ['run'],
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect((await verify(r.crt)).trim()).to.match(/: OK$/);
    expect(new X509Certificate(readFileSync(r.crt)).subjectAltName).to.equal(`DNS:alpn.${domain}`);
  });

  it('Caddy with the Caddyfile the README documents (acme_ca, acme_eab) obtains a certificate that openssl verifies', async () => {
    const name = `caddy.${domain}`;
    const r = await caddyObtain({
      server: directory,
      dir: join(dir, 'caddy'),
      eab: await eab(),
      domain: name,
      httpPort,
      httpsPort: tlsPort,
      caRoot: caBundle,
    });
    expect(r.certificate, r.log.slice(-4000)).to.be.a('string');
    const file = write(dir, 'caddy.pem', r.certificate!);
    expect((await verify(file)).trim()).to.match(/: OK$/);
    expect(new X509Certificate(r.certificate!).subjectAltName).to.equal(`DNS:${name}`);
  });

  it('certbot for a name outside the policy fails with rejectedIdentifier, and nothing is issued', async () => {
    const r = await certbotCertonly({
      server: directory,
      dir: join(dir, 'certbot-outside'),
      eab: await eab(),
      domains: ['outside-policy.example.org'],
      httpPort,
      caBundle,
    });
    expect(r.code).to.not.equal(0);
    expect(r.stdout + r.stderr + r.log).to.include('urn:ietf:params:acme:error:rejectedIdentifier');
    const listed = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates`, { token });
    expect(JSON.stringify(listed.body)).to.not.include('outside-policy');
  });
});
