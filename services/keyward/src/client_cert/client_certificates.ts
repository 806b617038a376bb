/**
 * Certificates as automation credentials.
 *
 * - Users' client certificates, like IBM CSM's: a user creates a client
 *   certificate, names it, picks an expiry up to the realm's maximum,
 *   downloads a .pem (certificate and private key) again at any time, and
 *   sends it in the `X-Client-Certificate` header; calls carry the authority
 *   of that user **at the time of the call**. They are checked by the CA's
 *   policy validators (key type, validity) under the realm's client-certificate
 *   profile and written by the one certificate writer (ca/sign.ts).
 * - API client certificates, like Flocker's: made offline by `keyward ca`
 *   under a cluster CA that a realm trusts; CN `user-<name>` names an API
 *   client of that realm, whose authority the call carries.
 *
 * Every way of presenting a certificate (TLS handshake, proxy header, bundle
 * header) ends in {@link ClientCertificateService.authenticate}: the
 * certificate must chain to the realm's client-authentication CA or to one of
 * its trusted client CAs, be within its validity and not revoked.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { Principal } from '../authn/principal.ts';
import { auditActor } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import {
  KEY_TYPES,
  PROFILES,
  backdate,
  generateCaKey,
  keyTypeOf,
  parseCsr,
  protectKey,
  samePublicKey,
  signCertificate,
  spkiOf,
  unprotectKey,
  validateKey,
  validateValidityDays,
  type CaContext,
  type Policy,
  type StoredCa,
} from '../ca/index.ts';
import type { Clock } from '../kernel/clock.ts';
import { KeywardError } from '../kernel/errors.ts';
import { newId, newSerialHex } from '../kernel/ids.ts';
import type { IdentityAdmin } from '../provisioning/ports.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type { ClientCertStore, ClientCertificateRecord, ClientCertificateSettings, TrustedClientCa, UserDirectory } from './ports.ts';

export const DEFAULT_CLIENT_CERT_SETTINGS: ClientCertificateSettings = Object.freeze({ enabled: false, maxExpirationDays: 366 });
const DAY = 86_400_000;

export interface ClientCertificateView {
  readonly id: string;
  readonly realm: string;
  readonly username: string;
  readonly name: string | undefined;
  readonly serialNumber: string;
  readonly mode: 'generated' | 'csr';
  readonly createdAt: string;
  readonly expiresInDays: number;
  readonly expiresAt: string;
  readonly status: 'valid' | 'revoked' | 'expired';
}

/** The client-authentication CA of a realm: as stored, and opened to sign. */
export type ClientAuthCa = (realm: string) => Promise<{ readonly stored: StoredCa; readonly ca: CaContext }>;

/**
 * A realm's client-certificate profile as a certificate policy, for the CA's
 * validators: the key types Keyward certifies and the realm's maximum expiry.
 * @example validateKey(clientCertificatePolicy(settings), csr.keyType);
 */
export function clientCertificatePolicy(settings: ClientCertificateSettings): Policy {
  return {
    keyTypes: KEY_TYPES,
    maxValidityDays: settings.maxExpirationDays,
    subject: { required: ['CN'], allowed: ['CN', 'OU'] },
    san: { dns: [], ip: [], uri: ['urn:keyward:*'], email: [] },
    keyUsage: PROFILES.clientAuth.keyUsage,
    extendedKeyUsage: PROFILES.clientAuth.extendedKeyUsage,
    approval: 'none',
  };
}

export const fingerprintOf = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

export class ClientCertificateService {
  readonly #store: ClientCertStore;
  readonly #kek: Uint8Array;
  readonly #caFor: ClientAuthCa;
  readonly #realms: RealmService;
  readonly #authz: Authorizer;
  readonly #users: UserDirectory;
  readonly #identity: IdentityAdmin;
  readonly #clock: Clock;
  #trusted: { at: number; list: Promise<{ ca: TrustedClientCa; x509: X509Certificate }[]> } | undefined;
  readonly #clients = new Map<string, { at: number; value: Promise<{ subject: string } | undefined> }>();

  constructor(deps: {
    store: ClientCertStore;
    /** Seals generated keys, like CA keys. */
    kek: Uint8Array;
    caFor: ClientAuthCa;
    realms: RealmService;
    authz: Authorizer;
    users: UserDirectory;
    identity: IdentityAdmin;
    clock: Clock;
  }) {
    this.#store = deps.store;
    this.#kek = deps.kek;
    this.#caFor = deps.caFor;
    this.#realms = deps.realms;
    this.#authz = deps.authz;
    this.#users = deps.users;
    this.#identity = deps.identity;
    this.#clock = deps.clock;
  }

  // ------------------------------------------------------------ settings

  async settings(realm: string): Promise<ClientCertificateSettings> {
    return (await this.#store.getSettings(realm)) ?? DEFAULT_CLIENT_CERT_SETTINGS;
  }

  async #requireAdmin(p: Principal, realm: string): Promise<void> {
    if (this.#authz.isOperator(p)) return;
    const roles = await this.#authz.rolesIn(p, realm);
    if (roles.has(ROLES.admin) || roles.has('keyward-user-admin')) return;
    await this.#authz.require(p, realm, ROLES.admin);
  }

  async getSettings(realm: string, p: Principal): Promise<ClientCertificateSettings> {
    await this.#realms.getManaged(realm);
    // Users see the maximum too (IBM CSM shows it below the expiry choice).
    if (p.realm !== realm) await this.#requireAdmin(p, realm);
    return this.settings(realm);
  }

  // ------------------------------------------------------------ the user's own certificates

  #view(r: ClientCertificateRecord): ClientCertificateView {
    const status = r.revokedAt ? 'revoked' : r.expiresAt <= this.#clock.now() ? 'expired' : 'valid';
    return {
      id: r.id,
      realm: r.realm,
      username: r.username,
      name: r.name,
      serialNumber: r.serial,
      mode: r.mode,
      createdAt: r.createdAt.toISOString(),
      expiresInDays: r.expiresInDays,
      expiresAt: r.expiresAt.toISOString(),
      status,
    };
  }

  /**
   * Creates a client certificate for the calling user: Keyward generates the
   * key (re-downloadable .pem, key sealed like CA keys) unless a CSR is given.
   */
  async create(
    p: Principal,
    input: { name?: string | undefined; expiresInDays: number; csr?: string | undefined },
    options: {
      /** The serial to issue under, reserved by an idempotent request (see {@link findCreated}). */
      serial?: string | undefined;
    } = {},
  ): Promise<{ view: ClientCertificateView; pem: string; maximum: number }> {
    if (p.kind !== 'user')
      throw new KeywardError(
        'client_certificate.users_only',
        "Client certificates carry a user's authority: create them with a user's token",
      );
    await this.#realms.getManaged(p.realm);
    const settings = await this.settings(p.realm);
    if (!settings.enabled)
      throw new KeywardError(
        'client_certificate.disabled',
        `Client certificates are disabled in realm ${p.realm}; a keyward-admin enables them`,
      );
    if (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1)
      throw new KeywardError('request.malformed', 'expiresInDays must be a whole number of days, at least 1', {
        extras: { field: '/expiresInDays' },
      });
    if (input.expiresInDays > settings.maxExpirationDays) {
      throw new KeywardError(
        'client_certificate.expiry_exceeded',
        `expiresInDays may be at most ${settings.maxExpirationDays} in realm ${p.realm}`,
        { extras: { maximum: settings.maxExpirationDays } },
      );
    }
    const { stored, ca } = await this.#caFor(p.realm);
    let spki: Uint8Array;
    let keyType: string;
    let keyBlob: unknown;
    let keyPem: string | undefined;
    if (input.csr) {
      ({ spki, keyType } = parseCsr(input.csr));
    } else {
      const key = await generateCaKey('EC-P256');
      spki = spkiOf(key);
      keyType = keyTypeOf(key);
      keyBlob = protectKey(this.#kek, key);
      keyPem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
    }
    // The CA's policy validators, under the realm's client-certificate profile.
    const policy = clientCertificatePolicy(settings);
    validateKey(policy, keyType);
    validateValidityDays(policy, input.expiresInDays);
    const now = this.#clock.now();
    const notBefore = backdate(now, PROFILES.clientAuth);
    const notAfter = new Date(Math.min(notBefore.getTime() + input.expiresInDays * DAY, ca.notAfter.getTime()));
    const serial = options.serial ?? newSerialHex();
    const id = newId();
    const { der, pem } = await signCertificate({
      issuer: ca,
      profile: PROFILES.clientAuth,
      subject: [
        { type: 'CN', value: p.username ?? p.subject },
        { type: 'OU', value: `keyward client certificate ${id}` },
      ],
      sans: { dns: [], ip: [], uri: [`urn:keyward:${p.realm}:user:${p.subject}`], email: [] },
      spki,
      serialHex: serial,
      notBefore,
      notAfter,
    });
    const rec: ClientCertificateRecord = {
      id,
      realm: p.realm,
      userId: p.subject,
      username: p.username ?? p.subject,
      name: input.name,
      serial,
      caId: stored.id,
      fingerprint: fingerprintOf(der),
      mode: input.csr ? 'csr' : 'generated',
      certificatePem: pem,
      keyBlob,
      expiresInDays: input.expiresInDays,
      createdAt: now,
      expiresAt: notAfter,
      revokedAt: undefined,
    };
    await this.#store.insert(rec, {
      action: 'client_certificate.created',
      actor: auditActor(p),
      realm: p.realm,
      target: id,
      details: { name: input.name, expiresInDays: input.expiresInDays, mode: rec.mode, serial },
    });
    return { view: this.#view(rec), pem: pem + (keyPem ?? ''), maximum: settings.maxExpirationDays };
  }

  async list(p: Principal): Promise<ClientCertificateView[]> {
    return (await this.#store.list(p.realm, p.subject)).map((r) => this.#view(r));
  }

  async #own(p: Principal, id: string): Promise<ClientCertificateRecord> {
    const r = /^[0-9a-f-]{36}$/i.test(id) ? await this.#store.get(id) : undefined;
    if (!r || r.realm !== p.realm || r.userId !== p.subject)
      throw new KeywardError('client_certificate.not_found', `No client certificate ${id} of the caller`);
    return r;
  }

  /**
   * The caller's certificate issued under `serial`, answered as {@link create} answered it, or undefined: what an
   * idempotent retry answers when its first attempt created the certificate but could not record its answer.
   */
  async findCreated(p: Principal, serial: string): Promise<{ view: ClientCertificateView; pem: string; maximum: number } | undefined> {
    const r = (await this.#store.list(p.realm, p.subject)).find((x) => x.serial === serial);
    if (!r) return undefined;
    const key = r.keyBlob ? unprotectKey(this.#kek, r.keyBlob).export({ format: 'pem', type: 'pkcs8' }).toString() : '';
    return { view: this.#view(r), pem: r.certificatePem + key, maximum: (await this.settings(p.realm)).maxExpirationDays };
  }

  /** The .pem again: certificate, chain, and (generated mode) the private key. */
  async pem(p: Principal, id: string): Promise<string> {
    const r = await this.#own(p, id);
    const key = r.keyBlob ? unprotectKey(this.#kek, r.keyBlob).export({ format: 'pem', type: 'pkcs8' }).toString() : '';
    return r.certificatePem + key;
  }

  /** Revokes a certificate: its owner, or a keyward-admin / keyward-user-admin of its realm. */
  async revoke(p: Principal, id: string): Promise<ClientCertificateView> {
    const r = /^[0-9a-f-]{36}$/i.test(id) ? await this.#store.get(id) : undefined;
    if (!r) throw new KeywardError('client_certificate.not_found', `No client certificate ${id}`);
    const own = r.realm === p.realm && r.userId === p.subject;
    if (!own) {
      try {
        await this.#requireAdmin(p, r.realm);
      } catch {
        throw new KeywardError('client_certificate.not_found', `No client certificate ${id} of the caller`);
      }
    }
    const at = this.#clock.now();
    await this.#store.revoke(id, at, {
      action: 'client_certificate.revoked',
      actor: auditActor(p),
      realm: r.realm,
      target: id,
      details: { serial: r.serial, owner: r.username },
    });
    return this.#view((await this.#store.get(id))!);
  }

  /** The admin view: every user's client certificates of the realm. */
  async adminList(realm: string, p: Principal): Promise<ClientCertificateView[]> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(p, realm);
    return (await this.#store.list(realm, undefined)).map((r) => this.#view(r));
  }

  // ------------------------------------------------------------ trusted client CAs (Flocker-style cluster CAs)

  async putTrustedCa(realm: string, name: string, p: Principal, pem: string): Promise<{ ca: TrustedClientCa; created: boolean }> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(p, realm);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name))
      throw new KeywardError('request.malformed', `"${name.slice(0, 100)}" is not a valid name`, { extras: { field: 'name' } });
    let x: X509Certificate;
    try {
      x = new X509Certificate(pem);
    } catch (err) {
      throw new KeywardError('trusted_ca.invalid', 'The body is not a PEM X.509 certificate', { cause: err });
    }
    if (!x.ca) throw new KeywardError('trusted_ca.invalid', 'The certificate is not a CA certificate (basicConstraints cA is not set)');
    if (new Date(x.validTo) <= this.#clock.now())
      throw new KeywardError('trusted_ca.invalid', `The CA certificate expired on ${new Date(x.validTo).toISOString()}`);
    const ca: TrustedClientCa = {
      realm,
      name,
      certificatePem: x.toString(),
      subject: x.subject,
      fingerprint: fingerprintOf(new Uint8Array(x.raw)),
      createdAt: this.#clock.now(),
    };
    const outcome = await this.#store.putTrustedCa(ca, {
      action: 'trusted_client_ca.put',
      actor: auditActor(p),
      realm,
      target: name,
      details: { subject: x.subject, fingerprint: ca.fingerprint },
    });
    this.#trusted = undefined;
    return { ca, created: outcome === 'created' };
  }

  async listTrustedCas(realm: string, p: Principal): Promise<TrustedClientCa[]> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(p, realm);
    return this.#store.listTrustedCas(realm);
  }

  async deleteTrustedCa(realm: string, name: string, p: Principal): Promise<void> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(p, realm);
    if (
      !(await this.#store.deleteTrustedCa(realm, name, { action: 'trusted_client_ca.deleted', actor: auditActor(p), realm, target: name }))
    ) {
      throw new KeywardError('trusted_ca.not_found', `Realm ${realm} has no trusted client CA ${name}`);
    }
    this.#trusted = undefined;
  }

  // ------------------------------------------------------------ authentication

  #trustedCas() {
    const now = Date.now();
    if (!this.#trusted || now - this.#trusted.at > 10_000) {
      const list = this.#store
        .listTrustedCas(undefined)
        .then((cas) => cas.map((ca) => ({ ca, x509: new X509Certificate(ca.certificatePem) })));
      this.#trusted = { at: now, list };
      list.catch(() => {
        this.#trusted = undefined;
      });
    }
    return this.#trusted.list;
  }

  /** The service account of API client `clientId` of `realm`, cached briefly. */
  #apiClient(realm: string, clientId: string): Promise<{ subject: string } | undefined> {
    const key = `${realm}\u0000${clientId}`;
    const hit = this.#clients.get(key);
    if (hit && Date.now() - hit.at < 10_000) return hit.value;
    const value = (async () => {
      const c = await this.#identity.findClient(realm, clientId);
      if (!c || !c.hasKeywardScope || !c.enabled || !c.serviceAccountsEnabled) return undefined;
      return { subject: await this.#identity.serviceAccountId(realm, c) };
    })();
    this.#clients.set(key, { at: Date.now(), value });
    value.catch(() => this.#clients.delete(key));
    return value;
  }

  /**
   * The principal a certificate stands for.
   * @param der the certificate (DER)
   * @param options.privateKeyPem a key that came with it (the IBM CSM-style .pem bundle): must match
   */
  async authenticate(der: Uint8Array, options: { privateKeyPem?: string | undefined } = {}): Promise<Principal> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (err) {
      throw new KeywardError('client_certificate.malformed', 'The client certificate is not an X.509 certificate', { cause: err });
    }
    if (options.privateKeyPem !== undefined) {
      let matches = false;
      try {
        // Compared as SPKI, not with checkPrivateKey: a key of another type would leave a stale OpenSSL error behind.
        matches = samePublicKey(
          new Uint8Array(cert.publicKey.export({ format: 'der', type: 'spki' })),
          spkiOf(createPrivateKey(options.privateKeyPem)),
        );
      } catch {
        matches = false;
      }
      if (!matches)
        throw new KeywardError('client_certificate.key_mismatch', 'The private key in the header does not belong to the certificate');
    }
    const now = this.#clock.now();
    const expired = () =>
      new KeywardError(
        'client_certificate.expired',
        `The client certificate is valid from ${new Date(cert.validFrom).toISOString()} to ${new Date(cert.validTo).toISOString()}`,
      );

    // 1. A user's client certificate (IBM CSM-style), found by its fingerprint and re-verified.
    const rec = await this.#store.findByFingerprint(fingerprintOf(new Uint8Array(cert.raw)));
    if (rec) {
      const { stored } = await this.#caFor(rec.realm);
      if (stored.id !== rec.caId || !cert.verify(new X509Certificate(stored.certificatePem).publicKey)) {
        throw new KeywardError(
          'client_certificate.untrusted',
          "The client certificate does not chain to the realm's client-authentication CA",
        );
      }
      if (new Date(cert.validFrom) > now || new Date(cert.validTo) <= now) throw expired();
      if (rec.revokedAt)
        throw new KeywardError('client_certificate.revoked', `The client certificate was revoked on ${rec.revokedAt.toISOString()}`);
      const user = await this.#users.findUser(rec.realm, rec.userId);
      if (!user?.enabled)
        throw new KeywardError(
          'client_certificate.user_disabled',
          `User ${rec.username} of realm ${rec.realm} no longer exists or is disabled`,
        );
      // A username changed in Keycloak's console: the certificate is the user's by id; the admin view follows the new name.
      if (user.username !== rec.username) await this.#store.renameUser(rec.realm, rec.userId, user.username);
      return Object.freeze({
        credential: 'client_certificate',
        kind: 'user',
        realm: rec.realm,
        subject: rec.userId,
        clientId: undefined,
        username: user.username,
        credentialRoles: [],
        credentialExpiresAt: new Date(cert.validTo), // a PAT created with this certificate may not outlive it
      });
    }

    // 2. A certificate under a cluster CA that a realm trusts (Flocker-style): CN user-<client>.
    for (const { ca, x509 } of await this.#trustedCas()) {
      if (!cert.checkIssued(x509) || !cert.verify(x509.publicKey)) continue;
      if (new Date(cert.validFrom) > now || new Date(cert.validTo) <= now) throw expired();
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
      const m = /^user-(.+)$/.exec(cn);
      const client = m ? await this.#apiClient(ca.realm, m[1]!) : undefined;
      if (!m || !client) {
        throw new KeywardError(
          'client_certificate.unknown_principal',
          `Realm ${ca.realm} has no API client for the certificate's CN "${cn.slice(0, 100)}" (expected user-<client id>)`,
        );
      }
      return Object.freeze({
        credential: 'client_certificate',
        kind: 'client',
        realm: ca.realm,
        subject: client.subject,
        clientId: m[1]!,
        username: undefined,
        credentialRoles: [],
      });
    }
    throw new KeywardError('client_certificate.untrusted', 'The client certificate is not issued by a CA that any realm trusts');
  }
}
