/**
 * Device onboarding, compatible with IBM SKLM's pending client certificates.
 *
 * 1. A device pushes its communication certificate: by connecting to the
 *    HTTPS listener with it (`…/devices/hello`), or by uploading it. It is
 *    recorded as *pending* (or its lastSeen updated) — capped per realm,
 *    rate-limited per source address, and refused for a while after an admin
 *    rejected it.
 * 2. A keyward-admin accepts it with an alias: the certificate enters the
 *    realm's trust store, pinned by its SHA-256 fingerprint, and a Keycloak
 *    client is created for the device (X.509 client authenticator with the
 *    certificate's subject DN; its service account in the device group).
 *    Under dual control the acceptance waits for a second admin.
 * 3. From then on the device, presenting that exact certificate, is the
 *    device client — as long as the certificate stays trusted and the client
 *    exists and is enabled in Keycloak, both checked at every call.
 *
 * Name collisions: the device client is named after the alias. When a client
 * of that name already exists, only the *new* device client gets a random
 * suffix; the existing client is never renamed, because its clientId is what
 * it authenticates with (SKLM renames both; renaming a live Keycloak client
 * would lock its users out).
 */
import { randomBytes } from 'node:crypto';
import type { ApprovalRules, Approvals, ApprovalView } from '../approvals/approvals.ts';
import type { ApprovalRecord } from '../approvals/ports.ts';
import type { AuditActor, AuditEventInput } from '../audit/event.ts';
import { auditActor, type Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import { fingerprintOf } from '../client_cert/client_certificates.ts';
import type { Clock } from '../kernel/clock.ts';
import { KeywardError } from '../kernel/errors.ts';
import { newId } from '../kernel/ids.ts';
import type { Logger } from '../kernel/log.ts';
import { RateLimiter } from '../kernel/rate_limiter.ts';
import { checkClientId } from '../provisioning/names.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type { ProtectedSettings } from '../settings/protected_settings.ts';
import {
  checkChainSize,
  checkGroupName,
  clientIdForAlias,
  colonHex,
  deviceCertificate,
  normalizeAlias,
  parseUuid,
  renderUuid,
  uploadedChain,
} from './device_certificate.ts';
import type { DeviceAcceptance, DeviceDirectory, DeviceStore, PendingDevice, TrustedDevice } from './ports.ts';

/** The device group used when an acceptance names a role but no group (as in IBM SKLM, roles belong to PEER_TO_PEER). */
export const DEFAULT_DEVICE_GROUP = 'PEER_TO_PEER';
/** Approval kind of an acceptance under dual control: `devices.accept/<pending id>`. */
export const ACCEPT_APPROVAL = 'devices.accept';

/** What both views show of the certificate itself. */
interface CertificateView {
  readonly uuid: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly sha256Fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface PendingView extends CertificateView {
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly sourceAddress: string;
  readonly via: 'tls' | 'upload';
}

export interface TrustedView extends CertificateView {
  readonly alias: string;
  readonly clientId: string;
  readonly deviceGroup: string | undefined;
  readonly deviceRole: string | undefined;
  readonly acceptedAt: string;
  readonly acceptedBy: AuditActor;
}

export interface AcceptInput {
  readonly alias: unknown;
  readonly uuid: unknown;
  readonly deviceGroup?: unknown;
  readonly deviceRole?: unknown;
}

export type AcceptOutcome =
  { readonly outcome: 'accepted'; readonly device: TrustedView } | { readonly outcome: 'pending'; readonly approval: ApprovalView };

export type HelloOutcome = { readonly status: 'trusted'; readonly realm: string; readonly alias: string; readonly clientId: string };

const pendingView = (d: PendingDevice): PendingView => ({
  uuid: renderUuid(d.id),
  subject: d.subject,
  issuer: d.issuer,
  serialNumber: d.serial,
  sha256Fingerprint: colonHex(d.fingerprint),
  notBefore: d.notBefore.toISOString(),
  notAfter: d.notAfter.toISOString(),
  firstSeen: d.firstSeen.toISOString(),
  lastSeen: d.lastSeen.toISOString(),
  sourceAddress: d.sourceAddress,
  via: d.via,
});

export const trustedView = (t: TrustedDevice): TrustedView => ({
  alias: t.alias,
  uuid: renderUuid(t.id),
  clientId: t.clientId,
  subject: t.subject,
  issuer: t.issuer,
  serialNumber: t.serial,
  sha256Fingerprint: colonHex(t.fingerprint),
  notBefore: t.notBefore.toISOString(),
  notAfter: t.notAfter.toISOString(),
  deviceGroup: t.deviceGroup,
  deviceRole: t.deviceRole,
  acceptedAt: t.acceptedAt.toISOString(),
  acceptedBy: t.acceptedBy,
});

const notFound = (uuid: string) =>
  new KeywardError('device.pending_not_found', `No pending client certificate ${uuid.slice(0, 100)}`, {
    extras: { uuid: uuid.slice(0, 100) },
  });
const trustedNotFound = (realm: string, alias: string) =>
  new KeywardError('device.trusted_not_found', `Realm ${realm} trusts no client certificate with alias ${alias.slice(0, 100)}`);
const aliasInUse = (alias: string) =>
  new KeywardError('device.alias_in_use', `Client certificate alias already in use: ${alias}`, { extras: { alias } });

export class DeviceOnboardingService {
  readonly #store: DeviceStore;
  readonly #directory: DeviceDirectory;
  readonly #settings: ProtectedSettings;
  readonly #approvals: Approvals;
  readonly #realms: RealmService;
  readonly #authz: Authorizer;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #limiter: RateLimiter;
  /** Concurrent checks of the same device client share one Keycloak call. */
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(deps: {
    store: DeviceStore;
    directory: DeviceDirectory;
    settings: ProtectedSettings;
    approvals: Approvals;
    realms: RealmService;
    authz: Authorizer;
    clock: Clock;
    log?: Logger;
    pushesPerMinute: number;
  }) {
    this.#store = deps.store;
    this.#directory = deps.directory;
    this.#settings = deps.settings;
    this.#approvals = deps.approvals;
    this.#realms = deps.realms;
    this.#authz = deps.authz;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#limiter = new RateLimiter({ perMinute: deps.pushesPerMinute, now: () => this.#clock.now().getTime() });
  }

  /**
   * The rules of the {@link ACCEPT_APPROVAL} kind, registered at the
   * composition root with the store's writer of a {@link DeviceAcceptance}:
   * keyward-admins review it; approving creates the device client (removed
   * again when the decision is not stored after all).
   */
  acceptanceRules(): ApprovalRules<DeviceAcceptance> {
    return {
      authorize: (p, realm) => this.#authz.require(p, realm, ROLES.admin),
      prepare: (a, approver) => this.#prepareApproval(a, approver),
      abandon: (effect) => this.#abandon(effect),
    };
  }

  // ------------------------------------------------------------ push

  /**
   * A device connected over TLS with `chain` (its certificate first) to
   * `…/devices/hello`. Trusted: says so. Otherwise records it as pending and
   * throws 403 `device.pending` (the device asks again later).
   */
  async hello(realm: string, chain: readonly Uint8Array[], sourceAddress: string): Promise<HelloOutcome> {
    await this.#realms.getManaged(realm);
    if (chain.length === 0) {
      throw new KeywardError(
        'device.certificate_required',
        "Connect with the device's client certificate (TLS client authentication), or upload it to /v1/realms/{realm}/devices/certificates",
      );
    }
    this.#rateLimit(sourceAddress);
    checkChainSize(chain);
    const trusted = await this.#store.findTrustedByFingerprint(fingerprintOf(chain[0]!));
    if (trusted) {
      if (trusted.realm !== realm) throw this.#trustedElsewhere(trusted);
      const client = await this.#directory.deviceClient(trusted.realm, trusted.keycloakClientId);
      if (!client?.enabled) throw this.#clientGone(trusted, client === undefined);
      return { status: 'trusted', realm, alias: trusted.alias, clientId: client.clientId };
    }
    const { pending } = await this.#push(realm, chain, sourceAddress, 'tls');
    throw new KeywardError(
      'device.pending',
      `The device certificate waits for a keyward-admin of realm ${realm} to accept it (uuid ${renderUuid(pending.id)})`,
      {
        extras: { uuid: renderUuid(pending.id), firstSeen: pending.firstSeen.toISOString() },
      },
    );
  }

  /** A device that cannot do TLS client authentication uploads its certificate (PEM, or DER). */
  async upload(realm: string, body: string | Uint8Array, sourceAddress: string): Promise<{ pending: PendingView; created: boolean }> {
    await this.#realms.getManaged(realm);
    this.#rateLimit(sourceAddress);
    const chain = uploadedChain(body);
    checkChainSize(chain);
    const trusted = await this.#store.findTrustedByFingerprint(fingerprintOf(chain[0]!));
    if (trusted) {
      if (trusted.realm !== realm) throw this.#trustedElsewhere(trusted);
      throw new KeywardError('device.already_trusted', `The certificate is already trusted in realm ${realm} as ${trusted.alias}`, {
        extras: { alias: trusted.alias },
      });
    }
    const { pending, queued } = await this.#push(realm, chain, sourceAddress, 'upload');
    return { pending: pendingView(pending), created: queued };
  }

  #rateLimit(sourceAddress: string): void {
    const wait = this.#limiter.take(sourceAddress);
    if (wait > 0) {
      throw new KeywardError('device.rate_limited', `Too many certificate pushes from ${sourceAddress}; try again in ${wait} s`, {
        headers: { 'Retry-After': String(wait) },
        extras: { retryAfterSeconds: wait },
      });
    }
  }

  #trustedElsewhere(t: TrustedDevice): KeywardError {
    return new KeywardError('device.already_trusted', `The certificate is already trusted in another realm (${t.realm})`, {
      extras: { realm: t.realm },
    });
  }

  #clientGone(t: TrustedDevice, deleted: boolean): KeywardError {
    return new KeywardError(
      'device.client_disabled',
      `The device client of ${t.alias} in realm ${t.realm} is ${deleted ? 'deleted' : 'disabled'} in Keycloak`,
      { extras: { alias: t.alias } },
    );
  }

  async #push(
    realm: string,
    chain: readonly Uint8Array[],
    sourceAddress: string,
    via: 'tls' | 'upload',
  ): Promise<{ pending: PendingDevice; queued: boolean }> {
    const settings = await this.#settings.value(realm, 'devices');
    if (!settings.enabled)
      throw new KeywardError(
        'device.onboarding_disabled',
        `Device onboarding is disabled in realm ${realm}; a keyward-admin enables it (PUT /v1/realms/${realm}/settings/devices)`,
      );
    const now = this.#clock.now();
    const cert = deviceCertificate(chain[0]!, now); // bad input never reaches the store
    const id = newId();
    const r = await this.#store.push(
      realm,
      cert,
      { at: now, sourceAddress, via, id, maxPending: settings.maxPending },
      {
        action: 'device.pushed',
        actor: { kind: 'device', id: cert.fingerprint, name: cert.subject.slice(0, 200) },
        realm,
        target: renderUuid(id),
        details: { subject: cert.subject, issuer: cert.issuer, serial: cert.serial, fingerprint: cert.fingerprint, sourceAddress, via },
      },
    );
    if (r.outcome === 'full') {
      throw new KeywardError(
        'device.pending_limit',
        `Realm ${realm} already has ${settings.maxPending} pending client certificates: an admin accepts or rejects some first`,
        { extras: { maxPending: settings.maxPending } },
      );
    }
    if (r.outcome === 'rejected') {
      throw new KeywardError(
        'device.rejected',
        `An admin of realm ${realm} rejected this certificate; it is not queued again before ${r.until.toISOString()}`,
        { extras: { until: r.until.toISOString() } },
      );
    }
    if (r.outcome === 'queued')
      this.#log?.info('device certificate pending', { realm, uuid: renderUuid(r.pending.id), subject: cert.subject, sourceAddress });
    return { pending: r.pending, queued: r.outcome === 'queued' };
  }

  // ------------------------------------------------------------ admin

  async #admin(realm: string, p: Principal): Promise<void> {
    await this.#realms.getManaged(realm);
    await this.#authz.require(p, realm, ROLES.admin);
  }

  async listPending(realm: string, p: Principal): Promise<PendingView[]> {
    await this.#admin(realm, p);
    return (await this.#store.listPending(realm)).map(pendingView);
  }

  /**
   * Accepts a pending certificate: at once, or as a pending approval under
   * dual control.
   * @throws 400 `device.alias_invalid`, 404 `device.pending_not_found`, 409 `device.alias_in_use`
   */
  async accept(realm: string, p: Principal, input: AcceptInput): Promise<AcceptOutcome> {
    await this.#admin(realm, p);
    const alias = normalizeAlias(input.alias);
    if (typeof input.uuid !== 'string')
      throw new KeywardError('request.malformed', 'uuid must be a string (CERTIFICATE-<uuid>)', { extras: { field: '/uuid' } });
    const uuid = input.uuid;
    const deviceRole = checkGroupName(input.deviceRole, 'deviceRole');
    const deviceGroup = checkGroupName(input.deviceGroup, 'deviceGroup') ?? (deviceRole ? DEFAULT_DEVICE_GROUP : undefined);
    const id = parseUuid(uuid);
    const pending = id ? await this.#store.getPending(realm, id) : undefined;
    if (!pending) throw notFound(uuid);
    if (await this.#store.findTrusted(realm, alias)) throw aliasInUse(alias);
    if ((await this.#settings.value(realm, 'dual_control')).enabled) {
      const approval = await this.#approvals.propose(realm, `${ACCEPT_APPROVAL}/${pending.id}`, p, {
        uuid: renderUuid(pending.id),
        alias,
        deviceGroup: deviceGroup ?? null,
        deviceRole: deviceRole ?? null,
        subject: pending.subject,
        sha256Fingerprint: colonHex(pending.fingerprint),
      });
      return { outcome: 'pending', approval };
    }
    const device = await this.#createClient(realm, pending, { alias, deviceGroup, deviceRole, by: auditActor(p) });
    try {
      const outcome = await this.#store.accept(device, [this.#acceptedEvent(device, auditActor(p), undefined)]);
      if (outcome !== 'accepted') throw this.#acceptRefusal(outcome, device);
    } catch (err) {
      await this.#directory
        .deleteClient(realm, device.keycloakClientId)
        .catch((e) =>
          this.#log?.warn('could not remove a device client after a failed acceptance', { err: e, realm, clientId: device.clientId }),
        );
      throw err;
    }
    return { outcome: 'accepted', device: trustedView(device) };
  }

  #acceptRefusal(outcome: 'alias_in_use' | 'pending_not_found' | 'already_trusted', d: TrustedDevice): KeywardError {
    if (outcome === 'alias_in_use') return aliasInUse(d.alias);
    if (outcome === 'pending_not_found') return notFound(renderUuid(d.id));
    return new KeywardError('device.already_trusted', `The certificate is already trusted`, {});
  }

  #acceptedEvent(d: TrustedDevice, by: AuditActor, approvalId: string | undefined): AuditEventInput {
    return {
      action: 'device.accepted',
      actor: by,
      realm: d.realm,
      target: d.alias,
      details: {
        uuid: renderUuid(d.id),
        clientId: d.clientId,
        subject: d.subject,
        fingerprint: d.fingerprint,
        deviceGroup: d.deviceGroup,
        deviceRole: d.deviceRole,
        ...(approvalId ? { approvalId } : {}),
      },
    };
  }

  /** Creates the Keycloak client (suffixing its name on a collision) and describes the trusted entry. */
  async #createClient(
    realm: string,
    pending: PendingDevice,
    o: { alias: string; deviceGroup: string | undefined; deviceRole: string | undefined; by: AuditActor },
  ): Promise<TrustedDevice> {
    const base = clientIdForAlias(o.alias);
    checkClientId(base);
    for (let attempt = 0; attempt < 5; attempt++) {
      const clientId =
        attempt === 0 && !(await this.#directory.clientExists(realm, base))
          ? base
          : `${base.slice(0, 57)}-${randomBytes(4).toString('hex').slice(0, 6)}`;
      const made = await this.#directory.createDeviceClient(realm, {
        clientId,
        name: o.alias,
        subjectDn: pending.subjectRfc2253,
        fingerprint: pending.fingerprint,
        certificatePem: pending.certificatePem,
        deviceGroup: o.deviceGroup,
        deviceRole: o.deviceRole,
        description:
          `Device ${pending.subject} (certificate ${colonHex(pending.fingerprint).slice(0, 23)}…), ` +
          `accepted into the trust store by Keyward as "${o.alias}"`,
      });
      if (made === 'exists') continue;
      return {
        ...pending,
        alias: o.alias,
        keycloakClientId: made.id,
        clientId,
        serviceAccountId: made.serviceAccountId,
        deviceGroup: o.deviceGroup,
        deviceRole: o.deviceRole,
        acceptedAt: this.#clock.now(),
        acceptedBy: o.by,
      };
    }
    throw new KeywardError('store.conflict', `Could not find a free client name for ${base} in realm ${realm}`);
  }

  async #prepareApproval(a: ApprovalRecord, approver: Principal): Promise<{ effect: DeviceAcceptance; audit: readonly AuditEventInput[] }> {
    const pl = a.payload as { uuid: string; alias: string; deviceGroup: string | null; deviceRole: string | null };
    const id = parseUuid(pl.uuid);
    const pending = id ? await this.#store.getPending(a.realm, id) : undefined;
    if (!pending) throw notFound(pl.uuid);
    if (await this.#store.findTrusted(a.realm, pl.alias)) throw aliasInUse(pl.alias);
    const device = await this.#createClient(a.realm, pending, {
      alias: pl.alias,
      deviceGroup: pl.deviceGroup ?? undefined,
      deviceRole: pl.deviceRole ?? undefined,
      by: a.proposedBy,
    });
    return { effect: { device }, audit: [this.#acceptedEvent(device, auditActor(approver), a.id)] };
  }

  async #abandon(effect: DeviceAcceptance): Promise<void> {
    await this.#directory.deleteClient(effect.device.realm, effect.device.keycloakClientId).catch((err) =>
      this.#log?.warn('could not remove a device client after a failed approval', {
        err,
        realm: effect.device.realm,
        clientId: effect.device.clientId,
      }),
    );
  }

  /** Rejects (deletes) a pending certificate; it is not queued again for the realm's `rejectForHours`. */
  async reject(realm: string, p: Principal, uuid: string): Promise<void> {
    await this.#admin(realm, p);
    const id = parseUuid(uuid);
    const settings = await this.#settings.value(realm, 'devices');
    const until = new Date(this.#clock.now().getTime() + settings.rejectForHours * 3_600_000);
    const pending = id ? await this.#store.getPending(realm, id) : undefined;
    if (
      !pending ||
      !(await this.#store.reject(realm, pending.id, until, {
        action: 'device.rejected',
        actor: auditActor(p),
        realm,
        target: uuid,
        details: { subject: pending.subject, fingerprint: pending.fingerprint, until: until.toISOString() },
      }))
    )
      throw notFound(uuid);
  }

  async listTrusted(realm: string, p: Principal): Promise<TrustedView[]> {
    await this.#admin(realm, p);
    return (await this.#store.listTrusted(realm)).map(trustedView);
  }

  async getTrusted(realm: string, p: Principal, alias: string): Promise<TrustedView> {
    await this.#admin(realm, p);
    return trustedView(await this.#trusted(realm, alias));
  }

  async #trusted(realm: string, alias: string): Promise<TrustedDevice> {
    const t = await this.#store.findTrusted(realm, alias.trim().toLowerCase());
    if (!t) throw trustedNotFound(realm, alias);
    return t;
  }

  /** Removes a certificate from the trust store and deletes its device client: the device is refused at once. */
  async untrust(realm: string, p: Principal, alias: string): Promise<void> {
    await this.#admin(realm, p);
    const t = await this.#trusted(realm, alias);
    // The Keycloak client first: if the store then fails, the device is already refused
    // (its client is gone) and a retry finishes the job; the other order could leave a client behind.
    await this.#directory.deleteClient(realm, t.keycloakClientId);
    if (
      !(await this.#store.deleteTrusted(realm, t.alias, {
        action: 'device.untrusted',
        actor: auditActor(p),
        realm,
        target: t.alias,
        details: { clientId: t.clientId, fingerprint: t.fingerprint },
      }))
    ) {
      throw trustedNotFound(realm, alias);
    }
  }

  /** Renames a device client (its clientId in Keycloak). */
  async renameClient(realm: string, p: Principal, clientId: string, newClientId: unknown): Promise<TrustedView> {
    await this.#admin(realm, p);
    if (typeof newClientId !== 'string')
      throw new KeywardError('request.malformed', 'name must be a string', { extras: { field: '/name' } });
    checkClientId(newClientId);
    const t = await this.#store.findTrustedByClient(realm, clientId);
    if (!t) throw new KeywardError('device.client_not_found', `Realm ${realm} has no device client ${clientId.slice(0, 100)}`);
    if (newClientId === t.clientId) return trustedView(t);
    if ((await this.#directory.renameClient(realm, t.keycloakClientId, newClientId)) === 'exists') {
      throw new KeywardError('api_client.exists', `Realm ${realm} already has a client ${newClientId}`);
    }
    await this.#store.setClientId(realm, t.alias, newClientId, {
      action: 'device.client_renamed',
      actor: auditActor(p),
      realm,
      target: t.alias,
      details: { from: t.clientId, to: newClientId },
    });
    return trustedView({ ...t, clientId: newClientId });
  }

  // ------------------------------------------------------------ authentication

  /**
   * The device client a certificate stands for, or undefined when it is not
   * in any trust store. Checked at every call: still trusted, still valid,
   * client still present and enabled in Keycloak.
   */
  async authenticate(der: Uint8Array): Promise<Principal | undefined> {
    const t = await this.#store.findTrustedByFingerprint(fingerprintOf(der));
    if (!t) return undefined;
    const now = this.#clock.now();
    if (t.notAfter <= now || t.notBefore > now) {
      throw new KeywardError(
        'client_certificate.expired',
        `The device certificate of ${t.alias} is valid from ${t.notBefore.toISOString()} to ${t.notAfter.toISOString()}`,
      );
    }
    const key = `${t.realm}\u0000${t.keycloakClientId}`;
    let lookup = this.#inflight.get(key) as Promise<Awaited<ReturnType<DeviceDirectory['deviceClient']>>> | undefined;
    if (!lookup) {
      lookup = this.#directory.deviceClient(t.realm, t.keycloakClientId).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, lookup);
    }
    const client = await lookup;
    if (!client?.enabled) throw this.#clientGone(t, client === undefined);
    return Object.freeze({
      credential: 'device',
      kind: 'client',
      realm: t.realm,
      subject: t.serviceAccountId,
      clientId: client.clientId,
      username: undefined,
      credentialRoles: [],
      credentialExpiresAt: t.notAfter,
    });
  }
}
