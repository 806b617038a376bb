/** Commands as a real client runs them (async: the server under test runs in this process). */
import { execFile } from 'node:child_process';

export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** curl with the given arguments; returns status, parsed body (JSON when it is) and, with `-D -` style needs, the raw output. */
export async function curl(
  url: string,
  args: string[],
): Promise<{ status: number; body: any; stderr: string; headers: Record<string, string> }> {
  const r = await run('curl', ['-s', '-D', '-', '-w', '\n%{http_code}', ...args, url]);
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  const raw = lines.join('\n');
  // Headers of the last response (curl prints one block per response), then the body.
  const blocks = raw.split(/\r\n\r\n/);
  const headers: Record<string, string> = {};
  let bodyStart = 0;
  for (let i = 0; i < blocks.length; i++) {
    if (!/^HTTP\/[\d.]+ \d{3}/.test(blocks[i]!)) break;
    bodyStart = i + 1;
    for (const k of Object.keys(headers)) delete headers[k];
    for (const h of blocks[i]!.split('\r\n').slice(1)) {
      const c = h.indexOf(':');
      if (c > 0) headers[h.slice(0, c).toLowerCase()] = h.slice(c + 1).trim();
    }
  }
  const text = blocks.slice(bodyStart).join('\r\n\r\n');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status, body, stderr: r.stderr, headers };
}
