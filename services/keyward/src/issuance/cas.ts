/**
 * The CAs of the installation and its realms: the root (one per
 * installation), each realm's issuing CA and client-authentication CA, both
 * created on first use, and an operator's parent CA imported before a realm's
 * first issuance. Opened CAs (key decrypted once, ready to sign) are kept per
 * process.
 */
import { randomBytes } from 'node:crypto';
import {
  PROFILES,
  backdate,
  createIssuingCa,
  createRootCa,
  importParentCa,
  openCa,
  sealedKeyStore,
  type CaContext,
  type CaKeyStore,
  type CaKeyType,
  type CaRecord,
  type StoredCa,
} from '../ca/index.ts';
import { KeywardError } from '../kernel/errors.ts';
import { newId } from '../kernel/ids.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { IssuanceDeps } from './context.ts';

/** A realm's issuing CA and its chain, issuing CA first, root last. */
export interface IssuingCa {
  readonly issuing: StoredCa;
  readonly chain: readonly string[];
}

type Deps = Pick<IssuanceDeps, 'store' | 'clock' | 'kek' | 'signerFor' | 'caKeys'>;

const stored = (id: string, record: CaRecord, place: Pick<StoredCa, 'realm' | 'kind' | 'imported'>): StoredCa => ({
  id,
  ...place,
  subject: record.subject,
  certificatePem: record.certificatePem,
  chainPem: record.chainPem,
  key: record.key,
  keyType: record.keyType,
  notAfter: record.notAfter,
  state: 'active',
});

/** How long a process trusts what it knows of a realm's CAs without a change notice (a rotation elsewhere shows within this). */
export const CA_CACHE_MS = 30_000;

/** A CA's chain, the CA first, its root last. */
export const chainOf = (ca: StoredCa): readonly string[] => Object.freeze([ca.certificatePem, ...ca.chainPem]);

export class RealmCas {
  readonly #deps: Deps;
  readonly #issuingKeyType: CaKeyType;
  readonly #issuing = new Map<string, Promise<IssuingCa>>();
  readonly #retiring = new Map<string, Promise<StoredCa[]>>();
  readonly #loadedAt = new Map<string, number>();
  readonly #opened = new Map<string, CaContext>();
  readonly #keys: CaKeyStore;

  constructor(deps: Deps, issuingKeyType: CaKeyType) {
    this.#deps = deps;
    this.#issuingKeyType = issuingKeyType;
    this.#keys = deps.caKeys ?? sealedKeyStore(deps.kek, deps.signerFor);
  }

  /**
   * A stored CA opened to sign, once per process: a sealed key decrypted
   * (signing on worker threads under load), an HSM key found in its token.
   */
  open(ca: StoredCa): CaContext {
    let c = this.#opened.get(ca.id);
    if (!c) {
      c = openCa(ca, this.#keys);
      this.#opened.set(ca.id, c);
    }
    return c;
  }

  /** The installation's root CA (ECDSA P-384, 20 years), created on first use; unique across replicas. */
  async #root(): Promise<StoredCa> {
    const { store, clock } = this.#deps;
    const found = await store.findActiveCa(undefined, 'root');
    if (found) return found;
    const tag = randomBytes(4).toString('hex'); // several installations' roots stay distinguishable
    const id = newId();
    const made = await createRootCa({
      id,
      keys: this.#keys,
      subject: [
        { type: 'CN', value: `Keyward Root CA ${tag}` },
        { type: 'O', value: 'Keyward' },
      ],
      now: backdate(clock.now(), PROFILES.rootCa),
      keyType: 'EC-P384',
    });
    const ca = stored(id, made.record, { realm: undefined, kind: 'root', imported: false });
    if (await store.insertCa(ca)) return ca;
    await this.#keys.discard?.(ca.key);
    return (await store.findActiveCa(undefined, 'root'))!; // another replica won the race
  }

  /** The parent of a realm's CAs: its imported parent, or the installation's root. */
  async #parentOf(realm: string): Promise<StoredCa> {
    return (await this.#deps.store.findActiveCa(realm, 'root')) ?? (await this.#root());
  }

  /** A CA for `realm` under its parent; `label` names its purpose. */
  async #create(realm: string, kind: 'issuing' | 'client_auth', label: string): Promise<StoredCa> {
    const { store, clock } = this.#deps;
    const parent = await this.#parentOf(realm);
    const id = newId();
    const made = await createIssuingCa({
      id,
      keys: this.#keys,
      parent: this.open(parent),
      subject: [
        { type: 'CN', value: `Keyward ${realm} ${label}` },
        { type: 'O', value: 'Keyward' },
      ],
      now: backdate(clock.now(), PROFILES.issuingCa),
      keyType: this.#issuingKeyType,
    });
    const ca = stored(id, made.record, { realm, kind, imported: false });
    if (await store.insertCa(ca)) return ca;
    await this.#keys.discard?.(ca.key); // another replica won the race
    return (await store.findActiveCa(realm, kind))!;
  }

  /**
   * The realm's issuing CA and its chain, created on first use. The caller
   * has checked that the realm is managed.
   */
  issuingCa(realm: string): Promise<IssuingCa> {
    this.#expire(realm);
    let p = this.#issuing.get(realm);
    if (!p) {
      p = (async () => {
        const issuing = (await this.#deps.store.findActiveCa(realm, 'issuing')) ?? (await this.#create(realm, 'issuing', 'Issuing CA'));
        return { issuing, chain: chainOf(issuing) };
      })();
      this.#issuing.set(realm, p);
      p.catch(() => this.#issuing.delete(realm));
    }
    return p;
  }

  /** Forgets what this process knows of the realm's CAs once it is CA_CACHE_MS old (the bound when a change notice is lost). */
  #expire(realm: string): void {
    const now = Date.now();
    const at = this.#loadedAt.get(realm);
    if (at !== undefined && now - at < CA_CACHE_MS) return;
    this.#loadedAt.set(realm, now);
    if (at === undefined) return;
    this.#issuing.delete(realm);
    this.#retiring.delete(realm);
  }

  /**
   * The realm's retiring issuing CAs, newest first: rotated out, they still
   * sign CRLs and answer OCSP for the certificates they issued.
   */
  retiring(realm: string): Promise<StoredCa[]> {
    this.#expire(realm);
    let p = this.#retiring.get(realm);
    if (!p) {
      p = this.#deps.store.listCas(realm, 'issuing', ['retiring']);
      this.#retiring.set(realm, p);
      p.catch(() => this.#retiring.delete(realm));
    }
    return p;
  }

  /** A CA of the realm that issues or answers for its certificates (active or retiring), by id; ca.not_found otherwise. */
  async issuingCaById(realm: string, id: string): Promise<StoredCa> {
    const { issuing } = await this.issuingCa(realm);
    if (issuing.id === id) return issuing;
    const found = (await this.retiring(realm)).find((c) => c.id === id);
    if (!found) throw new KeywardError('ca.not_found', `Realm ${realm} has no active or retiring issuing CA ${id}`);
    return found;
  }

  /** Drops what this process knows of the realm's CAs (a rotation here or on another replica). */
  forget(realm?: string): void {
    if (realm === undefined) {
      this.#issuing.clear();
      this.#retiring.clear();
      this.#loadedAt.clear();
    } else {
      this.#issuing.delete(realm);
      this.#retiring.delete(realm);
      this.#loadedAt.delete(realm);
    }
  }

  /**
   * Rotates the realm's issuing CA: a new one (of `keyType`, default the
   * configured type) under the same parent takes over issuance; the previous
   * one becomes retiring — it keeps signing its CRL and answering OCSP until
   * the last certificate it issued expires (then the sweep retires it).
   * @throws KeywardError ca.not_found (nothing to rotate yet), ca.exists (rotated meanwhile by another request)
   */
  async rotate(
    realm: string,
    o: { readonly keyType?: CaKeyType | undefined; readonly audit: (previous: StoredCa, next: StoredCa) => AuditEventInput },
  ): Promise<{ previous: StoredCa; current: StoredCa }> {
    const { store, clock } = this.#deps;
    const previous = await store.findActiveCa(realm, 'issuing');
    if (!previous)
      throw new KeywardError('ca.not_found', `Realm ${realm} has no issuing CA to rotate yet (it is made at the first issuance)`);
    const parent = await this.#parentOf(realm);
    const generation = (await store.listCas(realm, 'issuing', ['active', 'retiring', 'retired'])).length + 1;
    const id = newId();
    const made = await createIssuingCa({
      id,
      keys: this.#keys,
      parent: this.open(parent),
      // A name of its own: relying parties that hold both CAs tell them apart without the key identifiers.
      subject: [
        { type: 'CN', value: `Keyward ${realm} Issuing CA ${generation}` },
        { type: 'O', value: 'Keyward' },
      ],
      now: backdate(clock.now(), PROFILES.issuingCa),
      keyType: o.keyType ?? this.#issuingKeyType,
    });
    const current = stored(id, made.record, { realm, kind: 'issuing', imported: false });
    if (!(await store.rotateCa(previous.id, current, parent.id, clock.now(), o.audit(previous, current)))) {
      await this.#keys.discard?.(current.key);
      throw new KeywardError('ca.exists', `The issuing CA of realm ${realm} was rotated meanwhile by another request`);
    }
    this.forget(realm);
    return { previous: { ...previous, state: 'retiring' }, current };
  }

  /**
   * The realm's client-authentication CA (users' client certificates, like
   * IBM CSM's), kept apart from the issuing CA; created on first use under
   * the same parent.
   */
  async clientAuthCa(realm: string): Promise<StoredCa> {
    return (await this.#deps.store.findActiveCa(realm, 'client_auth')) ?? this.#create(realm, 'client_auth', 'Client Authentication CA');
  }

  /**
   * Imports an operator's CA as the parent of the realm's issuing CA, checked
   * by the CA domain (importParentCa): a CA that may have a CA below it, whose
   * key is the certificate's and supported, valid now and for a useful while.
   * @throws KeywardError ca.invalid (with the reason), ca.exists
   */
  async importParent(realm: string, certificatePem: string, keyPem: string): Promise<StoredCa> {
    const { store, clock, kek } = this.#deps;
    if (await store.findActiveCa(realm, 'issuing')) {
      throw new KeywardError(
        'ca.exists',
        `Realm ${realm} already has an issuing CA; a parent can be imported only before the first issuance`,
      );
    }
    const made = importParentCa({ certificatePem, keyPem, now: clock.now(), kek });
    const ca = stored(newId(), made.record, { realm, kind: 'root', imported: true });
    if (!(await store.insertCa(ca))) throw new KeywardError('ca.exists', `Realm ${realm} already has an imported parent CA`);
    this.#issuing.delete(realm);
    return ca;
  }
}
