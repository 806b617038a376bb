/**
 * Where webhooks may be sent: only to addresses inside the configured
 * networks (KEYWARD_WEBHOOK_ALLOWED_NETWORKS), checked when a webhook is
 * saved and again for every address a name resolves to at connection time,
 * so that a name re-pointed later (DNS rebinding) cannot reach the
 * installation's own services, its database or a cloud metadata endpoint.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { KeywardError } from '../kernel/errors.ts';

/** The allowed networks as a matcher. `cidrs`: `10.0.0.0/8`, `fd00::/8`, or single addresses. */
export function allowedNetworks(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, bits] = c.split('/');
    const family = isIP(net!);
    if (!family) throw new TypeError(`${c} is not an IP network`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    list.addSubnet(net!, bits === undefined ? (family === 4 ? 32 : 128) : Number(bits), type);
  }
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const a = mapped ?? address;
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}

const notAllowed = (url: string, address: string) =>
  new KeywardError(
    'webhook.destination_not_allowed',
    `The webhook destination ${url} resolves to ${address}, outside KEYWARD_WEBHOOK_ALLOWED_NETWORKS`,
    { extras: { address } },
  );

/** The URL of a webhook: http or https, no credentials in it. */
export function parseDestination(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new KeywardError('webhook.url_invalid', 'The webhook URL is not an absolute URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new KeywardError('webhook.url_invalid', 'The webhook URL must be http or https');
  if (u.username || u.password) throw new KeywardError('webhook.url_invalid', 'The webhook URL must not carry credentials');
  return u;
}

const host = (u: URL) => u.hostname.replace(/^\[|\]$/g, '');

/**
 * Checks that every address of the URL's host is allowed (the name is resolved now).
 * @throws KeywardError webhook.destination_not_allowed, webhook.url_invalid
 */
export async function checkDestination(raw: string, allowed: (address: string) => boolean): Promise<void> {
  const u = parseDestination(raw);
  const h = host(u);
  const addresses = isIP(h)
    ? [h]
    : await new Promise<string[]>((resolve, reject) =>
        dnsLookup(h, { all: true }, (err, list: LookupAddress[]) =>
          err
            ? reject(new KeywardError('webhook.url_invalid', `The webhook host ${h} does not resolve`, { cause: err }))
            : resolve(list.map((a) => a.address)),
        ),
      );
  for (const a of addresses) if (!allowed(a)) throw notAllowed(u.origin, a);
}

export interface PostResult {
  readonly statusCode: number;
}

/**
 * POSTs `body` to `url` within `timeoutMs` (connection, request and answer together), connecting only to allowed
 * addresses; resolves with the status code, rejects with a short reason (refused destination, timeout, network error).
 */
export function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  o: { timeoutMs: number; allowed: (address: string) => boolean; userAgent: string },
): Promise<PostResult> {
  const u = parseDestination(url);
  const h = host(u);
  if (isIP(h) && !o.allowed(h)) return Promise.reject(notAllowed(u.origin, h));
  const lookup: RequestOptions['lookup'] = (hostname, options, callback) =>
    dnsLookup(hostname, { ...options, all: true }, (err, list: LookupAddress[]) => {
      if (err) return (callback as (e: Error) => void)(err);
      const refused = list.find((a) => !o.allowed(a.address));
      if (refused) return (callback as (e: Error) => void)(notAllowed(u.origin, refused.address));
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, l: LookupAddress[]) => void)(null, list);
      (callback as (e: null, a: string, f: number) => void)(null, list[0]!.address, list[0]!.family);
    });
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: 'POST',
        lookup,
        headers: { ...headers, 'content-length': Buffer.byteLength(body), 'user-agent': o.userAgent },
        signal: AbortSignal.timeout(o.timeoutMs),
      },
      (res) => {
        res.resume(); // the answer's body is not needed; reading it frees the connection
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('error', (err: Error) =>
      reject(err.name === 'AbortError' || err.name === 'TimeoutError' ? new Error(`no answer within ${o.timeoutMs} ms`) : err),
    );
    req.end(body);
  });
}
