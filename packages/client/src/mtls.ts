/**
 * TLS client authentication (RFC 8446 §4.4.2) for calls whose only
 * credential is a certificate, such as renewing it
 * (`POST /v1/certificates/renew` on Keyward's HTTPS listener): a fetch over an
 * undici Agent that presents the certificate. Node.js only, hence its own
 * entry point (`@keyward/client/mtls`), apart from the browser-safe client.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import type { FetchLike } from './client.ts';

export interface MutualTlsOptions {
  /** PEM of the client certificate (its chain may follow). */
  readonly cert: string;
  /** PEM of its private key. */
  readonly key: string;
  /** PEM of the CAs that vouch for the server's certificate; the system's CAs when absent. */
  readonly ca?: string | undefined;
}

/**
 * A fetch that authenticates with a client certificate; https:// only.
 *
 * @example
 * const kw = createKeywardClient({
 *   baseUrl: 'https://keyward.example:8443',
 *   fetch: mutualTlsFetch({ cert: readFileSync('web.crt', 'utf8'), key: readFileSync('web.key', 'utf8') }),
 * });
 * const { data } = await kw.POST('/v1/certificates/renew', { body: { csr } });
 */
export function mutualTlsFetch(options: MutualTlsOptions): FetchLike {
  if (!options.cert || !options.key) throw new TypeError('mutualTlsFetch needs the certificate and its key');
  const dispatcher = new Agent({ connect: { cert: options.cert, key: options.key, ...(options.ca ? { ca: options.ca } : {}) } });
  return async (request) => {
    if (new URL(request.url).protocol !== 'https:')
      throw new TypeError(`${request.url} is not an https:// URL: TLS client authentication needs TLS`);
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    const answer = await undiciFetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body: body && body.byteLength ? body : undefined,
      signal: request.signal,
      dispatcher,
    });
    return answer as unknown as Response;
  };
}
