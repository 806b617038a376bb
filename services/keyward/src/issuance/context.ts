/**
 * What every issuance action works with: its collaborators, the
 * installation's settings, and the per-process caches (opened CAs, signed
 * OCSP responses). Built once at the composition root.
 */
import type { KeyObject } from 'node:crypto';
import type { Authorizer } from '../authn/roles.ts';
import type { CaKeyType, CaSigner, CsrSignatureVerifier } from '../ca/index.ts';
import type { Clock } from '../kernel/clock.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import type { ApiClientService } from '../provisioning/api_clients.ts';
import type { PolicyService } from '../provisioning/policies.ts';
import type { RealmService } from '../provisioning/realms.ts';
import { RealmCas } from './cas.ts';
import type { CertificateRecord, IssuanceStore } from './ports.ts';

/** What issuance needs of its collaborators: narrow views, so a test can stand in for each. */
export interface IssuanceDeps {
  readonly store: IssuanceStore;
  readonly realms: Pick<RealmService, 'getManaged' | 'list'>;
  readonly policies: Pick<PolicyService, 'find'>;
  /** The API client's default policy, for requests that name none. */
  readonly apiClients: Pick<ApiClientService, 'defaultPolicyOf'>;
  readonly authz: Pick<Authorizer, 'rolesIn' | 'isOperator' | 'require' | 'requireOperator' | 'requireActiveClient'>;
  readonly clock: Clock;
  /** The key-encryption key that seals CA keys (KEYWARD_KEK). */
  readonly kek: Uint8Array;
  /** A CaSigner for a CA key held in this process (crypto/offload.ts: on worker threads under load). */
  readonly signerFor: (key: KeyObject) => CaSigner;
  /** Checks a CSR's proof of possession (crypto/offload.ts: on worker threads under load). */
  readonly verifyCsr: CsrSignatureVerifier;
}

export interface IssuanceOptions {
  readonly publicUrl: string;
  /** Key type of new issuing CAs (KEYWARD_CA_KEY_TYPE); default EC-P256. */
  readonly issuingKeyType?: CaKeyType | undefined;
  /** How long a CRL is valid; it is re-signed on revocation and when it gets older than half this. */
  readonly crlValidityHours?: number;
  /**
   * Runs after a certificate was revoked, before the revocation is answered (a certificate client's pin in Keycloak
   * moves on at once). A failure is reported to the caller; the revocation itself stands.
   */
  readonly onRevoked?: ((realm: string, record: CertificateRecord) => Promise<void>) | undefined;
}

/** How long a signed OCSP response is served again for the same request. */
export const OCSP_CACHE_MS = 5_000;

/** The context the actions share. */
export interface IssuanceContext extends IssuanceDeps {
  /** The public base URL, without a trailing slash. */
  readonly publicUrl: string;
  readonly crlValidityMs: number;
  readonly cas: RealmCas;
  readonly onRevoked: ((realm: string, record: CertificateRecord) => Promise<void>) | undefined;
  /**
   * Signed OCSP responses by request (a request with a nonce is unique and
   * never hits): responders may serve pre-produced responses (RFC 6960 §2.2).
   * Bounded staleness OCSP_CACHE_MS; a revocation in this process clears it.
   */
  readonly ocspCache: TtlCache<string, Uint8Array>;
}

/** The shared context of the issuance actions. */
export function issuanceContext(deps: IssuanceDeps, options: IssuanceOptions): IssuanceContext {
  return {
    ...deps,
    publicUrl: options.publicUrl.replace(/\/+$/, ''),
    crlValidityMs: (options.crlValidityHours ?? 24) * 3_600_000,
    onRevoked: options.onRevoked,
    cas: new RealmCas(deps, options.issuingKeyType ?? 'EC-P256'),
    ocspCache: new TtlCache<string, Uint8Array>(OCSP_CACHE_MS, { max: 50_000 }),
  };
}
