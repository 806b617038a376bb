/**
 * The shapes and calls of Keyward's HTTP API that the identity pages use:
 * a user's client certificates and personal access tokens, the protected
 * settings and their approvals, certificate requests, device onboarding.
 */
import { api, seg } from '../../api/client.ts';

export interface Actor {
  readonly kind: string;
  readonly id: string;
  readonly realm: string;
  readonly name?: string;
}

export interface ClientCertificate {
  readonly id: string;
  readonly realm: string;
  readonly username: string;
  readonly name?: string | null;
  readonly serialNumber: string;
  readonly mode: 'generated' | 'csr';
  readonly createdAt: string;
  readonly expiresInDays: number;
  readonly expiresAt: string;
  readonly status: 'valid' | 'revoked' | 'expired';
}

export interface OwnList<T> {
  readonly items: T[];
  readonly enabled: boolean;
  readonly maximumExpirationDays: number;
}

export interface Pat {
  readonly id: string;
  readonly name: string | null;
  readonly createdAt: string;
  readonly expiresInDays: number;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
  readonly status: 'active' | 'expired';
}

export interface CreatedPat extends Pat {
  readonly token: string;
}

export interface AdminPat extends Pat {
  readonly username: string;
  readonly exceedsMaximum: boolean;
}

export interface AdminPatPage {
  readonly items: AdminPat[];
  readonly total: number;
  readonly first: number;
  readonly max: number;
  readonly maximumExpirationDays: number;
}

export interface ExpirySettings {
  readonly enabled: boolean;
  readonly maxExpirationDays: number;
  readonly pendingApprovalId?: string;
}

export interface DualControlSettings {
  readonly enabled: boolean;
  readonly pendingApprovalId?: string;
}

export interface DeviceSettings {
  readonly enabled: boolean;
  readonly maxPending: number;
  readonly rejectForHours: number;
  readonly pendingApprovalId?: string;
}

export type SettingName = 'personal_access_tokens' | 'client_certificates' | 'dual_control' | 'devices';

/** What a PUT of a protected setting answers: the value (applied), or the approval it waits in. */
export type SettingChange<T> = T | { readonly approvalId: string; readonly status: 'pending'; readonly expiresAt: string };
export const isPending = <T extends object>(r: SettingChange<T>): r is { approvalId: string; status: 'pending'; expiresAt: string } =>
  'approvalId' in r;

export interface Approval {
  readonly id: string;
  readonly realm: string;
  /** `settings.<name>` or `devices.accept/<id>`. */
  readonly kind: string;
  readonly status: 'pending' | 'approved' | 'rejected' | 'expired';
  readonly change: Record<string, unknown>;
  readonly proposedBy: Actor;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedBy?: Actor;
  readonly decidedAt?: string;
  readonly reason?: string;
}

export interface CertificateRequest {
  readonly requestId: string;
  readonly status: 'pending' | 'issued' | 'rejected';
  readonly policy: string;
  readonly subject: string;
  readonly sans: string[];
  readonly validityDays: number;
  readonly endEntity?: string;
  readonly requester: Actor;
  readonly decidedBy?: Actor;
  readonly reason?: string;
  readonly createdAt: string;
  readonly decidedAt?: string;
}

interface DeviceCertificate {
  readonly uuid: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly sha256Fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface PendingDevice extends DeviceCertificate {
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly sourceAddress: string;
  readonly via: 'tls' | 'upload';
}

export interface TrustedDevice extends DeviceCertificate {
  readonly alias: string;
  readonly clientId: string;
  readonly deviceGroup?: string;
  readonly deviceRole?: string;
  readonly acceptedAt: string;
  readonly acceptedBy: Actor;
}

const realmPath = (realm: string, rest: string) => `/v1/realms/${seg(realm)}/${rest}`;

export const identityApi = {
  // ------------------------------------------------------------ my access
  myCertificates: () => api.get<OwnList<ClientCertificate>>('/v1/client-certificates'),
  createCertificate: (body: { name?: string; expiresInDays: number }) =>
    api.post<ClientCertificate & { pem: string }>('/v1/client-certificates', body),
  certificatePem: (id: string) => api.text(`/v1/client-certificates/${seg(id)}/pem`),
  revokeCertificate: (id: string) => api.del<ClientCertificate>(`/v1/client-certificates/${seg(id)}`),
  myTokens: () => api.get<OwnList<Pat>>('/v1/personal-access-tokens'),
  createToken: (body: { name?: string; expiresInDays: number }) => api.post<CreatedPat>('/v1/personal-access-tokens', body),
  revokeToken: (id: string) => api.del(`/v1/personal-access-tokens/${seg(id)}`),

  // ------------------------------------------------------------ administration
  patSettings: (realm: string) => api.get<ExpirySettings>(realmPath(realm, 'settings/personal-access-tokens')),
  putPatSettings: (realm: string, body: { enabled: boolean; maxExpirationDays: number }) =>
    api.put<SettingChange<ExpirySettings>>(realmPath(realm, 'settings/personal-access-tokens'), body),
  certSettings: (realm: string) => api.get<ExpirySettings>(realmPath(realm, 'settings/client-certificates')),
  putCertSettings: (realm: string, body: { enabled: boolean; maxExpirationDays: number }) =>
    api.put<SettingChange<ExpirySettings>>(realmPath(realm, 'settings/client-certificates'), body),
  dualControl: (realm: string) => api.get<DualControlSettings>(realmPath(realm, 'settings/dual-control')),
  putDualControl: (realm: string, body: { enabled: boolean }) =>
    api.put<SettingChange<DualControlSettings>>(realmPath(realm, 'settings/dual-control'), body),
  deviceSettings: (realm: string) => api.get<DeviceSettings>(realmPath(realm, 'settings/devices')),
  putDeviceSettings: (realm: string, body: { enabled: boolean; maxPending: number; rejectForHours: number }) =>
    api.put<SettingChange<DeviceSettings>>(realmPath(realm, 'settings/devices'), body),
  realmTokens: (realm: string, query: { sort?: string; username?: string; first?: number; max?: number }) =>
    api.get<AdminPatPage>(realmPath(realm, 'personal-access-tokens'), query),
  revokeRealmTokens: (realm: string, body: { ids?: string[]; usernames?: string[] }) =>
    api.post<{ revoked: number; items: AdminPat[] }>(realmPath(realm, 'personal-access-tokens/revoke'), body),
  realmCertificates: (realm: string) => api.get<{ items: ClientCertificate[] }>(realmPath(realm, 'client-certificates')),

  // ------------------------------------------------------------ approvals
  approvals: (realm: string, status?: Approval['status']) => api.get<{ items: Approval[] }>(realmPath(realm, 'approvals'), { status }),
  approve: (realm: string, id: string) => api.post<Approval>(realmPath(realm, `approvals/${seg(id)}/approve`)),
  reject: (realm: string, id: string, reason?: string) =>
    api.post<Approval>(realmPath(realm, `approvals/${seg(id)}/reject`), reason ? { reason } : {}),
  requests: (realm: string, status?: CertificateRequest['status']) =>
    api.get<{ items: CertificateRequest[] }>(realmPath(realm, 'certificate-requests'), { status, max: 200 }),
  approveRequest: (realm: string, id: string) => api.post<CertificateRequest>(realmPath(realm, `certificate-requests/${seg(id)}/approve`)),
  rejectRequest: (realm: string, id: string, reason: string) =>
    api.post<CertificateRequest>(realmPath(realm, `certificate-requests/${seg(id)}/reject`), { reason }),

  // ------------------------------------------------------------ devices
  pendingDevices: (realm: string) => api.get<{ items: PendingDevice[] }>(realmPath(realm, 'pending-client-certificates')),
  acceptDevice: (realm: string, body: { alias: string; uuid: string; deviceGroup?: string; deviceRole?: string }) =>
    api.post<TrustedDevice | { approvalId: string; status: 'pending' }>(realmPath(realm, 'pending-client-certificates'), body),
  rejectDevice: (realm: string, uuid: string) => api.del(realmPath(realm, `pending-client-certificates/${seg(uuid)}`)),
  trustedDevices: (realm: string) => api.get<{ items: TrustedDevice[] }>(realmPath(realm, 'trusted-client-certificates')),
  untrustDevice: (realm: string, alias: string) => api.del(realmPath(realm, `trusted-client-certificates/${seg(alias)}`)),
  renameDeviceClient: (realm: string, name: string, newName: string) =>
    api.patch<TrustedDevice>(realmPath(realm, `device-clients/${seg(name)}`), { name: newName }),
};
