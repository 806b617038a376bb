/**
 * `keyward certificate`: request, renew, revoke, list, get and inspect
 * certificates from the command line — after smallstep's `step ca
 * certificate` / `step ca renew --daemon` and Vault's `vault write
 * pki/issue`, except that the key is made here and never leaves the machine.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiFromEnv, isApiError, mutualTlsClient, type Api } from '../api.ts';
import type { KeyType } from '../certificate_files.ts';
import { confirm, out, parse, UsageError, type Command } from '../command.ts';
import { parseDuration } from '../../kernel/duration.ts';
import { isKeywardError } from '../../kernel/errors.ts';

const enc = encodeURIComponent;

/** Keys, CSRs, certificate decoding and OCSP: loaded when a certificate command runs, not with every other command. */
let F: typeof import('../certificate_files.ts');

/** RFC 5280 §5.3.1 reasons a certificate's holder or a revoker may give. */
const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
] as const;

/** A duration option (`PT1H`) checked here, so that a typo is a usage error (exit 2). */
export function durationOption(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    if (isKeywardError(err)) throw new UsageError(`--${name}: ${err.message}`);
    throw err;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const log = (line: string) => out(`${stamp()} ${line}`);

// ------------------------------------------------------------------ request

/** The name of the files `request` (and `end-entities issue`) write: `<name>.crt`, `<name>.chain.pem`, `<name>.key`. */
export function fileNameOption(name: string | undefined, command: string): string {
  if (!name) throw new UsageError(`${command} needs a name: the files are <name>.crt, <name>.chain.pem and <name>.key`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new UsageError(`"${name}" is not a file name (letters, digits, . _ -)`);
  return name;
}

/** The CSR to send: `--csr FILE` as it is, or a key made here (`--key-type`, `--subject`, `--san`) and its CSR. */
export async function csrOption(v: Record<string, any>): Promise<{ csrPem: string; keyPem?: string }> {
  F ??= await import('../certificate_files.ts');
  if (v.csr) {
    if (v.san?.length || v.subject || v['key-type'])
      throw new UsageError('--csr brings its own names and key: drop --san, --subject and --key-type');
    return { csrPem: F.readText(v.csr, 'the CSR') };
  }
  return F.localKeyAndCsr(v['key-type'], v.subject, v.san ?? []);
}

/**
 * What follows the server's answer to a CSR, for `request` and `end-entities
 * issue`: the key made here is written first; a request that waits for
 * approval prints its id (or, with `--wait`, is asked after until decided);
 * an issued certificate is written as `<name>.crt` and `<name>.chain.pem`.
 */
export async function deliver(
  api: Api,
  realm: string,
  answer: any,
  target: { name: string; dir: string; keyPem?: string | undefined },
  v: Record<string, any>,
): Promise<number> {
  F ??= await import('../certificate_files.ts');
  const { name, dir, keyPem } = target;
  if (keyPem) {
    // Written before anything else: a request that waits for approval is completed with this key later.
    mkdirSync(dir, { recursive: true });
    F.writeAtomic(join(dir, `${name}.key`), keyPem, 0o600);
  }
  let view = answer?.serialNumber ? answer : undefined;
  if (!view) {
    const id = answer?.requestId;
    process.stderr.write(`request ${id} waits for approval by a keyward-approver of realm ${realm} (policy ${answer?.policy})\n`);
    if (!v.wait) {
      if (v.json) out(JSON.stringify(answer, null, 2));
      else out(id);
      return 0;
    }
    view = await waitFor(api, realm, id, v['wait-timeout'] ? durationOption('wait-timeout', v['wait-timeout']) : 600);
  }
  const files = F.writeCertificateFiles(dir, name, view);
  if (v.json) out(JSON.stringify({ ...view, files: { ...files, key: keyPem ? files.key : undefined } }, null, 2));
  else {
    out(`issued ${view.serialNumber}  ${view.subject}  valid until ${view.notAfter}`);
    out(`  ${files.crt}\n  ${files.chain}${keyPem ? `\n  ${files.key} (mode 0600)` : ''}`);
  }
  return 0;
}

async function request(api: Api, nameArg: string | undefined, v: Record<string, any>): Promise<number> {
  const name = fileNameOption(nameArg, 'request');
  let policy: string | undefined = v.policy;
  let realm: string | undefined = v.realm;
  if (policy?.includes('/')) {
    const [pr, pn] = policy.split('/');
    if (realm && pr !== realm) throw new UsageError(`--policy ${policy} belongs to realm ${pr}, not --realm ${realm}`);
    realm = pr;
    policy = pn;
  }
  if (!realm) throw new UsageError('name the realm with --realm R (or --policy realm/name)');
  if (v.validity) durationOption('validity', v.validity);
  const { csrPem, keyPem } = await csrOption(v);
  const { data: answer } = await api.client.POST('/v1/realms/{realm}/certificates', {
    params: { path: { realm } },
    body: { csr: csrPem, policy, validity: v.validity },
  });
  return deliver(api, realm, answer, { name, dir: v.out ?? '.', keyPem }, v);
}

async function waitFor(api: Api, realm: string, id: string, timeoutSeconds: number) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let delay = 2_000;
  for (;;) {
    const r = await api.request('GET', `/v1/realms/${enc(realm)}/certificate-requests/${enc(id)}`);
    if (r.status === 'issued' && r.certificate) return r.certificate;
    if (r.status === 'rejected') throw new Error(`request ${id} was rejected by ${r.decidedBy?.name ?? 'an approver'}: ${r.reason ?? ''}`);
    if (Date.now() + delay > deadline) throw new Error(`request ${id} is still pending after ${timeoutSeconds} s (--wait-timeout)`);
    process.stderr.write(`${stamp()} request ${id} still pending; asking again in ${delay / 1000} s\n`);
    await sleep(delay);
    delay = Math.min(delay * 2, 30_000);
  }
}

// ------------------------------------------------------------------ revoke, list, get, inspect

function serialFromFile(path: string): { serial: string; realm: string | undefined } {
  const [cert] = F.certificatesOf(F.readText(path, 'the certificate'));
  if (!cert) throw new UsageError(`${path} holds no PEM certificate`);
  return { serial: F.summarise(cert).serialNumber, realm: F.realmOf(cert) };
}

async function revoke(api: Api, serialArg: string | undefined, v: Record<string, any>): Promise<number> {
  let serial = serialArg;
  let realm: string | undefined = v.realm;
  if (v.cert) {
    if (serial) throw new UsageError('name the certificate by serial or by --cert, not both');
    const f = serialFromFile(v.cert);
    serial = f.serial;
    realm ??= f.realm;
  }
  if (!serial) throw new UsageError('revoke needs a serial number or --cert FILE');
  if (!realm) throw new UsageError('name the realm with --realm R');
  const reason: string = v.reason ?? 'unspecified';
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason))
    throw new UsageError(`unknown reason "${reason}" (RFC 5280: ${REVOCATION_REASONS.join(', ')})`);
  const undo = reason === 'certificateHold' ? 'keyward certificate release lifts a hold.' : 'This cannot be undone.';
  await confirm(`Revoke certificate ${serial} of realm ${realm} (${reason})? ${undo}`, serial, v.yes);
  const { data: r } = await api.client.POST('/v1/realms/{realm}/certificates/{serial}/revoke', {
    params: { path: { realm, serial } },
    body: { reason: reason as (typeof REVOCATION_REASONS)[number] },
  });
  if (v.json) out(JSON.stringify(r, null, 2));
  else out(`revoked ${r.serialNumber} (${r.revocationReason ?? reason}) at ${r.revokedAt}`);
  return 0;
}

/** Releases a certificate from hold (revoked with certificateHold): valid again. */
async function release(api: Api, serialArg: string | undefined, v: Record<string, any>): Promise<number> {
  let serial = serialArg;
  let realm: string | undefined = v.realm;
  if (v.cert) {
    if (serial) throw new UsageError('name the certificate by serial or by --cert, not both');
    const f = serialFromFile(v.cert);
    serial = f.serial;
    realm ??= f.realm;
  }
  if (!serial) throw new UsageError('release needs a serial number or --cert FILE');
  if (!realm) throw new UsageError('name the realm with --realm R');
  const r = await api.request('POST', `/v1/realms/${enc(realm)}/certificates/${enc(serial)}/release`, {});
  if (v.json) out(JSON.stringify(r, null, 2));
  else out(`released ${r.serialNumber} from hold: ${r.status}`);
  return 0;
}

/** A table for people: a header and aligned columns, two spaces apart, the last column not padded. */
export function table(head: readonly string[], rows: readonly (readonly unknown[])[]): void {
  const cells = [head, ...rows].map((row) => row.map((c) => String(c ?? '')));
  const widths = head.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  for (const row of cells) out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

async function list(api: Api, v: Record<string, any>): Promise<number> {
  if (!v.realm) throw new UsageError('name the realm with --realm R');
  const query: Record<string, string> = {};
  for (const [opt, param] of [
    ['status', 'status'],
    ['subject', 'subject'],
    ['san', 'san'],
    ['requester', 'requester'],
    ['policy', 'policy'],
    ['expiring-before', 'expiringBefore'],
    ['expiring-within', 'expiringWithin'],
    ['sort', 'sort'],
    ['after', 'after'],
    ['first', 'first'],
    ['max', 'max'],
  ] as const) {
    const value = Array.isArray(v[opt]) ? v[opt][0] : v[opt];
    if (value !== undefined) query[param] = String(value);
  }
  // --expiring-within 30d (or 30, or an ISO 8601 duration such as PT12H)
  const within = query.expiringWithin;
  if (within !== undefined) {
    const days = /^(\d+)d?$/i.exec(within);
    if (!days && !/^P/i.test(within)) throw new UsageError('--expiring-within takes days (30d) or an ISO 8601 duration (PT12H)');
    query.expiringWithin = days ? days[1]! : within.toUpperCase();
  }
  if (v.format !== undefined && v.format !== 'table') {
    const accept = { csv: 'text/csv', ndjson: 'application/x-ndjson' }[v.format as string];
    if (!accept) throw new UsageError('--format is table, csv or ndjson');
    const q = new URLSearchParams(query);
    const res = await api.download(`/v1/realms/${enc(v.realm)}/certificates${q.size ? `?${q}` : ''}`, accept);
    // Streamed as it arrives: an inventory of any size, written line by line.
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
    }
    return 0;
  }
  const { data: r } = await api.client.GET('/v1/realms/{realm}/certificates', { params: { path: { realm: v.realm }, query } });
  if (v.json) {
    out(JSON.stringify(r.items, null, 2));
    return 0;
  }
  const rows = r.items.map((c) => [c.serialNumber, c.status, c.notAfter, c.policy, c.subject, c.sans.join(',')]);
  table(['SERIAL', 'STATUS', 'NOT AFTER', 'POLICY', 'SUBJECT', 'SANS'], rows);
  if (!rows.length) process.stderr.write('no certificates match\n');
  return 0;
}

async function get(api: Api, serial: string | undefined, v: Record<string, any>): Promise<number> {
  if (!serial) throw new UsageError('get needs a serial number');
  if (!v.realm) throw new UsageError('name the realm with --realm R');
  const { data: r } = await api.client.GET('/v1/realms/{realm}/certificates/{serial}', { params: { path: { realm: v.realm, serial } } });
  if (v.json) {
    out(JSON.stringify(r, null, 2));
    return 0;
  }
  const pem = r.certificate + (v.chain ? r.chain.join('') : '');
  if (v.out) {
    F.writeAtomic(v.out, pem, 0o644);
    process.stderr.write(`wrote ${v.out} (${r.status}, valid until ${r.notAfter})\n`);
  } else process.stdout.write(pem);
  return 0;
}

async function inspect(api: Api, target: string | undefined, v: Record<string, any>): Promise<number> {
  if (!target) throw new UsageError('inspect needs a certificate file or a serial number');
  let pem: string;
  let chain: string[] = [];
  let realm: string | undefined = v.realm;
  if (existsSync(target)) {
    pem = F.readText(target, 'the certificate');
  } else {
    if (!/^[0-9a-fA-F:]+$/.test(target)) throw new UsageError(`${target} is neither a file nor a serial number`);
    if (!realm) throw new UsageError('name the realm with --realm R to inspect a certificate by serial');
    const { data: r } = await api.client.GET('/v1/realms/{realm}/certificates/{serial}', { params: { path: { realm, serial: target } } });
    pem = r.certificate;
    chain = r.chain;
  }
  const [cert, ...rest] = F.certificatesOf(pem);
  if (!cert) throw new UsageError(`${target} holds no PEM certificate`);
  const s = F.summarise(cert);
  realm ??= F.realmOf(cert);
  let revocation: { status: string; revokedAt?: string; reason?: string; responder?: string } = { status: 'not asked' };
  if (realm && !v['no-ocsp']) {
    const responder = `${api.baseUrl}/v1/realms/${enc(realm)}/ocsp`;
    try {
      const issuerPem =
        rest[0]?.toString('pem') ??
        chain[0] ??
        (await api.client.GET('/v1/realms/{realm}/ca', { params: { path: { realm } } })).data.chain?.[0];
      const [issuer] = F.certificatesOf(issuerPem);
      const res = await fetch(responder, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request' },
        body: Buffer.from(F.ocspRequest(cert, issuer!)),
      });
      revocation = { ...F.ocspStatus(new Uint8Array(await res.arrayBuffer())), responder };
    } catch (err) {
      revocation = { status: `not known (${(err as Error).message})`, responder };
    }
  }
  if (v.json) {
    out(JSON.stringify({ ...s, realm, revocation }, null, 2));
    return 0;
  }
  const line = (k: string, val: string) => out(`${k.padEnd(20)} ${val}`);
  line('Subject', s.subject || '(empty)');
  line('SANs', s.sans.join(', ') || '(none)');
  line('Key', s.key);
  line('Valid from', s.notBefore);
  line('Valid until', `${s.notAfter} (${F.timeLeft(s.secondsLeft)})`);
  line('Key usage', s.keyUsage.join(', ') || '(none)');
  line('Extended key usage', s.extendedKeyUsage.join(', ') || '(none)');
  line('Issuer', s.issuer);
  line('Serial', s.serialNumber);
  line('SHA-256 fingerprint', s.sha256Fingerprint);
  line('CRL', s.crlUrls.join(', ') || '(none)');
  line('OCSP', s.ocspUrls.join(', ') || '(none)');
  line(
    'Revocation (OCSP)',
    revocation.status === 'revoked'
      ? `revoked at ${revocation.revokedAt}${revocation.reason ? ` (${revocation.reason})` : ''}`
      : `${revocation.status}${revocation.responder ? ` (asked ${revocation.responder})` : ''}`,
  );
  return 0;
}

// ------------------------------------------------------------------ renew

/** When to renew: `33%` of the lifetime left, or a duration (`PT8H`) before notAfter. */
export function renewalTime(notBefore: Date, notAfter: Date, renewBefore: string, jitter: number): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  let before: number;
  const pct = /^(\d{1,2}(?:\.\d+)?)%$/.exec(renewBefore);
  if (pct) before = (lifetime * Number(pct[1])) / 100;
  else before = durationOption('renew-before', renewBefore) * 1000;
  // Jitter (up to 5 % of the lifetime earlier) spreads the renewals of many machines that were set up together.
  return new Date(notAfter.getTime() - before - jitter * lifetime * 0.05);
}

async function renewCommand(v: Record<string, any>): Promise<number> {
  if (!v.cert || !v.key) throw new UsageError('renew needs --cert FILE and --key FILE (the certificate to renew and its key)');
  const renewBefore: string = v['renew-before'] ?? '33%';
  if (!/^\d{1,2}(\.\d+)?%$/.test(renewBefore)) durationOption('renew-before', renewBefore);
  const baseUrl: string | undefined = v.url ?? process.env.KEYWARD_URL;
  if (!baseUrl?.startsWith('https://'))
    throw new UsageError("renewal runs on Keyward's HTTPS listener: give --url https://… (or an https:// KEYWARD_URL)");
  const ca = v['ca-file'] ? F.readText(v['ca-file'], 'the CA file') : undefined;
  const chainPath = v.cert.endsWith('.crt') ? v.cert.slice(0, -4) + '.chain.pem' : undefined;
  const stop = new AbortController();
  const onSignal = (sig: string) => {
    if (stop.signal.aborted) return;
    log(`${sig}: stopping`);
    stop.abort();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const current = () => {
    const certPem = F.readText(v.cert, 'the certificate');
    const [cert] = F.certificatesOf(certPem);
    if (!cert) throw new UsageError(`${v.cert} holds no PEM certificate`);
    return { certPem, cert, keyPem: F.readText(v.key, 'the key') };
  };

  /** One renewal: new files in place, or a KeywardApiError. */
  const renewOnce = async () => {
    const { certPem, cert, keyPem } = current();
    const realm = v.realm ?? F.realmOf(cert);
    if (!realm) throw new UsageError(`cannot tell the realm of ${v.cert} from its CRL URL: give --realm R`);
    let newKeyPem: string | undefined;
    let csr: string | undefined;
    if (v.rekey) {
      const type = F.keyTypeOf(cert) as KeyType;
      const key = await F.generateKey(F.keyTypeOption(type));
      newKeyPem = key.pem;
      csr = await F.buildCsr(key.keys, type, undefined, []);
    } else await F.keysFromPem(keyPem, F.keyTypeOption(F.keyTypeOf(cert))); // a key that does not load fails here, not in the handshake
    const tls = await mutualTlsClient(baseUrl, { cert: certPem, key: keyPem, ca });
    const { data: view } = await tls.POST('/v1/realms/{realm}/certificates/renew', {
      params: { path: { realm } },
      body: csr ? { csr } : {},
    });
    if (newKeyPem) F.writeAtomic(v.key, newKeyPem, 0o600);
    if (chainPath && existsSync(chainPath)) F.writeAtomic(chainPath, view.certificate + view.chain.join(''), 0o644);
    F.writeAtomic(v.cert, view.certificate, 0o644);
    log(`renewed ${v.cert}: serial ${view.serialNumber}, valid until ${view.notAfter}${newKeyPem ? ' (new key)' : ''}`);
    if (v.exec) await runHook(v.exec);
    return view;
  };

  if (!v.daemon) {
    try {
      await renewOnce();
      return 0;
    } catch (err) {
      if (isApiError(err) && err.status >= 400 && err.status < 500) {
        log(`renewal refused: ${err.message}; the current files are kept`);
        return 1;
      }
      throw err;
    }
  }

  let failures = 0;
  log(`renewing ${v.cert} before ${renewBefore} of its lifetime is left; SIGTERM or SIGINT stops`);
  while (!stop.signal.aborted) {
    const { cert } = current();
    const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
    let at = renewalTime(cert.notBefore, cert.notAfter, renewBefore, Math.random());
    if (failures > 0) {
      // Exponential backoff after a failure: 1 s, 2 s, 4 s … at most a tenth of the lifetime (and 10 min).
      const backoff = Math.min(1000 * 2 ** (failures - 1), lifetime / 10, 600_000);
      at = new Date(Date.now() + backoff);
    }
    if (Date.now() >= cert.notAfter.getTime()) {
      log(`${v.cert} expired at ${cert.notAfter.toISOString()} and can no longer be renewed with itself; request a new certificate`);
      return 1;
    }
    const wait = at.getTime() - Date.now();
    if (wait > 0) {
      if (failures === 0) log(`next renewal at ${at.toISOString()} (valid until ${cert.notAfter.toISOString()})`);
      await sleep(wait, stop.signal);
      if (stop.signal.aborted) break;
    }
    try {
      await renewOnce();
      failures = 0;
    } catch (err) {
      failures++;
      if (err instanceof UsageError) throw err;
      const refused = isApiError(err) && err.status >= 400 && err.status < 500;
      log(`renewal ${refused ? 'refused' : 'failed'}: ${(err as Error).message}; the current files are kept; trying again later`);
    }
  }
  log('stopped');
  return 0;
}

function runHook(cmd: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => {
      log(`hook failed to start: ${err.message}`);
      resolve();
    });
    child.on('exit', (code, signal) => {
      log(`hook "${cmd}" exited ${signal ?? code}`);
      resolve();
    });
  });
}

export const certificate: Command = {
  name: 'certificate',
  summary: 'Request, renew, revoke, list, get and inspect certificates (the key is made here and never sent)',
  help: `
Usage:
  keyward certificate request <name> --realm R [--san DNS:…|IP:…|URI:…|email:…]… [--subject CN=…]
        [--policy [realm/]name] [--key-type EC-P256|EC-P384|RSA-2048|RSA-3072|RSA-4096] [--validity PT1H]
        [--csr FILE] [--out DIR] [--wait [--wait-timeout PT10M]] [--json]
  keyward certificate renew --cert FILE --key FILE [--realm R] [--rekey] [--daemon]
        [--renew-before 33%|DURATION] [--exec 'CMD'] [--url https://…] [--ca-file FILE]
  keyward certificate revoke <serial> | --cert FILE  [--realm R] [--reason REASON] [--yes] [--json]
  keyward certificate release <serial> | --cert FILE  [--realm R] [--json]
  keyward certificate list --realm R [--status valid|revoked|expired] [--subject S] [--san S] [--requester R]
        [--policy P] [--expiring-before DATE] [--expiring-within 30d] [--sort createdAt|notAfter] [--after SERIAL]
        [--first N] [--max N] [--json | --format table|csv|ndjson]
  keyward certificate get <serial> --realm R [--chain] [--out FILE] [--json]
  keyward certificate inspect <FILE|serial> [--realm R] [--no-ocsp] [--json]

list --expiring-within 30d shows the valid certificates that expire within
30 days (also 30, P30D, PT12H); --sort notAfter lists the soonest expiry first,
and --after SERIAL continues after the last line of a page. --format csv or
ndjson writes every matching certificate (no paging) as CSV or JSON Lines,
streamed as the server reads them: an inventory export.

request makes a key here (EC-P256 unless --key-type says otherwise), builds
the CSR and sends only the CSR; it writes <name>.key (mode 0600), <name>.crt
(the certificate) and <name>.chain.pem (certificate and CA chain) into --out
(default: the current directory). The subject defaults to CN=<first DNS
SAN>. --validity asks for a lifetime as an ISO 8601 duration (PT1H, P30D); the
policy's maximum otherwise. When the policy needs approval it prints the
request id; --wait asks until a keyward-approver decides.

renew uses the certificate itself as the credential, on Keyward's HTTPS
listener (mutual TLS, like step ca renew): no token, no client secret. It
issues the same subject and SANs under the current policy of whoever requested
the certificate, and refuses (with a code) when that API client was disabled
or deleted in Keycloak or the policy no longer allows the certificate. The
files are replaced atomically (the key stays 0600); --exec runs after each
renewal (reload a server). With --daemon it keeps renewing when --renew-before
of the lifetime is left (default 33%, with jitter), retries failures with
exponential backoff and stops cleanly on SIGTERM or SIGINT. --ca-file names the
CA of the HTTPS listener's certificate.

revoke takes RFC 5280 reasons: ${REVOCATION_REASONS.join(', ')}; it asks
before revoking unless --yes. --reason certificateHold puts the certificate on
hold, which release lifts (RFC 5280 §5.3.1). inspect decodes a certificate (subject, SANs,
key, validity and time left, key usages, issuer, serial, SHA-256 fingerprint,
CRL and OCSP URLs) and asks Keyward's OCSP responder whether it is revoked.

Other commands authenticate as the rest of the CLI: KEYWARD_TOKEN,
KEYWARD_CLIENT_ID/KEYWARD_CLIENT_SECRET (with KEYWARD_CLIENT_REALM and
KEYWARD_KEYCLOAK_URL), or keyward login. KEYWARD_URL names the server.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      san: { type: 'string', multiple: true },
      subject: { type: 'string', multiple: true },
      policy: { type: 'string' },
      'key-type': { type: 'string' },
      validity: { type: 'string' },
      csr: { type: 'string' },
      out: { type: 'string' },
      wait: { type: 'boolean' },
      'wait-timeout': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      rekey: { type: 'boolean' },
      daemon: { type: 'boolean' },
      'renew-before': { type: 'string' },
      exec: { type: 'string' },
      url: { type: 'string' },
      'ca-file': { type: 'string' },
      reason: { type: 'string' },
      yes: { type: 'boolean' },
      status: { type: 'string' },
      requester: { type: 'string' },
      'expiring-before': { type: 'string' },
      'expiring-within': { type: 'string' },
      sort: { type: 'string' },
      after: { type: 'string' },
      format: { type: 'string' },
      first: { type: 'string' },
      max: { type: 'string' },
      chain: { type: 'boolean' },
      'no-ocsp': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    F = await import('../certificate_files.ts');
    const [action, arg, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const v: Record<string, any> = { ...values };
    if (action !== 'list') {
      if ((values.subject?.length ?? 0) > 1) throw new UsageError('give --subject once');
      v.subject = values.subject?.[0];
    } else v.subject = values.subject?.[0];
    if (action === 'renew') return renewCommand(v);
    const api = apiFromEnv();
    switch (action) {
      case 'request':
        return request(api, arg, v);
      case 'revoke':
        return revoke(api, arg, v);
      case 'release':
        return release(api, arg, v);
      case 'list':
        if (arg) throw new UsageError('list takes filters, not a name');
        v.san = values.san?.[0];
        // As --san is written for request (DNS:web.example), in the flat form the store searches (dns:web.example).
        if (v.san) v.san = /^(dns|ip|uri|email):/i.test(v.san) ? v.san.replace(/^[^:]+/, (k: string) => k.toLowerCase()) : `dns:${v.san}`;
        return list(api, v);
      case 'get':
        return get(api, arg, v);
      case 'inspect':
        return inspect(api, arg, v);
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (request, renew, revoke, release, list, get, inspect)`);
    }
  },
};
