/**
 * Certificate issuance (issue 4): authorisation yields the rules, and one
 * fixed pipeline applies them (STYLE.md rule 9, after step-ca's signX509):
 *
 *   authorise (keyward-requester, home realm or cross-realm grant)
 *   → resolve the policy (named, or the client's default policy)
 *   → parse the CSR and verify its proof of possession
 *   → policy validators (key, subject, SANs, validity)
 *   → approval gate (202 with a request when the policy says so)
 *   → template (KU/EKU from the policy, never from the CSR) → sign
 *   → store → audit, in one transaction, before the certificate is returned.
 *
 * No failed request leaves a certificate or a serial behind: the serial is
 * drawn after validation and only a committed row makes it exist.
 */
import { auditActor, describePrincipal, type Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import type { Clock } from '../kernel/clock.ts';
import { KeywardError } from '../kernel/errors.ts';
import { newId, newSerialHex } from '../kernel/ids.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import { toPem } from '../ca/index.ts';
import type { ApiClientService } from '../provisioning/api_clients.ts';
import type { PolicyService } from '../provisioning/policies.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type {
  CaEngine,
  CertificateFilter,
  CertificateRecord,
  DnAttribute,
  EndEntityRecord,
  IssuanceStore,
  OcspStatus,
  ParsedCsr,
  RequestRecord,
  RequesterRef,
  SanSet,
  StoredCa,
} from './ports.ts';

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
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

interface PolicyDoc {
  readonly maxValidityDays: number;
  readonly keyUsage: readonly string[];
  readonly extendedKeyUsage: readonly string[];
  readonly approval: 'none' | 'required';
}

export interface IssueInput {
  readonly csr: string | Uint8Array;
  readonly policy?: string | undefined;
  readonly validityDays?: number | undefined;
  readonly endEntity?: string | undefined;
}

export interface IssuedView {
  readonly serialNumber: string;
  readonly certificate: string;
  readonly chain: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly policy: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly status: 'valid' | 'revoked' | 'expired';
  readonly endEntity?: string | undefined;
  readonly requester?: RequesterRef;
  readonly revokedAt?: string | undefined;
  readonly revocationReason?: string | undefined;
}

export type IssueOutcome =
  { readonly kind: 'issued'; readonly certificate: IssuedView } | { readonly kind: 'pending'; readonly request: RequestView };

export interface RequestView {
  readonly requestId: string;
  readonly status: RequestRecord['status'];
  readonly policy: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly validityDays: number;
  readonly endEntity: string | undefined;
  readonly requester: RequesterRef;
  readonly decidedBy: RequesterRef | undefined;
  readonly reason: string | undefined;
  readonly createdAt: string;
  readonly decidedAt: string | undefined;
  readonly certificate?: IssuedView | undefined;
}

export interface EndEntityInput {
  readonly name: string;
  readonly subject: readonly DnAttribute[];
  readonly sans?: Partial<SanSet> | undefined;
  readonly policy: string;
}

export interface IssuanceOptions {
  readonly publicUrl: string;
  /** How long a CRL is valid; it is re-signed on revocation and when it gets older than half this. */
  readonly crlValidityHours?: number;
}

const DAY = 86_400_000;
export const OCSP_CACHE_MS = 5_000;
const subjectText = (s: readonly DnAttribute[]) => s.map((a) => `${a.type}=${a.value.replace(/([,+"\\<>;])/g, '\\$1')}`).join(', ');
const sanList = (s: SanSet) => [
  ...s.dns.map((v) => `dns:${v}`),
  ...s.ip.map((v) => `ip:${v}`),
  ...s.uri.map((v) => `uri:${v}`),
  ...s.email.map((v) => `email:${v}`),
];
const emptySans: SanSet = { dns: [], ip: [], uri: [], email: [] };
const requesterOf = (p: Principal): RequesterRef => ({
  kind: `${p.kind}:${p.credential}`,
  realm: p.realm,
  id: p.subject,
  name: p.kind === 'client' ? p.clientId : p.username,
});

export class IssuanceService {
  readonly #store: IssuanceStore;
  readonly #engine: CaEngine;
  readonly #realms: RealmService;
  readonly #policies: PolicyService;
  readonly #clients: ApiClientService;
  readonly #authz: Authorizer;
  readonly #clock: Clock;
  readonly #publicUrl: string;
  readonly #crlValidityMs: number;
  readonly #caCache = new Map<string, Promise<{ issuing: StoredCa; chain: string[] }>>();
  /**
   * Signed OCSP responses by request (a request with a nonce is unique and
   * never hits): responders may serve pre-produced responses (RFC 6960 §2.2).
   * Bounded staleness OCSP_CACHE_MS; a revocation in this process clears it.
   */
  readonly #ocspCache = new TtlCache<string, Uint8Array>(OCSP_CACHE_MS, { max: 50_000 });

  constructor(
    deps: {
      store: IssuanceStore;
      engine: CaEngine;
      realms: RealmService;
      policies: PolicyService;
      apiClients: ApiClientService;
      authz: Authorizer;
      clock: Clock;
    },
    options: IssuanceOptions,
  ) {
    this.#store = deps.store;
    this.#engine = deps.engine;
    this.#realms = deps.realms;
    this.#policies = deps.policies;
    this.#clients = deps.apiClients;
    this.#authz = deps.authz;
    this.#clock = deps.clock;
    this.#publicUrl = options.publicUrl.replace(/\/+$/, '');
    this.#crlValidityMs = (options.crlValidityHours ?? 24) * 3_600_000;
  }

  // ---------------------------------------------------------------- CAs

  /** The installation's root CA, created on first use (one per installation, unique across replicas). */
  async #root(): Promise<StoredCa> {
    const found = await this.#store.findActiveCa(undefined, 'root');
    if (found) return found;
    const made = await this.#engine.createRoot('Keyward Root CA', this.#clock.now());
    const ca: StoredCa = { id: newId(), realm: undefined, kind: 'root', chainPem: '', imported: false, ...made };
    if (await this.#store.insertCa(ca)) return ca;
    return (await this.#store.findActiveCa(undefined, 'root'))!; // another replica won the race
  }

  /** The realm's issuing CA and its chain (issuing first), created on first use. */
  async issuingCa(realm: string): Promise<{ issuing: StoredCa; chain: string[] }> {
    let p = this.#caCache.get(realm);
    if (!p) {
      p = this.#loadIssuing(realm);
      this.#caCache.set(realm, p);
      p.catch(() => this.#caCache.delete(realm));
    }
    return p;
  }

  async #loadIssuing(realm: string): Promise<{ issuing: StoredCa; chain: string[] }> {
    await this.#realms.getManaged(realm);
    let issuing = await this.#store.findActiveCa(realm, 'issuing');
    if (!issuing) {
      const root = (await this.#store.findActiveCa(realm, 'root')) ?? (await this.#root());
      const made = await this.#engine.createIssuing(realm, root, this.#clock.now());
      const ca: StoredCa = {
        id: newId(),
        realm,
        kind: 'issuing',
        chainPem: root.chainPem ? root.certificatePem + root.chainPem : root.certificatePem,
        imported: false,
        ...made,
      };
      issuing = (await this.#store.insertCa(ca)) ? ca : (await this.#store.findActiveCa(realm, 'issuing'))!;
    }
    const chain = [issuing.certificatePem, ...splitPem(issuing.chainPem)];
    return { issuing, chain };
  }

  /**
   * Imports an operator's CA as the parent of the realm's issuing CA (instead
   * of the Keyward root). Only before the realm's first issuance: an existing
   * issuing CA is never replaced silently.
   */
  async importParent(
    realm: string,
    p: Principal,
    input: { certificate: string; privateKey: string; chain?: string | undefined },
  ): Promise<string[]> {
    this.#authz.requireOperator(p);
    await this.#realms.getManaged(realm);
    if (await this.#store.findActiveCa(realm, 'issuing')) {
      throw new KeywardError(
        'ca.exists',
        `Realm ${realm} already has an issuing CA; a parent can be imported only before the first issuance`,
      );
    }
    const made = await this.#engine.importParent(input.certificate, input.privateKey);
    const ca: StoredCa = { id: newId(), realm, kind: 'root', chainPem: input.chain ?? '', imported: true, ...made };
    if (!(await this.#store.insertCa(ca))) throw new KeywardError('ca.exists', `Realm ${realm} already has an imported parent CA`);
    await this.#store.transaction((tx) => tx.audit({ action: 'ca.imported', actor: auditActor(p), realm, target: made.subject }));
    this.#caCache.delete(realm);
    return this.chain(realm);
  }

  /**
   * The realm's client-authentication CA (user client certificates, seed 000),
   * kept apart from the issuing CA; created on first use under the same parent.
   */
  async clientAuthCa(realm: string): Promise<StoredCa> {
    await this.#realms.getManaged(realm);
    const found = await this.#store.findActiveCa(realm, 'client_auth');
    if (found) return found;
    const root = (await this.#store.findActiveCa(realm, 'root')) ?? (await this.#root());
    const made = await this.#engine.createIssuing(realm, root, this.#clock.now(), 'Client Authentication CA');
    const ca: StoredCa = {
      id: newId(),
      realm,
      kind: 'client_auth',
      chainPem: root.chainPem ? root.certificatePem + root.chainPem : root.certificatePem,
      imported: false,
      ...made,
    };
    return (await this.#store.insertCa(ca)) ? ca : (await this.#store.findActiveCa(realm, 'client_auth'))!;
  }

  /** `GET /v1/realms/{realm}/ca`: the chain, issuing CA first, root last. */
  async chain(realm: string): Promise<string[]> {
    return (await this.issuingCa(realm)).chain;
  }

  // ---------------------------------------------------------------- issuance

  async #policyFor(realm: string, p: Principal, named: string | undefined): Promise<{ name: string; doc: PolicyDoc }> {
    let name = named;
    if (!name) {
      const ref = await this.#clients.defaultPolicyOf(p);
      if (!ref) throw new KeywardError('policy.required', 'Name a policy: the caller has no default certificate policy');
      if (ref.realm !== realm)
        throw new KeywardError('policy.required', `Name a policy: the caller's default policy belongs to realm ${ref.realm}, not ${realm}`);
      name = ref.name;
    }
    const stored = await this.#policies.find(realm, name);
    if (!stored) throw new KeywardError('policy.not_found', `Realm ${realm} has no policy ${name}`, { extras: { realm, name } });
    return { name, doc: stored.document as PolicyDoc };
  }

  #validity(doc: PolicyDoc, requested: number | undefined): number {
    const days = requested ?? doc.maxValidityDays;
    if (!Number.isInteger(days) || days < 1)
      throw new KeywardError('request.malformed', 'validityDays must be a whole number of days, at least 1', {
        extras: { field: '/validityDays' },
      });
    return days;
  }

  /**
   * Issues a certificate for a CSR, or records a pending request when the
   * policy needs approval.
   */
  async issue(realm: string, p: Principal, input: IssueInput): Promise<IssueOutcome> {
    await this.#realms.getManaged(realm);
    await this.#authz.require(p, realm, ROLES.requester);
    let entity: EndEntityRecord | undefined;
    if (input.endEntity) entity = await this.#endEntity(realm, input.endEntity);
    const policy = await this.#policyFor(realm, p, input.policy ?? entity?.policy);
    const csr = await this.#engine.parseCsrAsync(input.csr);
    const subject = entity ? entity.subject : csr.subject;
    const sans = entity ? entity.sans : csr.sans;
    const validityDays = this.#validity(policy.doc, input.validityDays);
    this.#engine.enforce(policy.doc, { keyType: csr.keyType, subject, sans, validityDays });
    if (policy.doc.approval === 'required') {
      const request = await this.#store.transaction(async (tx) => {
        const rec = {
          id: newId(),
          realm,
          status: 'pending' as const,
          csrPem: csr.pem,
          policy: policy.name,
          validityDays,
          endEntity: entity?.name,
          subject: subjectText(subject),
          sans: sanList(sans),
          requester: requesterOf(p),
          createdAt: this.#clock.now(),
        };
        await tx.insertRequest(rec);
        await tx.audit({
          action: 'certificate_request.created',
          actor: auditActor(p),
          realm,
          target: rec.id,
          details: { policy: policy.name, subject: rec.subject, sans: rec.sans },
        });
        return rec;
      });
      return {
        kind: 'pending',
        request: requestView({ ...request, decidedBy: undefined, reason: undefined, serial: undefined, decidedAt: undefined }),
      };
    }
    const record = await this.#sign(realm, csr, subject, sans, policy, validityDays, requesterOf(p), {
      endEntity: entity?.name,
      actor: auditActor(p),
    });
    return { kind: 'issued', certificate: await this.#view(record) };
  }

  async #sign(
    realm: string,
    csr: ParsedCsr,
    subject: readonly DnAttribute[],
    sans: SanSet,
    policy: { name: string; doc: PolicyDoc },
    validityDays: number,
    requester: RequesterRef,
    extra: {
      endEntity?: string | undefined;
      requestId?: string;
      actor: ReturnType<typeof auditActor>;
      decide?: (tx: Parameters<Parameters<IssuanceStore['transaction']>[0]>[0], serial: string) => Promise<void>;
    },
  ): Promise<CertificateRecord> {
    const { issuing } = await this.issuingCa(realm);
    const now = this.#clock.now();
    const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000); // 1 minute back-dating for clock skew
    let notAfter = new Date(notBefore.getTime() + validityDays * DAY);
    if (notAfter > issuing.notAfter) notAfter = issuing.notAfter; // never outlive the CA (RFC 5280 path validation)
    const serial = newSerialHex();
    const base = `${this.#publicUrl}/v1/realms/${encodeURIComponent(realm)}`;
    const { der } = await this.#engine.issue(issuing, {
      csr,
      policy: policy.doc,
      subject,
      sans,
      keyUsage: policy.doc.keyUsage,
      extendedKeyUsage: policy.doc.extendedKeyUsage,
      serial,
      notBefore,
      notAfter,
      validityDays,
      crlUrl: `${base}/crl`,
      ocspUrl: `${base}/ocsp`,
    });
    const record: CertificateRecord = {
      serial,
      realm,
      caId: issuing.id,
      subject: subjectText(subject),
      sans: sanList(sans),
      policy: policy.name,
      endEntity: extra.endEntity,
      requestId: extra.requestId,
      requester,
      keyType: csr.keyType,
      notBefore,
      notAfter,
      status: 'valid',
      revokedAt: undefined,
      revocationReason: undefined,
      der,
      createdAt: now,
    };
    const event = {
      action: 'certificate.issued',
      actor: extra.actor,
      realm,
      target: serial,
      details: {
        policy: policy.name,
        subject: record.subject,
        sans: record.sans,
        notAfter: notAfter.toISOString(),
        endEntity: extra.endEntity,
        requestId: extra.requestId,
      },
    };
    if (extra.decide) {
      const decide = extra.decide;
      await this.#store.transaction(async (tx) => {
        await tx.insertCertificate(record);
        await decide(tx, serial);
        await tx.audit(event);
      });
    } else {
      await this.#store.insertIssued(record, event);
    }
    return record;
  }

  async #view(r: CertificateRecord): Promise<IssuedView> {
    const { chain } = await this.issuingCa(r.realm);
    const status = r.status === 'revoked' ? 'revoked' : r.notAfter <= this.#clock.now() ? 'expired' : 'valid';
    return {
      serialNumber: r.serial,
      certificate: toPem(r.der, 'CERTIFICATE'),
      chain,
      notBefore: r.notBefore.toISOString(),
      notAfter: r.notAfter.toISOString(),
      policy: r.policy,
      subject: r.subject,
      sans: r.sans,
      status,
      endEntity: r.endEntity,
      requester: r.requester,
      revokedAt: r.revokedAt?.toISOString(),
      revocationReason: r.revocationReason,
    };
  }

  // ---------------------------------------------------------------- requests

  async listRequests(realm: string, p: Principal, status: string | undefined, first: number, max: number): Promise<RequestView[]> {
    await this.#realms.getManaged(realm);
    if (!(await this.#authz.hasRole(p, realm, ROLES.approver))) await this.#authz.require(p, realm, ROLES.requester);
    const isApprover = await this.#authz.hasRole(p, realm, ROLES.approver);
    const rows = await this.#store.listRequests(realm, status, first, max);
    return rows.filter((r) => isApprover || (r.requester.realm === p.realm && r.requester.id === p.subject)).map(requestView);
  }

  async getRequest(realm: string, p: Principal, id: string): Promise<RequestView> {
    await this.#realms.getManaged(realm);
    const r = await this.#store.getRequest(realm, id);
    const own = r && r.requester.realm === p.realm && r.requester.id === p.subject;
    if (!r || (!own && !(await this.#authz.hasRole(p, realm, ROLES.approver)))) {
      throw new KeywardError('certificate_request.not_found', `Realm ${realm} has no certificate request ${id} visible to the caller`);
    }
    const view = requestView(r);
    if (r.serial) {
      const cert = await this.#store.getCertificate(realm, r.serial);
      if (cert) return { ...view, certificate: await this.#view(cert) };
    }
    return view;
  }

  async approve(realm: string, p: Principal, id: string): Promise<RequestView> {
    const r = await this.#pendingForDecision(realm, p, id);
    const csr = this.#engine.parseCsr(r.csrPem);
    const entity = r.endEntity ? await this.#store.getEndEntity(realm, r.endEntity) : undefined;
    const policy = await this.#policyFor(realm, p, r.policy);
    const subject = entity ? entity.subject : csr.subject;
    const sans = entity ? entity.sans : csr.sans;
    this.#engine.enforce(policy.doc, { keyType: csr.keyType, subject, sans, validityDays: r.validityDays }); // the policy may have changed since
    let decided: RequestRecord | undefined;
    await this.#sign(realm, csr, subject, sans, policy, r.validityDays, r.requester, {
      endEntity: r.endEntity,
      requestId: r.id,
      actor: auditActor(p),
      decide: async (tx, serial) => {
        decided = await tx.decideRequest(realm, id, 'issued', requesterOf(p), this.#clock.now(), { serial });
        // Consumable: a request is issued exactly once; a concurrent approval rolls this one back.
        if (!decided) throw new KeywardError('certificate_request.not_pending', `Certificate request ${id} is no longer pending`);
        await tx.audit({ action: 'certificate_request.approved', actor: auditActor(p), realm, target: id, details: { serial } });
      },
    });
    return this.getRequest(realm, p, id);
  }

  async reject(realm: string, p: Principal, id: string, reason: string): Promise<RequestView> {
    await this.#pendingForDecision(realm, p, id);
    const decided = await this.#store.transaction(async (tx) => {
      const d = await tx.decideRequest(realm, id, 'rejected', requesterOf(p), this.#clock.now(), { reason });
      if (!d) throw new KeywardError('certificate_request.not_pending', `Certificate request ${id} is no longer pending`);
      await tx.audit({ action: 'certificate_request.rejected', actor: auditActor(p), realm, target: id, details: { reason } });
      return d;
    });
    return requestView(decided);
  }

  async #pendingForDecision(realm: string, p: Principal, id: string): Promise<RequestRecord> {
    await this.#realms.getManaged(realm);
    await this.#authz.require(p, realm, ROLES.approver);
    const r = await this.#store.getRequest(realm, id);
    if (!r) throw new KeywardError('certificate_request.not_found', `Realm ${realm} has no certificate request ${id}`);
    if (r.requester.realm === p.realm && r.requester.id === p.subject) {
      throw new KeywardError(
        'certificate_request.self_approval',
        `${describePrincipal(p)} requested ${id} and cannot decide it; another keyward-approver must`,
      );
    }
    if (r.status !== 'pending') throw new KeywardError('certificate_request.not_pending', `Certificate request ${id} is ${r.status}`);
    return r;
  }

  // ---------------------------------------------------------------- end entities

  async #endEntity(realm: string, name: string): Promise<EndEntityRecord> {
    const e = await this.#store.getEndEntity(realm, name);
    if (!e) throw new KeywardError('end_entity.not_found', `Realm ${realm} has no end entity ${name}`);
    return e;
  }

  async createEndEntity(realm: string, p: Principal, input: EndEntityInput): Promise<EndEntityRecord> {
    await this.#realms.getManaged(realm);
    await this.#authz.require(p, realm, ROLES.entityAdmin);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(input.name))
      throw new KeywardError('request.malformed', `"${input.name.slice(0, 100)}" is not a valid end entity name`, {
        extras: { field: '/name' },
      });
    const policy = await this.#policyFor(realm, p, input.policy);
    const sans: SanSet = { ...emptySans, ...input.sans };
    // The entity must be issuable under its policy (the key type is checked per CSR).
    this.#engine.enforce(policy.doc, { keyType: 'EC-P256', subject: input.subject, sans, validityDays: 1 });
    const rec: EndEntityRecord = {
      realm,
      name: input.name,
      subject: input.subject,
      sans,
      policy: policy.name,
      createdBy: requesterOf(p),
      createdAt: this.#clock.now(),
    };
    await this.#store.transaction(async (tx) => {
      await tx.insertEndEntity(rec);
      await tx.audit({
        action: 'end_entity.created',
        actor: auditActor(p),
        realm,
        target: input.name,
        details: { subject: subjectText(input.subject), sans: sanList(sans), policy: policy.name },
      });
    });
    return rec;
  }

  async getEndEntity(realm: string, p: Principal, name: string): Promise<EndEntityRecord> {
    await this.#realms.getManaged(realm);
    if (!(await this.#authz.hasRole(p, realm, ROLES.entityAdmin))) await this.#authz.require(p, realm, ROLES.requester);
    return this.#endEntity(realm, name);
  }

  async listEndEntities(realm: string, p: Principal): Promise<EndEntityRecord[]> {
    await this.#realms.getManaged(realm);
    if (!(await this.#authz.hasRole(p, realm, ROLES.entityAdmin))) await this.#authz.require(p, realm, ROLES.requester);
    return this.#store.listEndEntities(realm);
  }

  async deleteEndEntity(realm: string, p: Principal, name: string): Promise<void> {
    await this.#realms.getManaged(realm);
    await this.#authz.require(p, realm, ROLES.entityAdmin);
    const deleted = await this.#store.transaction(async (tx) => {
      const d = await tx.deleteEndEntity(realm, name);
      if (d) await tx.audit({ action: 'end_entity.deleted', actor: auditActor(p), realm, target: name });
      return d;
    });
    if (!deleted) throw new KeywardError('end_entity.not_found', `Realm ${realm} has no end entity ${name}`);
  }

  // ---------------------------------------------------------------- search and revocation

  async search(realm: string, p: Principal, filter: CertificateFilter): Promise<IssuedView[]> {
    await this.#realms.getManaged(realm);
    const roles = await this.#authz.rolesIn(p, realm);
    const seesAll = roles.has(ROLES.revoker) || roles.has(ROLES.admin) || roles.has(ROLES.approver) || this.#authz.isOperator(p);
    if (!seesAll) await this.#authz.require(p, realm, ROLES.requester);
    const rows = await this.#store.searchCertificates(realm, seesAll ? filter : { ...filter, requester: p.subject }, this.#clock.now());
    return Promise.all(rows.map((r) => this.#view(r)));
  }

  async get(realm: string, p: Principal, serial: string): Promise<IssuedView> {
    await this.#realms.getManaged(realm);
    const r = await this.#store.getCertificate(realm, normaliseSerial(serial));
    const own = r && r.requester.realm === p.realm && r.requester.id === p.subject;
    if (
      !r ||
      (!own &&
        !(await this.#authz.hasRole(p, realm, ROLES.revoker)) &&
        !(await this.#authz.hasRole(p, realm, ROLES.admin)) &&
        !(await this.#authz.hasRole(p, realm, ROLES.approver)))
    ) {
      throw new KeywardError('certificate.not_found', `Realm ${realm} has no certificate ${serial} visible to the caller`);
    }
    return this.#view(r);
  }

  /** Revokes (idempotent: revoking a revoked certificate answers its current state). */
  async revoke(realm: string, p: Principal, serial: string, reason: string): Promise<IssuedView> {
    await this.#realms.getManaged(realm);
    if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
      throw new KeywardError(
        'certificate.invalid_reason',
        `Unknown revocation reason ${reason}; use one of ${REVOCATION_REASONS.join(', ')}`,
      );
    }
    const s = normaliseSerial(serial);
    const existing = await this.#store.getCertificate(realm, s);
    if (!existing) throw new KeywardError('certificate.not_found', `Realm ${realm} has no certificate ${serial}`);
    const own = existing.requester.realm === p.realm && existing.requester.id === p.subject;
    if (!own) await this.#authz.require(p, realm, ROLES.revoker);
    else await this.#authz.require(p, realm, ROLES.requester);
    const result = await this.#store.transaction(async (tx) => {
      const r = await tx.revoke(realm, s, reason, this.#clock.now());
      if (r?.changed) await tx.audit({ action: 'certificate.revoked', actor: auditActor(p), realm, target: s, details: { reason } });
      return r!;
    });
    if (result.changed) {
      this.#ocspCache.clear();
      await this.#refreshCrl(realm).catch(() => undefined); // the schedule retries
    }
    return this.#view(result.record);
  }

  // ---------------------------------------------------------------- CRL and OCSP

  /** The current CRL (DER), re-signed when revocations changed or it is past half its validity. */
  async crl(realm: string): Promise<Uint8Array> {
    const { issuing } = await this.issuingCa(realm);
    const current = await this.#store.latestCrl(issuing.id);
    const now = this.#clock.now().getTime();
    if (
      current &&
      current.nextUpdate.getTime() - now > this.#crlValidityMs / 2 &&
      current.revocations === (await this.#store.countRevoked(issuing.id))
    ) {
      return current.der;
    }
    return this.#refreshCrl(realm);
  }

  async #refreshCrl(realm: string): Promise<Uint8Array> {
    const { issuing } = await this.issuingCa(realm);
    const entries = await this.#store.listRevoked(issuing.id);
    const thisUpdate = new Date(Math.floor(this.#clock.now().getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.#crlValidityMs);
    return this.#store.transaction(async (tx) => {
      const n = await tx.nextCrlNumber(issuing.id);
      const der = await this.#engine.crl(issuing, entries, n, thisUpdate, nextUpdate);
      await tx.saveCrl({ caId: issuing.id, crlNumber: n, thisUpdate, nextUpdate, der, revocations: entries.length });
      return der;
    });
  }

  /** Re-signs every realm's CRL that is due (the schedule). */
  async refreshDueCrls(): Promise<void> {
    for (const r of await this.#realms.list()) {
      if (await this.#store.findActiveCa(r.name, 'issuing')) await this.crl(r.name);
    }
  }

  /** OCSP (RFC 6960) for the issuing CA of `realm`. */
  async ocsp(realm: string, requestDer: Uint8Array): Promise<Uint8Array> {
    const { issuing } = await this.issuingCa(realm);
    const key = `${issuing.id}:${Buffer.from(requestDer).toString('base64')}`;
    return this.#ocspCache.get(key, () =>
      this.#engine.ocsp(
        issuing,
        requestDer,
        async (serialHex): Promise<OcspStatus> => {
          const r = await this.#store.findBySerial(issuing.id, normaliseSerial(serialHex));
          if (!r) return { status: 'unknown' };
          if (r.status === 'revoked') return { status: 'revoked', revokedAt: r.revokedAt!, reason: r.revocationReason ?? 'unspecified' };
          return { status: 'good' };
        },
        this.#clock.now(),
      ),
    );
  }

  /** Realms whose issuing CA exists, for OCSP requests that do not name a realm. */
  async issuingCas(): Promise<{ realm: string; ca: StoredCa }[]> {
    const out: { realm: string; ca: StoredCa }[] = [];
    for (const r of await this.#realms.list()) {
      const ca = await this.#store.findActiveCa(r.name, 'issuing');
      if (ca) out.push({ realm: r.name, ca });
    }
    return out;
  }
}

export function normaliseSerial(s: string): string {
  const hex = s
    .toLowerCase()
    .replace(/[:\s]/g, '')
    .replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]{1,40}$/.test(hex)) throw new KeywardError('certificate.not_found', `"${s.slice(0, 60)}" is not a serial number (hex)`);
  return hex;
}

function splitPem(text: string): string[] {
  return (
    text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)?.map((p) => (p.endsWith('\n') ? p : p + '\n')) ?? []
  );
}

function requestView(r: RequestRecord): RequestView {
  return {
    requestId: r.id,
    status: r.status,
    policy: r.policy,
    subject: r.subject,
    sans: r.sans,
    validityDays: r.validityDays,
    endEntity: r.endEntity,
    requester: r.requester,
    decidedBy: r.decidedBy,
    reason: r.reason,
    createdAt: r.createdAt.toISOString(),
    decidedAt: r.decidedAt?.toISOString(),
  };
}
