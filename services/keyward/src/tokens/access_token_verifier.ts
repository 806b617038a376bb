/**
 * Verifies Keycloak access tokens with jose (`Authorization: Bearer <JWT>` from a managed realm).
 *
 * - `iss` must be `<keycloak>/realms/<realm>` of a managed realm (or master,
 *   for operators); the realm is read from the unverified `iss` only to pick
 *   the JWKS, then checked again by jwtVerify.
 * - `aud` must contain Keyward's audience; `exp`/`nbf`/`iat` with a small skew;
 *   algorithms from an asymmetric allow-list (no `none`, no HMAC, so the
 *   "HMAC signed with the public key" confusion cannot work).
 * - Keycloak's payload `typ` must be `Bearer` (an ID token is not an access
 *   token) and `azp` must name the client.
 * - One cached remote JWKS per realm. Keys are kept without an age limit, so
 *   cached keys keep working while Keycloak is unreachable; an unknown `kid`
 *   triggers at most one refresh per cooldown (jose's `cooldownDuration`).
 *   No usable key at all while Keycloak is down → 503 `keycloak.unavailable`.
 * - A token that verified is remembered (by its exact bytes) until it expires,
 *   so a client reusing its token — as client-credentials clients do — pays
 *   the signature check once. Nothing is weakened: a JWT is valid until `exp`
 *   anyway, and the entry never outlives it.
 */
import { createRemoteJWKSet, customFetch, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { KeywardError } from '../kernel/errors.ts';

export interface VerifiedAccessToken {
  readonly realm: string;
  readonly issuer: string;
  /** Keycloak user id (for a service account: the service-account user). */
  readonly subject: string;
  /** The client the token was issued to. */
  readonly clientId: string;
  readonly username: string | undefined;
  /** `realm_access.roles` as carried by the token (roles are re-read from Keycloak where freshness matters). */
  readonly realmRoles: readonly string[];
  readonly expiresAt: Date;
  readonly claims: Readonly<JWTPayload>;
}

export interface AccessTokenVerifierOptions {
  /** Where Keyward reaches Keycloak (the key sets are fetched there). */
  readonly keycloakUrl: string;
  /** Keycloak's base URL as tokens carry it in `iss`, when it differs from `keycloakUrl`. */
  readonly issuerUrl?: string | undefined;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  /** Whether tokens of this realm are accepted at all (managed realms, and master for operators). */
  readonly acceptsRealm: (realm: string) => boolean | Promise<boolean>;
  readonly fetchTimeoutMs?: number;
  /** Minimum time between two JWKS fetches of one realm on unknown `kid`. */
  readonly cooldownMs?: number;
}

const challenge = (error: string, description: string) => ({
  'WWW-Authenticate': `Bearer realm="keyward", error="${error}", error_description="${description.replace(/"/g, "'")}"`,
});

export function invalidToken(
  description: string,
  cause?: unknown,
  code: 'auth.invalid_token' | 'auth.unknown_issuer' = 'auth.invalid_token',
): KeywardError {
  return new KeywardError(code, description, { cause, headers: challenge('invalid_token', description) });
}

export class AccessTokenVerifier {
  readonly #options: AccessTokenVerifierOptions;
  readonly #jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  readonly #prefix: string;
  readonly #jwksPrefix: string;
  #fetches = 0;
  readonly #verified = new Map<string, VerifiedAccessToken>();
  static readonly MAX_REMEMBERED = 10_000;

  constructor(options: AccessTokenVerifierOptions) {
    if (options.algorithms.some((a) => a === 'none' || a.startsWith('HS')))
      throw new TypeError('only asymmetric algorithms may be allowed');
    this.#options = options;
    this.#prefix = `${(options.issuerUrl ?? options.keycloakUrl).replace(/\/+$/, '')}/realms/`;
    this.#jwksPrefix = `${options.keycloakUrl.replace(/\/+$/, '')}/realms/`;
  }

  /** How many JWKS documents were fetched since start (benchmarks check it stays flat). */
  get jwksFetches(): number {
    return this.#fetches;
  }

  /** The issuer string of a realm. */
  issuerOf(realm: string): string {
    return this.#prefix + realm;
  }

  #keySet(realm: string) {
    let set = this.#jwks.get(realm);
    if (!set) {
      const url = new URL(`${this.#jwksPrefix}${realm}/protocol/openid-connect/certs`);
      set = createRemoteJWKSet(url, {
        timeoutDuration: this.#options.fetchTimeoutMs ?? 3000,
        cooldownDuration: this.#options.cooldownMs ?? 30_000,
        cacheMaxAge: Infinity,
        [customFetch]: (input, init) => {
          this.#fetches++;
          return fetch(input, init);
        },
      });
      this.#jwks.set(realm, set);
    }
    return set;
  }

  /** Forgets a realm's keys (realm deleted or unmanaged). */
  forget(realm: string): void {
    this.#jwks.delete(realm);
    for (const [k, v] of this.#verified) if (v.realm === realm) this.#verified.delete(k);
  }

  async verify(token: string): Promise<VerifiedAccessToken> {
    const known = this.#verified.get(token);
    if (known) {
      if (known.expiresAt.getTime() + this.#options.clockSkewSeconds * 1000 > Date.now()) return known;
      this.#verified.delete(token);
    }
    const result = await this.#verify(token);
    if (this.#verified.size >= AccessTokenVerifier.MAX_REMEMBERED) {
      const now = Date.now();
      for (const [k, v] of this.#verified)
        if (v.expiresAt.getTime() <= now || this.#verified.size >= AccessTokenVerifier.MAX_REMEMBERED) this.#verified.delete(k);
    }
    this.#verified.set(token, result);
    return result;
  }

  async #verify(token: string): Promise<VerifiedAccessToken> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch (err) {
      throw invalidToken('The bearer token is not a JWT', err);
    }
    const iss = typeof unverified.iss === 'string' ? unverified.iss : '';
    const realm = iss.startsWith(this.#prefix) ? decodeURIComponent(iss.slice(this.#prefix.length)) : '';
    if (!realm || realm.includes('/') || !(await this.#options.acceptsRealm(realm))) {
      throw invalidToken('The token was not issued by a realm that Keyward manages', undefined, 'auth.unknown_issuer');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keySet(realm), {
        issuer: this.issuerOf(realm),
        audience: this.#options.audience,
        algorithms: [...this.#options.algorithms],
        clockTolerance: this.#options.clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'azp'],
      }));
    } catch (err) {
      throw this.#translate(err);
    }
    if (payload.typ !== undefined && payload.typ !== 'Bearer')
      throw invalidToken(`The token is not an access token (typ ${String(payload.typ)})`);
    const roles = (payload.realm_access as { roles?: unknown } | undefined)?.roles;
    return Object.freeze({
      realm,
      issuer: iss,
      subject: payload.sub!,
      clientId: String(payload.azp),
      username: typeof payload.preferred_username === 'string' ? payload.preferred_username : undefined,
      realmRoles: Object.freeze(Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : []),
      expiresAt: new Date(payload.exp! * 1000),
      claims: Object.freeze(payload),
    });
  }

  #translate(err: unknown): KeywardError {
    if (err instanceof joseErrors.JWTExpired) return invalidToken('The token has expired', err);
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') return invalidToken(`The token's audience does not include ${this.#options.audience}`, err);
      return invalidToken(`The token's ${err.claim} claim is invalid (${err.reason})`, err);
    }
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalidToken('The token is signed with an algorithm that is not allowed', err);
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalidToken('The token signature does not verify', err);
    if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys)
      return invalidToken('The token is signed with an unknown key', err);
    if (
      err instanceof joseErrors.JWKSTimeout ||
      err instanceof TypeError ||
      (err instanceof joseErrors.JOSEError && err.code === 'ERR_JOSE_GENERIC')
    ) {
      return new KeywardError('keycloak.unavailable', 'The signing keys of the realm could not be fetched from Keycloak', {
        cause: err,
        headers: { 'Retry-After': '5' },
      });
    }
    if (err instanceof joseErrors.JOSEError) return invalidToken('The token is invalid', err);
    return new KeywardError('keycloak.unavailable', 'The signing keys of the realm could not be fetched from Keycloak', {
      cause: err,
      headers: { 'Retry-After': '5' },
    });
  }
}
