/**
 * Issuance's public surface: each method is one action module (./actions/,
 * ./requests.ts, ./certificates.ts, ./end_entities.ts, ./revocation.ts,
 * ./cas.ts) bound to the shared context. Routes and the composition root use
 * this; the actions hold the steps.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import type { CaContext, StoredCa } from '../ca/index.ts';
import { approve, reject } from './actions/decide.ts';
import { issue, type IssueInput } from './actions/issue.ts';
import { renew, type RenewInput } from './actions/renew.ts';
import { preflight, type Preflight, type PreflightInput } from './actions/preflight.ts';
import {
  findIssued,
  holdCertificate,
  release,
  releaseCertificate,
  revoke,
  revokeAsKeyHolder,
  revokeCertificate,
  type StatusChange,
  type StatusChangeResult,
} from './actions/revoke.ts';
import { realmCas, rotate, type RealmCaView } from './actions/rotate_ca.ts';
import type { IssuingCa } from './cas.ts';
import { exportCertificates, getCertificate, searchCertificates } from './certificates.ts';
import { issuanceContext, type IssuanceContext, type IssuanceDeps, type IssuanceOptions } from './context.ts';
import { createEndEntity, deleteEndEntity, getEndEntity, listEndEntities, type EndEntityInput } from './end_entities.ts';
import type { CertificateFilter, CertificateRecord, CertificateSummary, EndEntityRecord } from './ports.ts';
import type { AuditEventInput } from '../audit/event.ts';
import { getRequest, listRequests } from './requests.ts';
import { crl, deltaCrl, issuingCas, ocsp, refreshCrl, refreshDueCrls } from './revocation.ts';
import type { IssueOutcome, IssuedView, RequestView } from './views.ts';

export interface Issuance {
  /** `GET /v1/realms/{realm}/ca`: the chain, issuing CA first, root last. */
  chain(realm: string): Promise<readonly string[]>;
  /** The realm's issuing CA and its chain, created on first use. */
  issuingCa(realm: string): Promise<IssuingCa>;
  /** The realm's client-authentication CA, opened to sign (users' client certificates). */
  clientAuthCa(realm: string): Promise<{ readonly stored: StoredCa; readonly ca: CaContext }>;
  /**
   * Operators: imports a CA as the parent of the realm's issuing CA, before
   * its first issuance; answers the new chain.
   */
  importParent(
    realm: string,
    p: Principal,
    input: { certificate: string; privateKey: string; chain?: string | undefined },
  ): Promise<readonly string[]>;
  issue(realm: string, p: Principal, input: IssueInput): Promise<IssueOutcome>;
  listRequests(realm: string, p: Principal, status: string | undefined, first: number, max: number): Promise<RequestView[]>;
  getRequest(realm: string, p: Principal, id: string): Promise<RequestView>;
  approve(realm: string, p: Principal, id: string): Promise<RequestView>;
  reject(realm: string, p: Principal, id: string, reason: string): Promise<RequestView>;
  createEndEntity(realm: string, p: Principal, input: EndEntityInput): Promise<EndEntityRecord>;
  getEndEntity(realm: string, p: Principal, name: string): Promise<EndEntityRecord>;
  listEndEntities(realm: string, p: Principal): Promise<EndEntityRecord[]>;
  deleteEndEntity(realm: string, p: Principal, name: string): Promise<void>;
  search(realm: string, p: Principal, filter: CertificateFilter): Promise<IssuedView[]>;
  /** The whole search (paging ignored) streamed in batches through a database cursor: CSV and JSON Lines exports. */
  export(realm: string, p: Principal, filter: CertificateFilter): Promise<AsyncIterable<readonly CertificateSummary[]>>;
  get(realm: string, p: Principal, serial: string): Promise<IssuedView>;
  revoke(realm: string, p: Principal, serial: string, reason: string): Promise<IssuedView>;
  /** Releases a held certificate (revoked with certificateHold): valid again. */
  release(realm: string, p: Principal, serial: string): Promise<IssuedView>;
  /** Renews the certificate presented in the TLS handshake (its DER), under its requester's current rules. */
  renew(realm: string, presented: Uint8Array, input: RenewInput): Promise<IssuedView>;
  /** The CRL of the realm's active issuing CA, or of its issuing CA `caId` (active or retiring). */
  crl(realm: string, caId?: string): Promise<Uint8Array>;
  /** The realm's delta CRL (RFC 5280 §5.2.4). */
  deltaCrl(realm: string): Promise<Uint8Array>;
  refreshDueCrls(): Promise<void>;
  ocsp(realm: string, requestDer: Uint8Array): Promise<Uint8Array>;
  /** Drops this process's OCSP answers: another replica revoked a certificate. */
  revocationChanged(): void;
  issuingCas(): Promise<{ realm: string; ca: StoredCa }[]>;
  /** The realm's active and retiring issuing CAs with their chains, active first (`GET /v1/realms/{realm}/ca`). */
  cas(realm: string): Promise<RealmCaView[]>;
  /** keyward-admin: rotates the realm's issuing CA (see RealmCas.rotate); answers the realm's CAs after it. */
  rotate(realm: string, p: Principal, input: { keyType?: string | undefined }): Promise<RealmCaView[]>;
  /** The periodic sweep (on the leader): retires the retiring CAs whose certificates have all expired. */
  retireCas(): Promise<StoredCa[]>;
  /** Drops this process's view of a realm's CAs: another replica rotated or retired one. */
  casChanged(realm?: string): void;
  /** The rules of a request before its CSR (an ACME order): role, policy, SAN rules, validity; nothing stored. */
  preflight(realm: string, p: Principal, input: PreflightInput): Promise<Preflight>;
  /** Revokes a certificate for the holder of its private key (RFC 8555 §7.6), whose signature the caller checked. */
  revokeAsKeyHolder(realm: string, der: Uint8Array, reason: string, actor: AuditEventInput['actor']): Promise<IssuedView>;
  /** The realm's certificate with exactly this DER (for its holder: ACME revocation and renewal information). */
  findIssued(realm: string, der: Uint8Array): Promise<CertificateRecord | undefined>;
  /** The realm's certificate with this serial, without a caller (ACME renewal information is public, RFC 9773). */
  findBySerial(realm: string, serial: string): Promise<CertificateRecord | undefined>;
  /**
   * The one function of each status change (the API's revoke and release, and identity following, use them):
   * atomic, audited once, OCSP answers dropped, CRL re-signed unless the change says otherwise.
   */
  readonly statusChanges: StatusChanges;
}

export interface StatusChanges {
  revoke(change: StatusChange, reason: Parameters<typeof revokeCertificate>[2]): Promise<StatusChangeResult | undefined>;
  hold(change: StatusChange): Promise<StatusChangeResult | undefined>;
  release(change: StatusChange): Promise<StatusChangeResult | undefined>;
  /** Re-signs a realm's CRL (after changes made with refreshCrl: false). */
  refreshCrl(realm: string): Promise<void>;
}

async function importParent(
  ctx: IssuanceContext,
  realm: string,
  p: Principal,
  input: { certificate: string; privateKey: string; chain?: string | undefined },
): Promise<readonly string[]> {
  ctx.authz.requireOperator(p);
  await ctx.realms.getManaged(realm);
  const parent = await ctx.cas.importParent(realm, `${input.certificate}\n${input.chain ?? ''}`, input.privateKey);
  await ctx.store.transaction((tx) => tx.audit({ action: 'ca.imported', actor: auditActor(p), realm, target: parent.subject }));
  return (await ctx.cas.issuingCa(realm)).chain;
}

/**
 * Issuance over its collaborators.
 * @example const issuance = createIssuance({ store, realms, policies, apiClients, authz, clock, kek, signerFor, verifyCsr },
 *   { publicUrl: 'https://keyward.example' });
 */
export function createIssuance(deps: IssuanceDeps, options: IssuanceOptions): Issuance {
  const ctx = issuanceContext(deps, options);
  const managedIssuingCa = async (realm: string) => {
    await ctx.realms.getManaged(realm);
    return ctx.cas.issuingCa(realm);
  };
  return Object.freeze({
    chain: async (realm) => (await managedIssuingCa(realm)).chain,
    issuingCa: managedIssuingCa,
    clientAuthCa: async (realm) => {
      await ctx.realms.getManaged(realm);
      const stored = await ctx.cas.clientAuthCa(realm);
      return { stored, ca: ctx.cas.open(stored) };
    },
    importParent: (realm, p, input) => importParent(ctx, realm, p, input),
    issue: (realm, p, input) => issue(ctx, realm, p, input),
    listRequests: (realm, p, status, first, max) => listRequests(ctx, realm, p, status, first, max),
    getRequest: (realm, p, id) => getRequest(ctx, realm, p, id),
    approve: (realm, p, id) => approve(ctx, realm, p, id),
    reject: (realm, p, id, reason) => reject(ctx, realm, p, id, reason),
    createEndEntity: (realm, p, input) => createEndEntity(ctx, realm, p, input),
    getEndEntity: (realm, p, name) => getEndEntity(ctx, realm, p, name),
    listEndEntities: (realm, p) => listEndEntities(ctx, realm, p),
    deleteEndEntity: (realm, p, name) => deleteEndEntity(ctx, realm, p, name),
    search: (realm, p, filter) => searchCertificates(ctx, realm, p, filter),
    export: (realm, p, filter) => exportCertificates(ctx, realm, p, filter),
    get: (realm, p, serial) => getCertificate(ctx, realm, p, serial),
    revoke: (realm, p, serial, reason) => revoke(ctx, realm, p, serial, reason),
    release: (realm, p, serial) => release(ctx, realm, p, serial),
    renew: (realm, presented, input) => renew(ctx, realm, presented, input),
    crl: (realm, caId) => crl(ctx, realm, caId),
    deltaCrl: (realm) => deltaCrl(ctx, realm),
    refreshDueCrls: () => refreshDueCrls(ctx),
    ocsp: (realm, der) => ocsp(ctx, realm, der),
    revocationChanged: () => ctx.ocspCache.clear(),
    issuingCas: () => issuingCas(ctx),
    cas: (realm) => realmCas(ctx, realm),
    rotate: (realm, p, input) => rotate(ctx, realm, p, input),
    retireCas: async () => {
      const retired = await ctx.store.retireCas(ctx.clock.now());
      for (const ca of retired) ctx.cas.forget(ca.realm);
      return retired;
    },
    casChanged: (realm) => ctx.cas.forget(realm),
    preflight: (realm, p, input) => preflight(ctx, realm, p, input),
    revokeAsKeyHolder: (realm, der, reason, actor) => revokeAsKeyHolder(ctx, realm, der, reason, actor),
    findIssued: (realm, der) => findIssued(ctx, realm, der),
    findBySerial: (realm, serial) => ctx.store.getCertificate(realm, serial),
    statusChanges: Object.freeze({
      revoke: (change, reason) => revokeCertificate(ctx, change, reason),
      hold: (change) => holdCertificate(ctx, change),
      release: (change) => releaseCertificate(ctx, change),
      refreshCrl: async (realm) => void (await refreshCrl(ctx, realm)),
    } satisfies StatusChanges),
  } satisfies Issuance);
}

export type { IssueInput } from './actions/issue.ts';
export type { RealmCaView } from './actions/rotate_ca.ts';
export type { RenewInput } from './actions/renew.ts';
export type { Preflight, PreflightInput } from './actions/preflight.ts';
export type { EndEntityInput } from './end_entities.ts';
export type { IssueOutcome, IssuedView, RequestView } from './views.ts';
export type { StatusChange, StatusChangeResult } from './actions/revoke.ts';
export { normaliseSerial } from './certificates.ts';
