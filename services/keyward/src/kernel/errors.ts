/**
 * One error root for everything Keyward refuses on purpose.
 *
 * Untrusted input (a CSR, a token, a header, a body) that is wrong throws a
 * {@link KeywardError} carrying a stable `code` from the closed catalogue below;
 * our own misuse (a bad argument between modules, a bad configuration value
 * passed in code) throws `TypeError` instead. The HTTP layer renders a
 * KeywardError as RFC 9457 problem+json in exactly one place (`http/problem.ts`).
 *
 * Codes are added, never renamed: clients, the CLI and realm-config tooling
 * match on them.
 */

/** code → HTTP status and a short human title. */
export const ERROR_CATALOGUE = {
  // request shape
  'request.malformed': { status: 400, title: 'The request is malformed' },
  'idempotency.key_invalid': { status: 400, title: 'The Idempotency-Key header is malformed' },
  'idempotency.key_reused': { status: 422, title: 'The Idempotency-Key was used for a different request' },
  'idempotency.in_progress': { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  'request.too_large': { status: 413, title: 'The request body is too large' },
  'request.unsupported_media_type': { status: 415, title: 'Unsupported media type' },
  'request.not_found': { status: 404, title: 'No such endpoint' },
  'request.method_not_allowed': { status: 405, title: 'Method not allowed' },

  // authentication and authorisation
  'auth.missing': { status: 401, title: 'Authentication is required' },
  'auth.invalid_token': { status: 401, title: 'The access token is invalid' },
  'auth.unknown_issuer': { status: 401, title: 'The token was not issued by a managed realm' },
  'auth.forbidden': { status: 403, title: 'The caller lacks the required role' },
  'token.client_disabled': { status: 401, title: 'The API client or its service account is disabled in Keycloak' },
  'token.client_not_found': { status: 401, title: 'The API client no longer exists in Keycloak' },
  'token.certificate_mismatch': {
    status: 401,
    title: 'The token is bound to a client certificate (RFC 8705) that this connection did not present',
  },

  // realms and roles
  'realm.not_found': { status: 404, title: 'No such managed realm' },
  'realm.invalid_name': { status: 400, title: 'The realm name is invalid' },
  'realm.missing_in_keycloak': { status: 409, title: 'The managed realm no longer exists in Keycloak' },
  'role.not_found': { status: 422, title: 'No such role' },
  'role.not_grantable': { status: 422, title: 'The role cannot be granted' },

  // API clients
  'api_client.invalid_id': { status: 400, title: 'The client id is invalid' },
  'api_client.exists': { status: 409, title: 'The API client already exists' },
  'api_client.not_found': { status: 404, title: 'No such API client' },
  'api_client.certificate_policy_required': { status: 400, title: 'A certificate client needs a certificate policy of its realm' },
  'api_client.certificate_policy_invalid': { status: 400, title: 'The policy cannot issue API client certificates' },
  'grant.not_found': { status: 404, title: 'No such cross-realm grant' },

  // certificate policies
  'policy.invalid': { status: 400, title: 'The certificate policy is invalid' },
  'policy.not_found': { status: 422, title: 'No such certificate policy' },
  'policy.realm_has_no_policies': { status: 422, title: 'The realm has no certificate policies' },
  'policy.realm_not_granted': { status: 422, title: 'The client holds no role in the policy realm' },
  'policy.required': { status: 422, title: 'No policy named and no default policy set' },
  'policy.key_not_allowed': { status: 422, title: 'The key type or size is not allowed' },
  'policy.subject_not_allowed': { status: 422, title: 'The subject is not allowed' },
  'policy.san_not_allowed': { status: 422, title: 'A subject alternative name is not allowed' },
  'policy.validity_exceeded': { status: 422, title: 'The validity exceeds the policy maximum' },
  'policy.in_use': { status: 409, title: 'The policy is in use' },

  // validities (ISO 8601 durations: policies' maxValidity, requests' validity)
  'validity.malformed': { status: 400, title: 'The validity is not an ISO 8601 duration' },
  'validity.too_short': { status: 422, title: 'The validity is shorter than one minute' },
  'validity.conflict': { status: 422, title: 'The validity is given both as a duration and in days' },

  // CSRs, certificates, requests, end entities
  'csr.malformed': { status: 400, title: 'The CSR is malformed' },
  'csr.bad_signature': { status: 400, title: 'The CSR signature does not verify' },
  'certificate.not_found': { status: 404, title: 'No such certificate' },
  'certificate.already_revoked': { status: 409, title: 'The certificate is already revoked' },
  'certificate.invalid_reason': { status: 400, title: 'Unknown revocation reason' },
  'certificate.not_held': { status: 409, title: 'The certificate is not on hold' },
  'certificate_request.not_found': { status: 404, title: 'No such certificate request' },
  'certificate_request.not_pending': { status: 409, title: 'The certificate request is not pending' },
  'certificate_request.self_approval': { status: 403, title: 'A requester cannot approve its own request' },
  'end_entity.exists': { status: 409, title: 'The end entity already exists' },
  'end_entity.not_found': { status: 404, title: 'No such end entity' },
  'ca.not_found': { status: 404, title: 'The realm has no CA yet' },
  'ca.malformed': { status: 400, title: 'The CA certificate or key cannot be read' },
  'ca.invalid': { status: 422, title: 'The CA is not suitable' },
  'ca.exists': { status: 409, title: 'The realm already has that CA' },
  'ca.key_unavailable': { status: 503, title: "The CA's key store (PKCS#11 token) is unavailable" },
  'ocsp.malformed': { status: 400, title: 'The OCSP request is malformed' },

  // renewal authenticated by the certificate being renewed (like step-ca's `step ca renew`)
  'renewal.certificate_missing': { status: 401, title: 'Renewal needs the certificate to renew as the TLS client certificate' },
  'renewal.certificate_unknown': { status: 401, title: 'The client certificate is not a certificate Keyward issued in this realm' },
  'renewal.certificate_revoked': { status: 401, title: 'The certificate to renew is revoked' },
  'renewal.certificate_expired': { status: 401, title: 'The certificate to renew is expired or not yet valid' },
  'renewal.requester_inactive': { status: 403, title: 'The API client that requested the certificate is disabled or deleted' },
  'renewal.policy_not_found': { status: 403, title: 'The policy the certificate was issued under no longer exists' },
  'renewal.not_allowed': { status: 403, title: 'The current policy no longer allows the certificate' },

  // automation credentials: users' client certificates (as in IBM CSM) and API clients' certificates (like Flocker's `flocker-ca`)
  'client_certificate.malformed': { status: 400, title: 'The client certificate is malformed' },
  'client_certificate.untrusted': { status: 401, title: 'The client certificate is not issued by a trusted CA' },
  'client_certificate.expired': { status: 401, title: 'The client certificate is expired or not yet valid' },
  'client_certificate.revoked': { status: 401, title: 'The client certificate is revoked' },
  'client_certificate.key_mismatch': { status: 401, title: 'The private key does not match the certificate' },
  'client_certificate.key_required': { status: 401, title: 'The header must carry the private key too' },
  'client_certificate.user_disabled': { status: 401, title: 'The user of the certificate no longer has access' },
  'client_certificate.unknown_principal': { status: 403, title: 'No API client matches the certificate' },
  'client_certificate.header_too_large': { status: 431, title: 'The X-Client-Certificate header is too large' },
  'client_certificate.disabled': { status: 403, title: 'Client certificates are disabled in this realm' },
  'client_certificate.expiry_exceeded': { status: 422, title: 'The expiry exceeds the maximum' },
  'client_certificate.not_found': { status: 404, title: 'No such client certificate' },
  'client_certificate.users_only': { status: 403, title: 'Only users create client certificates' },
  'trusted_ca.not_found': { status: 404, title: 'No such trusted client CA' },
  'trusted_ca.invalid': { status: 400, title: 'The trusted client CA is invalid' },

  // personal access tokens (as in IBM CSM)
  'pat.disabled': { status: 403, title: 'Personal access tokens are disabled in this realm' },
  'pat.disabled_in_use': {
    status: 401,
    title: 'Personal access tokens are disabled in this realm; the token works again when they are re-enabled',
  },
  'pat.expired': { status: 401, title: 'The personal access token has expired' },
  'pat.invalid': { status: 401, title: 'The personal access token is invalid or revoked' },
  'pat.expiry_exceeded': { status: 422, title: 'The expiry exceeds the maximum' },
  'pat.not_found': { status: 404, title: 'No such personal access token' },
  'pat.users_only': { status: 403, title: 'Only users create personal access tokens' },

  // protected settings and dual control
  'settings.invalid': { status: 400, title: 'The settings are invalid' },
  'approval.not_found': { status: 404, title: 'No such approval' },
  'approval.self_approval': { status: 403, title: 'The proposer cannot approve its own change' },
  'approval.expired': { status: 409, title: 'The approval has expired' },
  'approval.not_pending': { status: 409, title: 'The approval is no longer pending' },
  'approval.already_pending': { status: 409, title: 'A change of this setting is already waiting for approval' },
  'approval.stale': { status: 409, title: 'The setting changed since the change was proposed' },

  // device onboarding (compatible with IBM SKLM's pending client certificates)
  'device.pending': { status: 403, title: 'The device certificate waits for an admin to accept it' },
  'device.certificate_required': { status: 401, title: 'A device certificate is required' },
  'device.certificate_malformed': { status: 400, title: 'The device certificate is malformed' },
  'device.certificate_expired': { status: 422, title: 'The device certificate is expired or not yet valid' },
  'device.certificate_is_ca': { status: 422, title: 'The device certificate is a CA certificate' },
  'device.certificate_weak_key': { status: 422, title: "The device certificate's key is too weak or unsupported" },
  'device.chain_too_large': { status: 413, title: 'The pushed certificate chain is too large' },
  'device.onboarding_disabled': { status: 403, title: 'Device onboarding is disabled in this realm' },
  'device.pending_limit': { status: 409, title: 'The realm has too many pending client certificates' },
  'device.rate_limited': { status: 429, title: 'Too many certificate pushes from this address' },
  'device.rejected': { status: 403, title: 'The certificate was rejected by an admin' },
  'device.already_trusted': { status: 409, title: 'The certificate is already trusted' },
  'device.alias_invalid': { status: 400, title: 'The alias is invalid' },
  'device.alias_in_use': { status: 409, title: 'The alias is already in use' },
  'device.pending_not_found': { status: 404, title: 'No such pending client certificate' },
  'device.trusted_not_found': { status: 404, title: 'No such trusted client certificate' },
  'device.client_not_found': { status: 404, title: 'No such device client' },
  'device.client_disabled': { status: 401, title: 'The device client is disabled or deleted in Keycloak' },
  'device.default_realm_unset': { status: 404, title: 'The SKLM-compatible path has no realm (KEYWARD_DEVICE_DEFAULT_REALM)' },

  // web console (backend-for-frontend sessions and login)
  'session.expired': { status: 401, title: 'The console session has expired; log in again' },
  'session.csrf': { status: 403, title: 'The console request lacks its cross-site request forgery protection' },
  'console.not_built': { status: 503, title: 'The web console is not built' },
  'console_client.missing': { status: 409, title: "The realm's console client is missing or out of date in Keycloak" },
  'login.state_invalid': { status: 400, title: 'The login state is missing, expired or does not match' },
  'login.denied': { status: 401, title: 'Keycloak did not let the login through' },
  'login.failed': { status: 502, title: 'Keycloak refused the login code exchange' },

  // ACME external account binding keys (the ACME protocol itself answers RFC 8555 problem types, see acme/problem.ts)
  'acme.eab_clients_only': { status: 403, title: 'Only API clients create ACME external account binding keys' },
  'acme.eab_key_not_found': { status: 404, title: 'No such ACME external account binding key' },
  // webhooks (Standard Webhooks signatures, CloudEvents bodies)
  'webhook.not_found': { status: 404, title: 'No such webhook' },
  'webhook.invalid_name': { status: 400, title: 'The webhook name is invalid' },
  'webhook.url_invalid': { status: 400, title: 'The webhook URL is invalid' },
  'webhook.destination_not_allowed': { status: 422, title: 'The webhook destination is outside the allowed networks' },
  'webhook.secret_invalid': { status: 400, title: 'The webhook secret is not whsec_ and 24 to 64 bytes in base64' },
  'webhook.unknown_event': { status: 400, title: 'No such event type' },
  'webhook.delivery_not_found': { status: 404, title: 'No such webhook delivery' },

  // realm config as code
  'realm_config.invalid': { status: 400, title: 'The realm configuration is invalid' },

  // infrastructure
  'keycloak.unavailable': { status: 503, title: 'Keycloak is unavailable' },
  'keycloak.rejected': { status: 502, title: 'Keycloak refused the request' },
  'store.unavailable': { status: 503, title: 'The database is unavailable' },
  'store.conflict': { status: 409, title: 'The change conflicts with stored state' },
  'server.error': { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface KeywardErrorOptions {
  /** The original error, kept for logs; never rendered to clients. */
  cause?: unknown;
  /** Machine-readable extras rendered as problem members (e.g. `field`, `maximum`). */
  extras?: Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

export class KeywardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly extras: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  /**
   * @example
   * throw new KeywardError('policy.san_not_allowed', 'DNS name evil.example is outside the policy', {
   *   extras: { san: 'dns:evil.example' },
   * });
   */
  constructor(code: ErrorCode, detail: string, options: KeywardErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = ERROR_CATALOGUE[code];
    if (!entry) throw new TypeError(`unknown error code ${String(code)}`);
    this.name = 'KeywardError';
    this.code = code;
    this.status = entry.status;
    this.title = entry.title;
    this.extras = Object.freeze({ ...options.extras });
    this.headers = Object.freeze({ ...options.headers });
  }

  /** The human detail; an alias that reads better at call sites. */
  get detail(): string {
    return this.message;
  }
}

/** True when `err` is a KeywardError, optionally with the given code. */
export function isKeywardError(err: unknown, code?: ErrorCode): err is KeywardError {
  return err instanceof KeywardError && (code === undefined || err.code === code);
}
