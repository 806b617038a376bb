/** openssl as a real client would use it (async: the server under test runs in this process). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const work = (): string => mkdtempSync(join(tmpdir(), 'keyward-ossl-'));

export function openssl(args: string[], input?: string | Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

export async function must(args: string[], input?: string | Buffer): Promise<string> {
  const r = await openssl(args, input);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** `openssl req` with a fresh key; returns the CSR PEM and the key file. */
export async function csr(
  dir: string,
  opts: { subject: string; sans?: string[]; key?: string; extra?: string[] },
): Promise<{ pem: string; keyFile: string; csrFile: string }> {
  const keyFile = join(dir, `k${Math.random().toString(36).slice(2)}.key`);
  const csrFile = keyFile.replace(/\.key$/, '.csr');
  const key = opts.key ?? 'ec:P-256';
  const keyArgs = key.startsWith('ec:') ? ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${key.slice(3)}`] : ['-newkey', key];
  await must([
    'req',
    '-new',
    ...keyArgs,
    '-nodes',
    '-keyout',
    keyFile,
    '-subj',
    opts.subject,
    ...(opts.sans?.length ? ['-addext', `subjectAltName=${opts.sans.join(',')}`] : []),
    ...(opts.extra ?? []),
    '-out',
    csrFile,
  ]);
  return { pem: readFileSync(csrFile, 'utf8'), keyFile, csrFile };
}

export function write(dir: string, name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
