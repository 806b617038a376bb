/**
 * http-01 (RFC 8555 §8.3): GET http://<name>:<port>/.well-known/acme-challenge/<token>
 * must answer the key authorization. Bounded: one attempt within the
 * validation timeout, at most 8 KiB read, at most 3 redirects, and those
 * only to http or https on port 80 or 443 and to allowed addresses (RFC 8555
 * §10.2 on server-side request forgery). Certificates of an https redirect
 * are not checked (RFC 8555 §8.3).
 */
import http from 'node:http';
import https from 'node:https';
import { isIPv6 } from 'node:net';
import { AcmeProblem } from '../problem.ts';
import type { AllowedNetworks } from './networks.ts';
import type { NameResolver } from './resolve.ts';

export const HTTP01_MAX_BYTES = 8192;
const MAX_REDIRECTS = 3;

export interface Http01Options {
  readonly port: number;
  readonly timeoutMs: number;
  readonly networks: AllowedNetworks;
  readonly resolver: NameResolver;
}

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
  readonly body: string;
}

function get(url: URL, address: string, deadline: number): Promise<Answer> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolveAnswer, rejectAnswer) => {
    let late: NodeJS.Timeout | undefined;
    const resolve = (a: Answer) => {
      clearTimeout(late);
      resolveAnswer(a);
    };
    const reject = (err: unknown) => {
      clearTimeout(late);
      rejectAnswer(err);
    };
    const req = client.request(
      {
        host: address,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        path: url.pathname + url.search,
        method: 'GET',
        headers: { Host: url.host, 'User-Agent': 'Keyward-ACME-validation', Accept: '*/*' },
        timeout: Math.max(1, deadline - Date.now()),
        servername: url.protocol === 'https:' && !/^[\d.]+$|:/.test(url.hostname) ? url.hostname : undefined,
        rejectUnauthorized: false,
        agent: false, // one connection per validation, never pooled
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > HTTP01_MAX_BYTES) {
            req.destroy();
            reject(new AcmeProblem('unauthorized', `The challenge response is larger than ${HTTP01_MAX_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    // A hard bound on the whole exchange: the socket timeout alone would let a server drip bytes forever.
    late = setTimeout(
      () => req.destroy(new AcmeProblem('connection', `${url.host} did not answer in time`)),
      Math.max(1, deadline - Date.now()),
    );
    req.on('timeout', () => req.destroy(new AcmeProblem('connection', `${url.host} did not answer in time`)));
    req.on('error', (err) =>
      reject(err instanceof AcmeProblem ? err : new AcmeProblem('connection', `Could not fetch ${url.href}: ${(err as Error).message}`)),
    );
    req.end();
  });
}

/**
 * Fetches the challenge response and compares it with the key authorization (whitespace trimmed).
 * @throws AcmeProblem connection, dns, unauthorized, incorrectResponse
 */
export async function validateHttp01(name: string, token: string, keyAuthorization: string, o: Http01Options): Promise<string> {
  const deadline = Date.now() + o.timeoutMs;
  const host = isIPv6(name) ? `[${name}]` : name;
  let url = new URL(`http://${host}:${o.port}/.well-known/acme-challenge/${token}`);
  for (let hop = 0; ; hop++) {
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const [address] = o.networks.filter(hostname, await o.resolver.addresses(hostname));
    const answer = await get(url, address!, deadline);
    if (answer.status >= 300 && answer.status < 400 && answer.location) {
      if (hop >= MAX_REDIRECTS) throw new AcmeProblem('connection', `More than ${MAX_REDIRECTS} redirects`);
      const next = new URL(answer.location, url);
      const port = next.port || (next.protocol === 'https:' ? '443' : '80');
      if ((next.protocol !== 'http:' && next.protocol !== 'https:') || (port !== '80' && port !== '443'))
        throw new AcmeProblem('connection', `Redirect to ${next.protocol}//…:${port} refused: only http or https on port 80 or 443`);
      url = next;
      continue;
    }
    if (answer.status !== 200) throw new AcmeProblem('unauthorized', `${url.href} answered HTTP ${answer.status}`);
    if (answer.body.trim() !== keyAuthorization)
      throw new AcmeProblem('incorrectResponse', `The response at ${url.href} is not the key authorization`);
    return address!;
  }
}
