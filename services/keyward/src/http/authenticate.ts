/**
 * Turns request credentials into a Principal, whatever the kind, so routes
 * never care which was used. In this order:
 * 1. `Authorization: Bearer <JWT>` from a managed realm (or master, for operators),
 *    or `Authorization: Bearer kwp_…`, a personal access token; a client's
 *    token only while the client is still enabled in Keycloak;
 * 2. without an Authorization header, the web console's session cookie: the
 *    session's access token (refreshed when due) is verified exactly as a
 *    Bearer token, so authorisation is the same; a request that changes
 *    something must pass the console's CSRF check (http/console/cookies.ts);
 * 3. a client certificate from the TLS handshake on the HTTPS listener: a
 *    trusted device certificate (pinned by fingerprint) first, then
 *    the client-certificate credentials;
 * 4. the `X-Client-Certificate` header: from a configured TLS-terminating proxy
 *    (the certificate, URL-encoded PEM), or — as IBM CSM does — the downloaded
 *    .pem with its private key (URL-encoded or base64), whose key must match.
 *
 * A Keycloak token bound to a certificate (RFC 8705 §3: `cnf.x5t#S256`, the
 * base64url SHA-256 of the certificate's DER) is accepted only from a
 * connection that presents that very certificate: in the TLS handshake of the
 * HTTPS listener, or forwarded by a configured TLS-terminating proxy in
 * `X-Client-Certificate`. Anything else — plain HTTP, another certificate, a
 * certificate bundle with its key in the header — is 401
 * `token.certificate_mismatch`. Unbound tokens are unaffected.
 */
import type { Request } from 'express';
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../kernel/log.ts';
import type { Principal } from '../authn/principal.ts';
import type { AccessTokenVerifier } from '../tokens/access_token_verifier.ts';
import { invalidToken } from '../tokens/access_token_verifier.ts';
import { KeywardError } from '../kernel/errors.ts';
import { checkCsrf, CSRF_HEADER, parseCookies } from './console/cookies.ts';

const PRINCIPAL = Symbol('keyward.principal');

/** Larger X-Client-Certificate headers are refused with 431 (an RSA-4096 bundle is about 6 KB). */
export const CLIENT_CERT_HEADER_LIMIT = 12_288;

export interface CertificateAuthenticator {
  authenticate(der: Uint8Array, options?: { privateKeyPem?: string | undefined }): Promise<Principal>;
}

export interface PatAuthenticator {
  authenticate(token: string): Promise<Principal>;
}

/** Devices accepted into a trust store: undefined when the certificate is no device's. */
export interface DeviceAuthenticator {
  authenticate(der: Uint8Array): Promise<Principal | undefined>;
}

/** Refuses the token of an API client that is disabled or deleted in Keycloak (authn/roles.ts). */
export interface ActiveClientCheck {
  requireActiveClient(p: Principal): Promise<void>;
}

/** Web console sessions (http/console/sessions.ts). */
export interface ConsoleSessionAuthenticator {
  /** The session cookie's name. */
  readonly cookieName: string;
  /** The origin a session-authenticated request that changes something must come from. */
  expectedOrigin(req: Request): string;
  /** The session's current access token, or 401 `session.expired`. */
  accessToken(sessionId: string): Promise<string>;
}

export interface AuthenticatorOptions {
  readonly sessions?: ConsoleSessionAuthenticator | undefined;
  readonly clients?: ActiveClientCheck | undefined;
  readonly certificates?: CertificateAuthenticator | undefined;
  readonly devices?: DeviceAuthenticator | undefined;
  readonly pats?: PatAuthenticator | undefined;
  readonly clientCertHeader?: 'bundle' | 'proxy' | 'off';
  readonly trustedProxies?: readonly string[];
  readonly log?: Logger;
}

/** Parses the header value: URL-encoded PEM, base64 of the PEM, or PEM with its line breaks folded to spaces. */
export function decodeCertificateHeader(value: string): { certificateDer: Uint8Array; privateKeyPem: string | undefined } {
  let text = value.trim();
  try {
    if (text.includes('%')) text = decodeURIComponent(text);
    else if (!text.startsWith('-----BEGIN') && /^[A-Za-z0-9+/=_-]+$/.test(text)) text = Buffer.from(text, 'base64').toString('utf8');
  } catch {
    /* not URL-encoded after all */
  }
  const cert = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  const body = cert?.[1]!.replace(/\s+/g, '');
  if (!cert || !body || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw new KeywardError(
      'client_certificate.malformed',
      'X-Client-Certificate must hold a PEM certificate (URL-encoded, or base64 of the PEM)',
    );
  }
  const key = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----([\s\S]*?)-----END \1-----/.exec(text);
  const privateKeyPem = key
    ? `-----BEGIN ${key[1]}-----\n${key[2]!.replace(/\s+/g, '').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${key[1]}-----\n`
    : undefined;
  return { certificateDer: new Uint8Array(Buffer.from(body, 'base64')), privateKeyPem };
}

export class Authenticator {
  readonly #verifier: AccessTokenVerifier;
  readonly #certs: CertificateAuthenticator | undefined;
  readonly #devices: DeviceAuthenticator | undefined;
  readonly #pats: PatAuthenticator | undefined;
  readonly #clients: ActiveClientCheck | undefined;
  readonly #headerMode: 'bundle' | 'proxy' | 'off';
  readonly #proxies = new BlockList();
  readonly #hasProxies: boolean;
  readonly #log: Logger | undefined;
  readonly #sessions: ConsoleSessionAuthenticator | undefined;

  constructor(verifier: AccessTokenVerifier, options: AuthenticatorOptions = {}) {
    this.#verifier = verifier;
    this.#certs = options.certificates;
    this.#devices = options.devices;
    this.#pats = options.pats;
    this.#clients = options.clients;
    this.#headerMode = options.clientCertHeader ?? 'bundle';
    this.#log = options.log;
    this.#sessions = options.sessions;
    for (const c of options.trustedProxies ?? []) {
      const [addr, bits] = c.split('/');
      const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#proxies.addAddress(addr!, family);
      else this.#proxies.addSubnet(addr!, Number(bits), family);
    }
    this.#hasProxies = (options.trustedProxies ?? []).length > 0;
  }

  #fromProxy(req: Request): boolean {
    if (!this.#hasProxies) return false;
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const family = isIP(addr);
    return family !== 0 && this.#proxies.check(addr, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The caller, or 401 with a `WWW-Authenticate` challenge. Memoised per request. */
  async principal(req: Request): Promise<Principal> {
    const memo = (req as unknown as Record<symbol, Promise<Principal>>)[PRINCIPAL];
    if (memo) return memo;
    const p = this.#authenticate(req);
    (req as unknown as Record<symbol, Promise<Principal>>)[PRINCIPAL] = p;
    return p;
  }

  async #authenticate(req: Request): Promise<Principal> {
    const header = req.get('authorization');
    if (!header) {
      const sessionId = this.#sessions && parseCookies(req.get('cookie')).get(this.#sessions.cookieName);
      if (sessionId) {
        checkCsrf({
          method: req.method,
          header: req.get(CSRF_HEADER),
          origin: req.get('origin'),
          expectedOrigin: this.#sessions!.expectedOrigin(req),
        });
        return this.#fromAccessToken(req, await this.#sessions!.accessToken(sessionId), 'session');
      }
      const byCertificate = await this.#certificate(req);
      if (byCertificate) return byCertificate;
      throw new KeywardError('auth.missing', 'Send an access token (Authorization: Bearer <token>) or a client certificate', {
        headers: { 'WWW-Authenticate': 'Bearer realm="keyward"' },
      });
    }
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!m) throw invalidToken('The Authorization header must be "Bearer <token>"');
    if (this.#pats && m[1]!.startsWith('kwp_')) return this.#pats.authenticate(m[1]!);
    return this.#fromAccessToken(req, m[1]!, 'bearer');
  }

  /**
   * RFC 8705 §3.1: the SHA-256 thumbprint the token is bound to must be the one of the certificate this
   * connection presented (the handshake's, or a configured proxy's forwarded one).
   */
  #checkBinding(req: Request, claims: Readonly<Record<string, unknown>>): void {
    const cnf = claims.cnf as Record<string, unknown> | undefined;
    const bound = cnf && typeof cnf === 'object' ? cnf['x5t#S256'] : undefined;
    if (bound === undefined) return;
    const presented = this.#boundCertificate(req);
    const thumbprint = presented ? createHash('sha256').update(presented).digest('base64url') : undefined;
    if (typeof bound === 'string' && thumbprint !== undefined && thumbprint === bound) return;
    const detail = presented
      ? 'The token is bound to another client certificate than the one this connection presented'
      : "The token is bound to a client certificate: call Keyward's HTTPS listener presenting that certificate";
    throw new KeywardError('token.certificate_mismatch', detail, {
      headers: { 'WWW-Authenticate': `Bearer realm="keyward", error="invalid_token", error_description="${detail}"` },
    });
  }

  /** The certificate whose possession the connection proved: TLS handshake, or a trusted proxy's header. */
  #boundCertificate(req: Request): Uint8Array | undefined {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.encrypted && typeof socket.getPeerCertificate === 'function') {
      const peer = socket.getPeerCertificate();
      return peer?.raw?.length ? new Uint8Array(peer.raw) : undefined;
    }
    const value = req.get('x-client-certificate');
    if (value === undefined || this.#headerMode === 'off' || !this.#fromProxy(req) || value.length > CLIENT_CERT_HEADER_LIMIT)
      return undefined;
    const decoded = decodeCertificateHeader(value);
    return decoded.privateKeyPem === undefined ? decoded.certificateDer : undefined;
  }

  /** The principal of a Keycloak access token: a Bearer call's, or a console session's (the same but for `credential`). */
  async #fromAccessToken(req: Request, token: string, credential: 'bearer' | 'session'): Promise<Principal> {
    const t = await this.#verifier.verify(token);
    this.#checkBinding(req, t.claims);
    const isClient = typeof t.claims.client_id === 'string' || (t.username ?? '').startsWith('service-account-');
    const principal: Principal = Object.freeze({
      credential,
      kind: isClient ? 'client' : 'user',
      realm: t.realm,
      subject: t.subject,
      clientId: t.clientId,
      username: t.username,
      credentialRoles: t.realmRoles,
    });
    if (principal.kind === 'client') await this.#clients?.requireActiveClient(principal);
    return principal;
  }

  /**
   * The certificate chain the caller proved possession of, its own first:
   * from the TLS handshake, or the certificate a configured proxy forwards.
   * Empty when there is none. Used by device onboarding's hello.
   */
  presentedChain(req: Request): Uint8Array[] {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.encrypted && typeof socket.getPeerCertificate === 'function') {
      const chain: Uint8Array[] = [];
      let c = socket.getPeerCertificate(true) as
        (ReturnType<TLSSocket['getPeerCertificate']> & { issuerCertificate?: unknown }) | undefined;
      const seen = new Set<unknown>();
      while (c?.raw?.length && !seen.has(c) && chain.length < 16) {
        seen.add(c);
        if (chain.length > 0 && Buffer.compare(c.raw, Buffer.from(chain[chain.length - 1]!)) === 0) break; // self-signed: its own issuer
        chain.push(new Uint8Array(c.raw));
        c = c.issuerCertificate as typeof c;
      }
      return chain;
    }
    const value = req.get('x-client-certificate');
    if (value !== undefined && this.#headerMode !== 'off' && this.#fromProxy(req) && value.length <= CLIENT_CERT_HEADER_LIMIT) {
      return [decodeCertificateHeader(value).certificateDer];
    }
    return [];
  }

  async #certificate(req: Request): Promise<Principal | undefined> {
    if (!this.#certs && !this.#devices) return undefined;
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.encrypted && typeof socket.getPeerCertificate === 'function') {
      const peer = socket.getPeerCertificate();
      if (peer?.raw?.length) {
        // Possession proven by the TLS handshake.
        const der = new Uint8Array(peer.raw);
        const device = await this.#devices?.authenticate(der);
        if (device) return device;
        if (this.#certs) return this.#certs.authenticate(der);
        throw new KeywardError('client_certificate.untrusted', 'The client certificate is not trusted');
      }
    }
    const value = req.get('x-client-certificate');
    if (value === undefined || this.#headerMode === 'off' || !this.#certs) return undefined;
    if (value.length > CLIENT_CERT_HEADER_LIMIT) {
      throw new KeywardError(
        'client_certificate.header_too_large',
        `X-Client-Certificate may hold at most ${CLIENT_CERT_HEADER_LIMIT} characters`,
      );
    }
    const fromProxy = this.#fromProxy(req);
    if (this.#headerMode === 'proxy' && !fromProxy) {
      this.#log?.warn('X-Client-Certificate ignored: not from a configured proxy', { remoteAddress: req.socket.remoteAddress });
      return undefined;
    }
    const { certificateDer, privateKeyPem } = decodeCertificateHeader(value);
    if (fromProxy && privateKeyPem === undefined) {
      const device = await this.#devices?.authenticate(certificateDer); // the proxy checked the handshake
      if (device) return device;
    }
    if (!fromProxy && privateKeyPem === undefined) {
      // A certificate alone proves nothing: anyone may have it. Only a proxy that checked the handshake may send one.
      this.#log?.warn('X-Client-Certificate without its private key from an address that is not a configured proxy', {
        remoteAddress: req.socket.remoteAddress,
      });
      throw new KeywardError(
        'client_certificate.key_required',
        'Send the whole downloaded .pem (certificate and private key) in X-Client-Certificate, or use TLS client authentication',
      );
    }
    return this.#certs.authenticate(certificateDer, { privateKeyPem });
  }
}
