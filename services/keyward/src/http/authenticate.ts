/**
 * Turns request credentials into a Principal. Today: `Authorization: Bearer
 * <JWT>` from a managed realm (or master, for operators). Every credential
 * kind yields the same Principal shape, so routes never care which was used.
 */
import type { Request } from 'express';
import type { Principal } from '../authn/principal.ts';
import type { AccessTokenVerifier } from '../tokens/access_token_verifier.ts';
import { invalidToken } from '../tokens/access_token_verifier.ts';
import { KeywardError } from '../kernel/errors.ts';

const PRINCIPAL = Symbol('keyward.principal');

export class Authenticator {
  readonly #verifier: AccessTokenVerifier;
  constructor(verifier: AccessTokenVerifier) {
    this.#verifier = verifier;
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
      throw new KeywardError('auth.missing', 'Send an access token: Authorization: Bearer <token>', { headers: { 'WWW-Authenticate': 'Bearer realm="keyward"' } });
    }
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!m) throw invalidToken('The Authorization header must be "Bearer <token>"');
    const t = await this.#verifier.verify(m[1]!);
    const isClient = typeof t.claims.client_id === 'string' || (t.username ?? '').startsWith('service-account-');
    return Object.freeze({
      credential: 'bearer',
      kind: isClient ? 'client' : 'user',
      realm: t.realm,
      subject: t.subject,
      clientId: t.clientId,
      username: t.username,
      credentialRoles: t.realmRoles,
    });
  }
}
