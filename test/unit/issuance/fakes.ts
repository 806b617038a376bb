/**
 * An in-memory issuance store and stand-ins for the realm, policy, API-client
 * and role lookups, so the issuance actions run with a frozen clock. The
 * PostgreSQL store and Keycloak are exercised by test/integration/04_issuance.test.ts.
 */
import type { Principal } from '../../../services/keyward/src/authn/principal.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import type { Authorizer } from '../../../services/keyward/src/authn/roles.ts';
import { localSigner, verifyCsrSignature, type StoredCa } from '../../../services/keyward/src/ca/index.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import { createIssuance, type Issuance } from '../../../services/keyward/src/issuance/issuance.ts';
import type {
  CertificateRecord,
  EndEntityRecord,
  IssuanceStore,
  IssuanceTx,
  NewCertificateRecord,
  RequestRecord,
  StoredCrl,
  StoredDeltaCrl,
} from '../../../services/keyward/src/issuance/ports.ts';
import type { AuditEventInput } from '../../../services/keyward/src/audit/event.ts';
import type { EventInput } from '../../../services/keyward/src/events/catalogue.ts';
import { KEK, NOW, POLICY_DOCUMENT } from '../ca/fixtures.ts';

export const REALM = 'demo';

export function client(name: string, extra: Partial<Principal> = {}): Principal {
  return {
    credential: 'bearer',
    kind: 'client',
    realm: REALM,
    subject: `sa-${name}`,
    clientId: name,
    username: undefined,
    credentialRoles: [],
    ...extra,
  };
}

/** Everything in arrays and maps; a transaction commits only when its function resolves. */
export class MemoryIssuanceStore implements IssuanceStore {
  cas: StoredCa[] = [];
  certificates: CertificateRecord[] = [];
  requests: RequestRecord[] = [];
  entities: EndEntityRecord[] = [];
  crls = new Map<string, StoredCrl>();
  deltas = new Map<string, StoredDeltaCrl>();
  released = new Map<string, Date>();
  audit: AuditEventInput[] = [];
  /** Lifecycle events recorded in the outbox, as committed. */
  events: EventInput[] = [];
  /** Runs while a transaction holds a CA's CRL lock (what another replica might commit meanwhile). */
  onCrlLock: (() => Promise<void>) | undefined;
  /** How many single-round-trip inserts (the hot path) and transactions ran. */
  counts = { insertIssued: 0, transactions: 0 };

  async transaction<T>(fn: (tx: IssuanceTx) => Promise<T>): Promise<T> {
    this.counts.transactions++;
    const next = {
      certificates: [...this.certificates],
      requests: [...this.requests],
      entities: [...this.entities],
      crls: new Map(this.crls),
      deltas: new Map(this.deltas),
      released: new Map(this.released),
      audit: [...this.audit],
      events: [...this.events],
    };
    const store = this;
    const tx: IssuanceTx = {
      insertCertificate: async (rec) => {
        next.certificates.push({ ...rec, status: 'valid', revokedAt: undefined, revocationReason: undefined, createdAt: NOW });
      },
      revoke: async (realm, serial, reason, at) => {
        const i = next.certificates.findIndex((c) => c.realm === realm && c.serial === serial);
        if (i < 0) return undefined;
        const cur = next.certificates[i]!;
        const held = cur.status === 'revoked' && cur.revocationReason === 'certificateHold';
        if (cur.status === 'revoked' && !(held && reason !== 'certificateHold')) return { record: cur, changed: false };
        const record = { ...cur, status: 'revoked' as const, revokedAt: at, revocationReason: reason };
        next.certificates[i] = record;
        return { record, changed: true };
      },
      release: async (realm, serial, at) => {
        const i = next.certificates.findIndex((c) => c.realm === realm && c.serial === serial);
        if (i < 0) return undefined;
        const cur = next.certificates[i]!;
        if (cur.status !== 'revoked' || cur.revocationReason !== 'certificateHold') return { record: cur, changed: false };
        const record = { ...cur, status: 'valid' as const, revokedAt: undefined, revocationReason: undefined };
        next.certificates[i] = record;
        next.released.set(serial, at);
        return { record, changed: true };
      },
      releasedAt: async (_caId, serials) =>
        new Map(serials.filter((s) => next.released.has(s)).map((s) => [s, next.released.get(s)!] as const)),
      saveDeltaCrl: async (d) => {
        next.deltas.set(d.caId, d);
      },
      insertRequest: async (rec) => {
        next.requests.push({ ...rec, decidedBy: undefined, reason: undefined, serial: undefined, decidedAt: undefined });
      },
      decideRequest: async (realm, id, status, by, at, extra) => {
        const i = next.requests.findIndex((r) => r.realm === realm && r.id === id && r.status === 'pending');
        if (i < 0) return undefined;
        const r = { ...next.requests[i]!, status, decidedBy: by, decidedAt: at, reason: extra.reason, serial: extra.serial };
        next.requests[i] = r;
        return r;
      },
      insertEndEntity: async (e) => {
        if (next.entities.some((x) => x.realm === e.realm && x.name === e.name))
          throw new KeywardError('end_entity.exists', `Realm ${e.realm} already has an end entity ${e.name}`);
        next.entities.push(e);
      },
      deleteEndEntity: async (realm, name) => {
        const before = next.entities.length;
        next.entities = next.entities.filter((e) => !(e.realm === realm && e.name === name));
        return next.entities.length < before;
      },
      nextCrlNumber: async (caId) => {
        await this.onCrlLock?.();
        const a = next.crls.get(caId)?.crlNumber ?? 0n;
        const b = next.deltas.get(caId)?.crlNumber ?? 0n;
        return (a > b ? a : b) + 1n;
      },
      listRevoked: (caId) => this.listRevoked(caId),
      revokedBatches: async function* (this: void, caId: string, batch = 2) {
        const all = await store.listRevoked(caId);
        for (let i = 0; i < all.length; i += batch) yield all.slice(i, i + batch);
      },
      saveCrl: async (crl) => {
        next.crls.set(crl.caId, crl);
      },
      audit: async (event) => {
        next.audit.push(event);
      },
      event: async (event) => {
        next.events.push(event);
      },
    };
    const out = await fn(tx);
    Object.assign(this, next);
    return out;
  }

  async insertIssued(rec: NewCertificateRecord, audit: AuditEventInput, event: EventInput): Promise<void> {
    this.counts.insertIssued++;
    this.certificates.push({ ...rec, status: 'valid', revokedAt: undefined, revocationReason: undefined, createdAt: NOW });
    this.audit.push(audit);
    this.events.push(event);
  }
  async findActiveCa(realm: string | undefined, kind: StoredCa['kind']) {
    return this.cas.find((c) => c.realm === realm && c.kind === kind && c.state === 'active');
  }
  async listCas(realm: string, kind: StoredCa['kind'], states: readonly StoredCa['state'][]) {
    return this.cas.filter((c) => c.realm === realm && c.kind === kind && states.includes(c.state)).reverse();
  }
  async rotateCa(previousId: string, next: StoredCa, _parentId: string, _at: Date, audit: AuditEventInput) {
    const i = this.cas.findIndex((c) => c.id === previousId && c.state === 'active');
    if (i < 0) return false;
    this.cas[i] = { ...this.cas[i]!, state: 'retiring' };
    this.cas.push(next);
    this.audit.push(audit);
    return true;
  }
  async retireCas(now: Date) {
    const retired: StoredCa[] = [];
    for (const [i, c] of this.cas.entries()) {
      if (c.state !== 'retiring' || this.certificates.some((r) => r.caId === c.id && r.notAfter > now)) continue;
      this.cas[i] = { ...c, state: 'retired' };
      retired.push(this.cas[i]!);
    }
    return retired;
  }
  async findCaById(id: string) {
    return this.cas.find((c) => c.id === id);
  }
  async insertCa(ca: StoredCa) {
    if (this.cas.some((c) => c.realm === ca.realm && c.kind === ca.kind && c.state === 'active')) return false;
    this.cas.push(ca);
    return true;
  }
  async getCertificate(realm: string, serial: string) {
    return this.certificates.find((c) => c.realm === realm && c.serial === serial);
  }
  async findBySerial(caId: string, serial: string) {
    return this.certificates.find((c) => c.caId === caId && c.serial === serial);
  }
  async searchCertificates(realm: string, filter: { requester?: string | undefined }) {
    return this.certificates.filter((c) => c.realm === realm && (!filter.requester || c.requester.id === filter.requester));
  }
  async *streamCertificates(realm: string, filter: { requester?: string | undefined }) {
    yield await this.searchCertificates(realm, filter);
  }
  async listRevoked(caId: string) {
    return this.certificates
      .filter((c) => c.caId === caId && c.status === 'revoked')
      .map((c) => ({ serialHex: c.serial, revokedAt: c.revokedAt!, reason: c.revocationReason! }));
  }
  async countRevoked(caId: string) {
    return (await this.listRevoked(caId)).length;
  }
  async latestDeltaCrl(caId: string) {
    return this.deltas.get(caId);
  }

  async latestCrl(caId: string) {
    return this.crls.get(caId);
  }
  async getRequest(realm: string, id: string) {
    return this.requests.find((r) => r.realm === realm && r.id === id);
  }
  async listRequests(realm: string, status: string | undefined) {
    return this.requests.filter((r) => r.realm === realm && (!status || r.status === status));
  }
  async getEndEntity(realm: string, name: string) {
    return this.entities.find((e) => e.realm === realm && e.name === name);
  }
  async listEndEntities(realm: string) {
    return this.entities.filter((e) => e.realm === realm);
  }
}

export interface Harness {
  readonly issuance: Issuance;
  readonly store: MemoryIssuanceStore;
  readonly clock: ReturnType<typeof frozenClock>;
  /** Realm roles by principal subject. */
  readonly roles: Map<string, string[]>;
  /** Policy documents of the realm by name. */
  readonly policies: Map<string, unknown>;
  /** How many times the CSR's proof of possession was verified. */
  readonly verifications: { count: number };
  /** Subjects of API clients deleted in the identity provider (requireActiveClient refuses them). */
  readonly deletedClients: Set<string>;
}

/** Issuance over the memory store, one managed realm (`demo`) with policy `svc` ({@link POLICY_DOCUMENT}). */
export function harness(): Harness {
  const store = new MemoryIssuanceStore();
  const clock = frozenClock(NOW);
  const roles = new Map<string, string[]>();
  const policies = new Map<string, unknown>([['svc', structuredClone(POLICY_DOCUMENT)]]);
  const verifications = { count: 0 };
  const deletedClients = new Set<string>();
  const realm = { name: REALM, displayName: undefined, defaultRoles: [], source: 'api' as const, createdAt: NOW, updatedAt: NOW };
  const authz: Pick<Authorizer, 'rolesIn' | 'isOperator' | 'require' | 'requireOperator' | 'requireActiveClient'> = {
    rolesIn: async (p) => new Set(roles.get(p.subject) ?? []),
    isOperator: (p) => p.credentialRoles.includes('keyward-operator'),
    require: async (p, r, role) => {
      if (!(roles.get(p.subject) ?? []).includes(role))
        throw new KeywardError('auth.forbidden', `${p.subject} does not hold ${role} in realm ${r}`, { extras: { realm: r, role } });
    },
    requireOperator: (p) => {
      if (!p.credentialRoles.includes('keyward-operator')) throw new KeywardError('auth.forbidden', `${p.subject} is not an operator`);
    },
    requireActiveClient: async (p) => {
      if (p.kind === 'client' && deletedClients.has(p.subject))
        throw new KeywardError('token.client_not_found', `API client ${p.clientId} no longer exists in realm ${p.realm}`);
    },
  };
  const issuance = createIssuance(
    {
      store,
      realms: {
        getManaged: async (name) => {
          if (name !== REALM) throw new KeywardError('realm.not_found', `Realm ${name} is not managed by Keyward`);
          return realm;
        },
        list: async () => [realm],
      },
      policies: {
        find: async (r, name) => {
          const document = policies.get(name);
          return r === REALM && document ? { realm: r, name, document, source: 'api', createdAt: NOW, updatedAt: NOW } : undefined;
        },
      },
      apiClients: { defaultPolicyOf: async () => undefined },
      authz,
      clock,
      kek: KEK,
      signerFor: localSigner,
      verifyCsr: (check) => {
        verifications.count++;
        return verifyCsrSignature(check);
      },
    },
    { publicUrl: 'http://keyward.test/' },
  );
  return { issuance, store, clock, roles, policies, verifications, deletedClients };
}
