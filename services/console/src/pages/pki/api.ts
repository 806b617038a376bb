/**
 * The /v1 calls and answer shapes of the certificate, API client, policy and
 * audit pages (README "HTTP API"). Every call goes through the typed layer in
 * api/client.ts, so the session cookie and the CSRF header come along.
 */
import { api, ApiProblem, seg, type Query } from '../../api/client.ts';

export interface CrossRealmRole {
  readonly realm: string;
  readonly role: string;
}
export interface PolicyRef {
  readonly realm: string;
  readonly name: string;
}
export type DefaultPolicyStatus = 'valid' | 'policy.not_found' | 'policy.realm_has_no_policies' | 'policy.realm_not_granted';

export interface ApiClient {
  readonly realm: string;
  readonly clientId: string;
  readonly name?: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly managed: boolean;
  readonly source?: 'api' | 'config' | 'console';
  /** Effective home-realm roles (direct, through the default role, through groups). */
  readonly roles: readonly string[];
  /** Home-realm roles assigned directly, besides the default role. */
  readonly assignedRoles: readonly string[];
  /** Live grants: roles of other realms held through `keyward-grant.<realm>.<clientId>` in that realm. */
  readonly crossRealmRoles: readonly CrossRealmRole[];
  readonly defaultPolicy?: PolicyRef & { readonly status: DefaultPolicyStatus };
}

export interface ApiClientInput {
  readonly clientId: string;
  readonly name?: string;
  readonly description?: string;
  readonly roles?: readonly string[];
  readonly crossRealmRoles?: readonly CrossRealmRole[];
  readonly defaultPolicy?: PolicyRef;
}

export interface RealmView {
  readonly name: string;
  readonly status: string;
  readonly displayName?: string;
  readonly defaultRoles: readonly string[];
  readonly roles: readonly string[];
}

export interface RequesterRef {
  readonly kind: string;
  readonly realm: string;
  readonly id: string;
  readonly name?: string;
}

export type CertificateStatus = 'valid' | 'revoked' | 'expired';
export interface Certificate {
  readonly serialNumber: string;
  readonly certificate: string;
  readonly chain: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly policy: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly status: CertificateStatus;
  readonly endEntity?: string;
  readonly requester?: RequesterRef;
  readonly revokedAt?: string;
  readonly revocationReason?: string;
}

export interface CertificateFilter {
  status?: CertificateStatus | undefined;
  subject?: string | undefined;
  san?: string | undefined;
  requester?: string | undefined;
  policy?: string | undefined;
  endEntity?: string | undefined;
  expiringBefore?: string | undefined;
}

export interface CertificateRequest {
  readonly requestId: string;
  readonly status: 'pending' | 'issued' | 'rejected';
  readonly policy: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly validityDays: number;
  readonly endEntity?: string;
  readonly requester: RequesterRef;
  readonly decidedBy?: RequesterRef;
  readonly reason?: string;
  readonly createdAt: string;
  readonly decidedAt?: string;
  readonly certificate?: Certificate;
}

export interface EndEntity {
  readonly realm: string;
  readonly name: string;
  readonly subject: readonly { type: string; value: string }[];
  readonly sans?: Partial<Record<'dns' | 'ip' | 'uri' | 'email', string[]>>;
  readonly policy: string;
  readonly createdAt: string;
}

/** The certificate policy document (README "Certificate policies"). */
export interface PolicyDocument {
  description?: string;
  keyTypes: string[];
  maxValidityDays: number;
  subject: { required: string[]; allowed: string[] };
  san: { dns: string[]; ip: string[]; uri: string[]; email: string[] };
  keyUsage: string[];
  extendedKeyUsage: string[];
  approval: 'none' | 'required';
  /** When the requester is deleted in Keycloak (default revoke, cessationOfOperation). */
  onRequesterDeleted?: 'revoke' | 'keep';
  /** When the requester is disabled in Keycloak (default hold: certificateHold until enabled again). */
  onRequesterDisabled?: 'hold' | 'revoke' | 'keep';
  /** When the cross-realm grant is revoked in the granting realm (default revoke, affiliationChanged). */
  onGrantRevoked?: 'revoke' | 'keep';
}
export interface Policy {
  readonly realm: string;
  readonly name: string;
  readonly policy: PolicyDocument;
  readonly source: 'api' | 'config';
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AuditEvent {
  readonly seq: string;
  readonly id: string;
  readonly at: string;
  readonly realm?: string;
  readonly actor?: { kind: string; id?: string; name?: string; realm?: string };
  readonly action: string;
  readonly target?: string;
  readonly details?: unknown;
  readonly sealed: boolean;
}

export interface AuditVerification {
  readonly intact: boolean;
  readonly sealed: number;
  readonly waiting: number;
  readonly head?: string;
  readonly brokenAt?: string;
}

export const KEY_TYPES = ['EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096'] as const;
export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'encipherOnly',
  'decipherOnly',
];
export const EXTENDED_KEY_USAGES = ['serverAuth', 'clientAuth', 'codeSigning', 'emailProtection', 'timeStamping', 'OCSPSigning'];
export const SUBJECT_ATTRIBUTES = ['CN', 'O', 'OU', 'C', 'ST', 'L', 'serialNumber', 'emailAddress', 'DC'];
/** RFC 5280 §5.3.1 reason codes a certificate may be revoked with (removeFromCRL is for delta CRLs only). */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const;

/** A page of a list the API pages with first/max: one more row is asked for to know whether a next page exists. */
export interface Paged<T> {
  readonly items: readonly T[];
  readonly hasMore: boolean;
}
async function paged<T>(path: string, query: Query, first: number, max: number): Promise<Paged<T>> {
  const r = await api.get<{ items: T[] }>(path, { ...query, first, max: max + 1 });
  return { items: r.items.slice(0, max), hasMore: r.items.length > max };
}

const realmPath = (realm: string) => `/v1/realms/${seg(realm)}`;

export const pki = {
  realms: () => api.get<{ realms: RealmView[] }>('/v1/realms'),
  realm: (realm: string) => api.get<RealmView>(realmPath(realm)),

  apiClients: (realm: string, search: string, first: number, max: number) =>
    paged<ApiClient>(`${realmPath(realm)}/api-clients`, { search }, first, max),
  apiClient: (realm: string, clientId: string) => api.get<ApiClient>(`${realmPath(realm)}/api-clients/${seg(clientId)}`),
  createApiClient: (realm: string, input: ApiClientInput) =>
    api.post<ApiClient & { secret: string }>(`${realmPath(realm)}/api-clients`, input),
  deleteApiClient: (realm: string, clientId: string) => api.del(`${realmPath(realm)}/api-clients/${seg(clientId)}`),
  rotateSecret: (realm: string, clientId: string) =>
    api.post<{ clientId: string; secret: string }>(`${realmPath(realm)}/api-clients/${seg(clientId)}/secret`),

  certificates: (realm: string, filter: CertificateFilter, first: number, max: number) =>
    paged<Certificate>(`${realmPath(realm)}/certificates`, { ...filter }, first, max),
  certificate: (realm: string, serial: string) => api.get<Certificate>(`${realmPath(realm)}/certificates/${seg(serial)}`),
  revoke: (realm: string, serial: string, reason: string) =>
    api.post<Certificate>(`${realmPath(realm)}/certificates/${seg(serial)}/revoke`, { reason }),
  issue: (realm: string, input: { csr: string; policy?: string; validityDays?: number }) =>
    api.post<Certificate | CertificateRequest>(`${realmPath(realm)}/certificates`, input),
  requests: (realm: string, status: string | undefined, first: number, max: number) =>
    paged<CertificateRequest>(`${realmPath(realm)}/certificate-requests`, { status }, first, max),
  approveRequest: (realm: string, id: string) =>
    api.post<CertificateRequest>(`${realmPath(realm)}/certificate-requests/${seg(id)}/approve`),
  rejectRequest: (realm: string, id: string, reason: string) =>
    api.post<CertificateRequest>(`${realmPath(realm)}/certificate-requests/${seg(id)}/reject`, { reason }),
  endEntities: (realm: string) => api.get<{ items: EndEntity[] }>(`${realmPath(realm)}/end-entities`),

  policies: (realm: string) => api.get<{ items: Policy[] }>(`${realmPath(realm)}/policies`),
  policy: (realm: string, name: string) => api.get<Policy>(`${realmPath(realm)}/policies/${seg(name)}`),
  putPolicy: (realm: string, name: string, document: unknown) => api.put<Policy>(`${realmPath(realm)}/policies/${seg(name)}`, document),
  deletePolicy: (realm: string, name: string) => api.del(`${realmPath(realm)}/policies/${seg(name)}`),

  audit: (realm: string, filter: Query, first: number, max: number) =>
    paged<AuditEvent>(`${realmPath(realm)}/audit-events`, filter, first, max),
  auditVerification: () => api.get<AuditVerification>('/v1/audit-events/verification'),
};

/**
 * The JSON Pointer (RFC 6901) a validation problem names: `pointer`, the first
 * of `errors[]`, or Keyward's `path` extension (policy.invalid).
 */
export function problemPointer(e: unknown): string | undefined {
  if (!(e instanceof ApiProblem)) return undefined;
  if (e.pointer) return e.pointer;
  const path = e.body.path;
  return typeof path === 'string' && path.startsWith('/') ? path : undefined;
}
