/**
 * What every ACME action works with: its collaborators, the installation's
 * ACME settings, the URLs of a realm's ACME resources, and the per-account
 * rate limiter. Built once at the composition root.
 */
import type { Principal } from '../authn/principal.ts';
import type { Authorizer } from '../authn/roles.ts';
import type { Issuance } from '../issuance/issuance.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import { RateLimiter } from '../kernel/rate_limiter.ts';
import type { PolicyService } from '../provisioning/policies.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type { AccountRecord, AcmeStore } from './ports.ts';

export interface AcmeDeps {
  readonly store: AcmeStore;
  readonly issuance: Pick<
    Issuance,
    'preflight' | 'issue' | 'getRequest' | 'revoke' | 'revokeAsKeyHolder' | 'findIssued' | 'findBySerial' | 'chain' | 'get'
  >;
  readonly authz: Pick<Authorizer, 'requireActiveClient' | 'require'>;
  readonly realms: Pick<RealmService, 'getManaged'>;
  readonly policies: Pick<PolicyService, 'find'>;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface AcmeOptions {
  /** Keyward's public base URL (KEYWARD_PUBLIC_URL); ACME URLs are under `<publicUrl>/acme/<realm>`. */
  readonly publicUrl: string;
  /** Where challenge validation may connect (KEYWARD_ACME_ALLOWED_NETWORKS), CIDR ranges. */
  readonly allowedNetworks: readonly string[];
  /** The port http-01 validation connects to (KEYWARD_ACME_HTTP01_PORT; RFC 8555 §8.3 says 80). */
  readonly http01Port: number;
  /** The port tls-alpn-01 validation connects to (KEYWARD_ACME_TLSALPN01_PORT; RFC 8737 §3 says 443). */
  readonly tlsAlpn01Port: number;
  /** The DNS server (host:port) for dns-01 and for resolving names to validate; undefined: the system's. */
  readonly dnsServer: string | undefined;
  /** Signed requests per account and minute (KEYWARD_ACME_RATE); more answer rateLimited. */
  readonly requestsPerMinute: number;
  /** One validation attempt's time bound. */
  readonly validationTimeoutMs?: number | undefined;
  /** Validation attempts before a challenge is invalid, and the pause between them. */
  readonly validationAttempts?: number | undefined;
  readonly validationRetryMs?: number | undefined;
  /** Terms of service URL shown in the directory's meta, if any (KEYWARD_ACME_TERMS_OF_SERVICE). */
  readonly termsOfService?: string | undefined;
}

/** How long a nonce, an order and its authorizations live. */
export const NONCE_TTL_MS = 60 * 60_000;
export const ORDER_TTL_MS = 24 * 60 * 60_000;

export interface AcmeContext extends AcmeDeps {
  readonly options: Required<Omit<AcmeOptions, 'termsOfService' | 'dnsServer'>> & Pick<AcmeOptions, 'termsOfService' | 'dnsServer'>;
  readonly limiter: RateLimiter;
  /** Challenge validations running in this process (awaited at shutdown and by tests). */
  readonly running: Set<Promise<void>>;
  /** `<publicUrl>/acme/<realm>` */
  base(realm: string): string;
  accountUrl(realm: string, id: string): string;
  orderUrl(realm: string, id: string): string;
  authzUrl(realm: string, id: string): string;
  challengeUrl(realm: string, id: string): string;
  certificateUrl(realm: string, orderId: string): string;
}

export function acmeContext(deps: AcmeDeps, options: AcmeOptions): AcmeContext {
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const base = (realm: string) => `${publicUrl}/acme/${encodeURIComponent(realm)}`;
  return {
    ...deps,
    options: {
      ...options,
      publicUrl,
      validationTimeoutMs: options.validationTimeoutMs ?? 10_000,
      validationAttempts: options.validationAttempts ?? 3,
      validationRetryMs: options.validationRetryMs ?? 1_000,
    },
    limiter: new RateLimiter({ perMinute: options.requestsPerMinute, burst: Math.max(10, Math.ceil(options.requestsPerMinute / 2)) }),
    running: new Set(),
    base,
    accountUrl: (realm, id) => `${base(realm)}/account/${id}`,
    orderUrl: (realm, id) => `${base(realm)}/order/${id}`,
    authzUrl: (realm, id) => `${base(realm)}/authz/${id}`,
    challengeUrl: (realm, id) => `${base(realm)}/chall/${id}`,
    certificateUrl: (realm, orderId) => `${base(realm)}/cert/${orderId}`,
  };
}

/** The principal an ACME account acts as: its API client, whose current roles decide (authn/roles.ts). */
export function principalOf(account: AccountRecord): Principal {
  return Object.freeze({
    credential: 'acme',
    kind: 'client',
    realm: account.client.realm,
    subject: account.client.subject,
    clientId: account.client.clientId,
    username: undefined,
    credentialRoles: [],
  });
}

/** The audit actor of an ACME account's action. */
export function actorOf(account: AccountRecord) {
  return { kind: 'client:acme', id: account.client.subject, realm: account.client.realm, name: account.client.clientId };
}
