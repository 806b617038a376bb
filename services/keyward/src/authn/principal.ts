/**
 * A Principal is who makes a call, whatever the credential. What it may do is
 * decided at call time from its current roles, never
 * from the credential alone.
 */
/**
 * `acme` is an ACME account (RFC 8555) bound by external account binding to
 * an API client: it acts as that client, with its current roles.
 * `session` is the web console's: a Keycloak access token held by Keyward for
 * the browser (backend-for-frontend); it authorises exactly as `bearer` does.
 */
export type CredentialKind = 'bearer' | 'session' | 'pat' | 'client_certificate' | 'device' | 'acme';

export interface Principal {
  readonly credential: CredentialKind;
  /** `client` for API clients (service accounts), `user` for people. */
  readonly kind: 'client' | 'user';
  /** Home realm. */
  readonly realm: string;
  /** Keycloak user id (a client's service-account user). */
  readonly subject: string;
  /** The API client (token `azp`), for clients. */
  readonly clientId: string | undefined;
  readonly username: string | undefined;
  /** Realm roles carried by the credential itself (used only for master-realm operators). */
  readonly credentialRoles: readonly string[];
  /**
   * When a long-lived credential (personal access token, client certificate)
   * stops being valid; a PAT created with it may not outlive it.
   */
  readonly credentialExpiresAt?: Date | undefined;
}

/** A short, log-safe name: `client demo/orders-service`, `user demo/alice`. */
export function describePrincipal(p: Principal): string {
  return p.kind === 'client' ? `client ${p.realm}/${p.clientId}` : `user ${p.realm}/${p.username ?? p.subject}`;
}

/** The actor recorded in audit events. */
export function auditActor(p: Principal) {
  return { kind: `${p.kind}:${p.credential}`, id: p.subject, realm: p.realm, name: p.kind === 'client' ? p.clientId : p.username };
}
