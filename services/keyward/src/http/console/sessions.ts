/**
 * The web console's backend-for-frontend (OAuth 2.0 for Browser-Based
 * Applications, RFC 10017): the browser never holds a token. Keyward runs the
 * authorization code flow with PKCE (RFC 7636) against the realm's
 * `keyward-console` client, keeps the tokens sealed in a database row, and
 * gives the browser a random 256-bit session id in an HttpOnly cookie (the row
 * is found by its SHA-256). A `/v1/*` call with that cookie is authenticated
 * with the session's access token, exactly as a Bearer call with it would be;
 * the token is refreshed through the refresh token shortly before it expires,
 * once at a time per session across replicas (the row is locked while Keycloak
 * answers).
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { AuditActor } from '../../audit/event.ts';
import { KeywardError, isKeywardError } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/log.ts';
import type { ConsoleSessionRow, PgConsoleSessionStore } from '../../storage/console_session_store.ts';
import type { AccessTokenVerifier, VerifiedAccessToken } from '../../tokens/access_token_verifier.ts';
import { LOGIN_STATE_SECONDS, safeReturnPath } from './cookies.ts';
import { blobToCookie, cookieToBlob, openJson, sealJson } from './sealed.ts';

export const CONSOLE_CLIENT = 'keyward-console';

interface Tokens {
  readonly access: string;
  readonly refresh: string | undefined;
  readonly id: string | undefined;
}

interface LoginState {
  readonly realm: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly return: string;
  readonly exp: number;
}

export interface ConsoleSessionsOptions {
  /** Where Keyward reaches Keycloak. */
  readonly keycloakUrl: string;
  /** Keycloak's public base URL (browsers, `iss`), when it differs. */
  readonly issuerUrl?: string | undefined;
  readonly publicUrl: string;
  readonly kek: Buffer;
  readonly store: PgConsoleSessionStore;
  readonly verifier: AccessTokenVerifier;
  /** Whether a realm may log in to the console: managed realms and master. */
  readonly acceptsRealm: (realm: string) => Promise<boolean>;
  /** The console client's secret in a realm. */
  readonly clientSecret: (realm: string) => string;
  readonly idleSeconds: number;
  readonly lifetimeSeconds: number;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
}

export interface SessionView {
  readonly realm: string;
  readonly username: string;
  readonly name: string | undefined;
  readonly idleExpiresAt: string;
  readonly expiresAt: string;
  /** Keycloak's base URL as browsers reach it, for the console's "Open in Keycloak" links. */
  readonly keycloakUrl: string;
}

const hashOf = (id: string): Buffer => createHash('sha256').update(id).digest();
const tokensAad = (idHash: Buffer) => `console-session:${idHash.toString('hex')}`;
const LOGIN_AAD = 'console-login-state';
/** Refresh when the access token expires within this (or half its lifetime, when shorter). */
const REFRESH_MARGIN_S = 30;
/** While Keycloak is unreachable, how long a session goes on with its still-valid access token before trying again. */
const REFRESH_BACKOFF_MS = 5_000;

function expired(detail = 'The console session has expired; log in again'): KeywardError {
  return new KeywardError('session.expired', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="keyward"' } });
}

export class ConsoleSessions {
  readonly #o: ConsoleSessionsOptions;
  readonly #configs = new Map<string, oidc.Configuration>();
  readonly #refreshing = new Map<string, Promise<string>>();
  /** When a refresh last failed because Keycloak was unreachable, by session: retried after REFRESH_BACKOFF_MS. */
  readonly #refreshFailed = new Map<string, number>();
  readonly #now: () => Date;
  readonly #kcBase: string;
  readonly #publicKcBase: string;

  constructor(options: ConsoleSessionsOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#kcBase = options.keycloakUrl.replace(/\/+$/, '');
    this.#publicKcBase = (options.issuerUrl ?? options.keycloakUrl).replace(/\/+$/, '');
  }

  /** Keycloak's origin as browsers see it (the CSP's form-action). */
  get keycloakOrigin(): string {
    return new URL(this.#publicKcBase).origin;
  }

  /** The console client's secret in `realm` (derived, never stored). */
  clientSecretFor(realm: string): string {
    return this.#o.clientSecret(realm);
  }

  get redirectUri(): string {
    return `${this.#o.publicUrl}/console/auth/callback`;
  }

  /**
   * The realm's OpenID configuration, built from Keycloak's fixed endpoint layout: endpoints the browser uses at
   * Keycloak's public address, those Keyward calls at the address it reaches Keycloak at.
   */
  #config(realm: string): oidc.Configuration {
    let c = this.#configs.get(realm);
    if (!c) {
      const r = encodeURIComponent(realm);
      const pub = `${this.#publicKcBase}/realms/${r}`;
      const own = `${this.#kcBase}/realms/${r}`;
      c = new oidc.Configuration(
        {
          issuer: pub,
          authorization_endpoint: `${pub}/protocol/openid-connect/auth`,
          end_session_endpoint: `${pub}/protocol/openid-connect/logout`,
          token_endpoint: `${own}/protocol/openid-connect/token`,
          revocation_endpoint: `${own}/protocol/openid-connect/revoke`,
          jwks_uri: `${own}/protocol/openid-connect/certs`,
        },
        CONSOLE_CLIENT,
        undefined,
        oidc.ClientSecretBasic(this.#o.clientSecret(realm)),
      );
      if (new URL(this.#kcBase).protocol === 'http:' || new URL(this.#publicKcBase).protocol === 'http:') oidc.allowInsecureRequests(c);
      c.timeout = Math.ceil(this.#o.timeoutMs / 1000);
      this.#configs.set(realm, c);
    }
    return c;
  }

  /** Throws `realm.not_found` or `console_client.missing` (or `keycloak.unavailable`) when `realm` cannot log in now. */
  async checkRealm(realm: string): Promise<void> {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(realm) || !(await this.#o.acceptsRealm(realm))) {
      throw new KeywardError('realm.not_found', `Realm ${realm.slice(0, 100)} is not managed by Keyward`);
    }
    // The client's presence and secret, proven without admin rights: Keycloak authenticates the client before it
    // refuses the grant (`unauthorized_client`: the client exists and its secret is right) or not (`invalid_client`).
    let res: Response;
    try {
      res = await fetch(`${this.#kcBase}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CONSOLE_CLIENT}:${this.#o.clientSecret(realm)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (err) {
      throw new KeywardError('keycloak.unavailable', 'Keycloak could not be reached to start the login', { cause: err });
    }
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    if (res.status === 404) {
      throw new KeywardError('realm.missing_in_keycloak', `Realm ${realm} no longer exists in Keycloak`, { extras: { realm } });
    }
    if (body.error === 'unauthorized_client' || res.ok) return;
    if (body.error === 'invalid_client') {
      throw new KeywardError(
        'console_client.missing',
        `The console client ${CONSOLE_CLIENT} of realm ${realm} is missing or its secret changed in Keycloak: ` +
          (realm === 'master' ? 'run keyward bootstrap' : `re-create it with PUT /v1/realms/${realm}`),
        { extras: { realm } },
      );
    }
    if (res.status >= 500) throw new KeywardError('keycloak.unavailable', `Keycloak answered HTTP ${res.status} to the login check`);
    throw new KeywardError('keycloak.rejected', `Keycloak answered ${body.error ?? `HTTP ${res.status}`} to the login check`);
  }

  /** Starts a login: the authorization URL to redirect to and the sealed login state for its cookie. */
  async startLogin(realm: string, returnTo: unknown): Promise<{ url: string; stateCookie: string }> {
    await this.checkRealm(realm);
    const verifier = oidc.randomPKCECodeVerifier();
    const state: LoginState = {
      realm,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier,
      return: safeReturnPath(returnTo),
      exp: this.#now().getTime() + LOGIN_STATE_SECONDS * 1000,
    };
    const url = oidc.buildAuthorizationUrl(this.#config(realm), {
      redirect_uri: this.redirectUri,
      response_type: 'code',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: state.state,
      nonce: state.nonce,
    });
    return { url: url.href, stateCookie: blobToCookie(sealJson(this.#o.kek, state, LOGIN_AAD)) };
  }

  /**
   * Finishes a login (the callback): checks the state, exchanges the code with PKCE, checks the nonce, verifies
   * the access token as any Bearer token is, and creates the session. Returns the cookie value and where to go.
   */
  async finishLogin(
    stateCookie: string | undefined,
    query: Record<string, unknown>,
  ): Promise<{ sessionId: string; returnTo: string; realm: string; username: string }> {
    const st = stateCookie ? openJson<LoginState>(this.#o.kek, cookieToBlob(stateCookie), LOGIN_AAD) : undefined;
    if (!st || st.exp < this.#now().getTime()) {
      throw new KeywardError('login.state_invalid', 'The login state is missing or expired: start the login again');
    }
    if (typeof query.state !== 'string' || query.state !== st.state) {
      throw new KeywardError('login.state_invalid', 'The login state does not match: start the login again');
    }
    if (typeof query.error === 'string') {
      throw new KeywardError('login.denied', `Keycloak ended the login with ${query.error.slice(0, 100)}`, {
        extras: { realm: st.realm },
      });
    }
    const current = new URL(this.redirectUri);
    for (const [k, v] of Object.entries(query)) if (typeof v === 'string') current.searchParams.set(k, v);
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(this.#config(st.realm), current, {
        pkceCodeVerifier: st.verifier,
        expectedState: st.state,
        expectedNonce: st.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError) {
        throw new KeywardError('login.failed', `Keycloak refused the login code (${err.error})`, { cause: err });
      }
      if (err instanceof TypeError || (err as { name?: string }).name === 'TimeoutError') {
        throw new KeywardError('keycloak.unavailable', 'Keycloak could not be reached to finish the login', { cause: err });
      }
      throw new KeywardError('login.failed', 'The login answer of Keycloak did not pass its checks', { cause: err });
    }
    let verified: VerifiedAccessToken;
    try {
      verified = await this.#o.verifier.verify(tokens.access_token);
    } catch (err) {
      if (isKeywardError(err, 'keycloak.unavailable')) throw err;
      throw new KeywardError('login.failed', 'The access token of the login is not one Keyward accepts', { cause: err });
    }
    if (verified.realm !== st.realm) throw new KeywardError('login.failed', 'The login came back from another realm');
    const claims = tokens.claims();
    const name =
      typeof claims?.name === 'string'
        ? claims.name
        : [claims?.given_name, claims?.family_name].filter((x): x is string => typeof x === 'string').join(' ') || undefined;
    const sessionId = randomBytes(32).toString('base64url');
    const idHash = hashOf(sessionId);
    const now = this.#now();
    const expiresAt = new Date(now.getTime() + this.#o.lifetimeSeconds * 1000);
    const idleExpiresAt = new Date(Math.min(expiresAt.getTime(), now.getTime() + this.#o.idleSeconds * 1000));
    const username = verified.username ?? verified.subject;
    const sealed: Tokens = { access: tokens.access_token, refresh: tokens.refresh_token, id: tokens.id_token };
    const row: ConsoleSessionRow = {
      idHash,
      realm: st.realm,
      subject: verified.subject,
      username,
      name,
      tokens: sealJson(this.#o.kek, sealed, tokensAad(idHash)),
      accessExpiresAt: verified.expiresAt,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      idleExpiresAt,
    };
    await this.#o.store.insert(row, {
      action: 'console.logged_in',
      actor: this.#actor(row),
      realm: st.realm,
      target: username,
      details: { realm: st.realm, expiresAt: expiresAt.toISOString() },
    });
    return { sessionId, returnTo: st.return, realm: st.realm, username };
  }

  #actor(row: Pick<ConsoleSessionRow, 'subject' | 'realm' | 'username'>): AuditActor {
    return { kind: 'user:session', id: row.subject, realm: row.realm, name: row.username };
  }

  #isOver(row: ConsoleSessionRow, now: Date): boolean {
    return row.expiresAt.getTime() <= now.getTime() || row.idleExpiresAt.getTime() <= now.getTime();
  }

  async #end(row: ConsoleSessionRow, reason: string): Promise<void> {
    await this.#o.store.delete(row.idHash, {
      action: 'console.session_ended',
      actor: { kind: 'system', id: 'keyward' },
      realm: row.realm,
      target: row.username,
      details: { realm: row.realm, reason },
    });
  }

  /** The session a cookie names, without activity; undefined when there is none or it is over (then it is deleted). */
  async view(sessionId: string | undefined): Promise<SessionView | undefined> {
    if (!sessionId) return undefined;
    const row = await this.#o.store.find(hashOf(sessionId));
    if (!row) return undefined;
    if (this.#isOver(row, this.#now())) {
      await this.#end(row, 'expired');
      return undefined;
    }
    return {
      realm: row.realm,
      username: row.username,
      name: row.name,
      idleExpiresAt: row.idleExpiresAt.toISOString(),
      expiresAt: row.expiresAt.toISOString(),
      keycloakUrl: this.#publicKcBase,
    };
  }

  /**
   * The session's current access token for a call (refreshed when it expires
   * soon); records the activity. 401 `session.expired` when the session is
   * unknown, idle too long, past its lifetime, or Keycloak refused the refresh.
   */
  async accessToken(sessionId: string): Promise<string> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) throw expired('The console session is unknown; log in again');
    const idHash = hashOf(sessionId);
    const row = await this.#o.store.find(idHash);
    if (!row) throw expired();
    const now = this.#now();
    if (this.#isOver(row, now)) {
      await this.#end(row, 'expired');
      throw expired();
    }
    const tokens = openJson<Tokens>(this.#o.kek, row.tokens, tokensAad(idHash));
    if (!tokens) {
      await this.#end(row, 'unreadable');
      throw expired();
    }
    let access = tokens.access;
    const key = idHash.toString('hex');
    const failed = this.#refreshFailed.get(key);
    const backingOff = failed !== undefined && now.getTime() - failed < REFRESH_BACKOFF_MS && row.accessExpiresAt > now;
    if (this.#due(access, row.accessExpiresAt, now) && !backingOff) {
      let p = this.#refreshing.get(key);
      if (!p) {
        p = this.#refresh(idHash).finally(() => this.#refreshing.delete(key));
        this.#refreshing.set(key, p);
      }
      access = await p;
    }
    // Activity moves the idle deadline; written at most every few seconds per session.
    const every = Math.min(15_000, (this.#o.idleSeconds * 1000) / 10);
    if (now.getTime() - row.lastSeenAt.getTime() >= every) {
      await this.#o.store.touch(idHash, now, new Date(now.getTime() + this.#o.idleSeconds * 1000));
    }
    return access;
  }

  #due(access: string, expiresAt: Date, now: Date): boolean {
    let lifetime = REFRESH_MARGIN_S * 2;
    try {
      const c = decodeJwt(access);
      if (typeof c.exp === 'number' && typeof c.iat === 'number') lifetime = c.exp - c.iat;
    } catch {
      /* keep the default */
    }
    const margin = Math.min(REFRESH_MARGIN_S, lifetime / 2) * 1000;
    return expiresAt.getTime() - now.getTime() < margin;
  }

  async #refresh(idHash: Buffer): Promise<string> {
    const ended = (row: ConsoleSessionRow, reason: string) => ({
      action: 'console.session_ended',
      actor: { kind: 'system', id: 'keyward' },
      realm: row.realm,
      target: row.username,
      details: { realm: row.realm, reason },
    });
    const access = await this.#o.store.locked(idHash, async (row, q): Promise<string | undefined> => {
      if (!row) return undefined;
      const now = this.#now();
      const tokens = openJson<Tokens>(this.#o.kek, row.tokens, tokensAad(idHash));
      if (!tokens?.refresh) {
        await this.#o.store.delete(idHash, ended(row, 'no refresh token'), q);
        return undefined;
      }
      if (!this.#due(tokens.access, row.accessExpiresAt, now)) return tokens.access; // another request or replica refreshed it
      let res: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      try {
        res = await oidc.refreshTokenGrant(this.#config(row.realm), tokens.refresh);
      } catch (err) {
        if (err instanceof oidc.ResponseBodyError) {
          this.#o.log.info('console session refresh refused by Keycloak', { realm: row.realm, username: row.username, error: err.error });
          await this.#o.store.delete(idHash, ended(row, `refresh refused (${err.error})`), q);
          return undefined;
        }
        // Keycloak unreachable: the session goes on with its access token while that is still valid.
        if (row.accessExpiresAt.getTime() > now.getTime()) {
          this.#o.log.warn('console session refresh failed, going on with the current access token', {
            realm: row.realm,
            error: (err as Error).message,
          });
          if (this.#refreshFailed.size > 10_000) this.#refreshFailed.clear();
          this.#refreshFailed.set(idHash.toString('hex'), Date.now());
          return tokens.access;
        }
        throw new KeywardError('keycloak.unavailable', 'Keycloak could not be reached to refresh the console session', {
          cause: err,
          headers: { 'Retry-After': '5' },
        });
      }
      const next: Tokens = { access: res.access_token, refresh: res.refresh_token ?? tokens.refresh, id: res.id_token ?? tokens.id };
      const exp = decodeJwt(res.access_token).exp;
      const accessExpiresAt = new Date((exp ?? now.getTime() / 1000 + (res.expiresIn() ?? 60)) * 1000);
      await this.#o.store.updateTokens(q, idHash, sealJson(this.#o.kek, next, tokensAad(idHash)), accessExpiresAt);
      this.#refreshFailed.delete(idHash.toString('hex'));
      return next.access;
    });
    if (access === undefined) throw expired();
    return access;
  }

  /**
   * Logs out: revokes the refresh token at Keycloak (RFC 7009), deletes the
   * session, and returns Keycloak's end-session URL for the browser (OpenID
   * Connect RP-Initiated Logout), which ends the Keycloak SSO session too.
   */
  async logout(sessionId: string | undefined): Promise<string> {
    const fallback = `${this.#o.publicUrl}/console/`;
    if (!sessionId) return fallback;
    const idHash = hashOf(sessionId);
    const row = await this.#o.store.find(idHash);
    if (!row) return fallback;
    const tokens = openJson<Tokens>(this.#o.kek, row.tokens, tokensAad(idHash));
    const config = this.#config(row.realm);
    if (tokens?.refresh) {
      await oidc.tokenRevocation(config, tokens.refresh, { token_type_hint: 'refresh_token' }).catch((err: unknown) => {
        this.#o.log.warn('could not revoke a console session at Keycloak', { realm: row.realm, error: (err as Error).message });
      });
    }
    await this.#o.store.delete(idHash, {
      action: 'console.logged_out',
      actor: this.#actor(row),
      realm: row.realm,
      target: row.username,
      details: { realm: row.realm },
    });
    return oidc.buildEndSessionUrl(config, {
      ...(tokens?.id ? { id_token_hint: tokens.id } : {}),
      post_logout_redirect_uri: fallback,
    }).href;
  }

  /** Ends the session a cookie names without telling Keycloak (a new login in the same browser replaces it). */
  async forget(sessionId: string | undefined): Promise<void> {
    if (sessionId) await this.#o.store.delete(hashOf(sessionId));
  }

  /** Deletes sessions past either deadline (the leader's sweep); how many. */
  sweep(): Promise<number> {
    return this.#o.store.sweep(this.#now());
  }
}
