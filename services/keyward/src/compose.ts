/**
 * The composition root: the only module that knows concrete adapters. It
 * builds everything from one typed configuration, for the server, the CLI and
 * the tests alike.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from './storage/audit_log.ts';
import { createApp } from './http/app.ts';
import { Metrics } from './http/metrics.ts';
import { buildOpenApi } from './http/openapi.ts';
import type { RouteSpec } from './http/route.ts';
import { docsRoutes } from './http/routes/docs.ts';
import { systemRoutes } from './http/routes/system.ts';
import { createAdminSession, type AdminSession } from './keycloak/admin_session.ts';
import { systemClock, type Clock } from './kernel/clock.ts';
import { ConfigError, required, type Config } from './kernel/config.ts';
import type { Logger } from './kernel/log.ts';
import { migrate, openDatabase, type Database, type Queryable } from './storage/database.ts';
import { PgIdempotencyStore } from './storage/idempotency_store.ts';
import { LeaderLease } from './storage/leader_lease.ts';
import { ChangeListener, CHANNELS } from './storage/notifications.ts';
import { AccessTokenVerifier } from './tokens/access_token_verifier.ts';
import { VERSION } from './version.ts';
import { auditActor } from './authn/principal.ts';
import { Authorizer } from './authn/roles.ts';
import { Authenticator } from './http/authenticate.ts';
import { apiClientRoutes } from './http/routes/api_clients.ts';
import { policyRoutes } from './http/routes/policies.ts';
import { realmRoutes } from './http/routes/realms.ts';
import { whoamiRoutes } from './http/routes/whoami.ts';
import { KeycloakIdentityAdmin, type IdentityAdminFaults } from './keycloak/identity_admin.ts';
import { ApiClientService } from './provisioning/api_clients.ts';
import { PolicyService } from './provisioning/policies.ts';
import { RealmService } from './provisioning/realms.ts';
import { RealmConfigService, realmConfigJsonSchema } from './provisioning/realm_config.ts';
import { realmConfigRoutes } from './http/routes/realm_config.ts';
import { PgProvisioningStore } from './storage/provisioning_store.ts';
import { parsePolicy, policyJsonSchema } from './ca/index.ts';
import { isCaKeyType } from './ca/index.ts';
import { sharedOffload } from './crypto/offload.ts';
import type { Pkcs11KeyStore } from './crypto/pkcs11_key_store.ts';
import { combinedKeyStore, sealedKeyStore, type CaKeyStore } from './ca/index.ts';
import { createIssuance, type Issuance } from './issuance/issuance.ts';
import { PgIssuanceStore } from './storage/issuance_store.ts';
import { certificateRoutes } from './http/routes/certificates.ts';
import { ClientCertificateService } from './client_cert/client_certificates.ts';
import { PgClientCertStore } from './storage/client_cert_store.ts';
import { clientCertificateRoutes } from './http/routes/client_certificates.ts';
import { ApprovalService } from './approvals/approvals.ts';
import { approvalKind, ProtectedSettings, SETTING_NAMES } from './settings/protected_settings.ts';
import { PersonalAccessTokenService } from './pat/personal_access_tokens.ts';
import { PgApprovalStore } from './storage/approval_store.ts';
import { PgSettingsStore, writeSetting } from './storage/settings_store.ts';
import { PgPatStore } from './storage/pat_store.ts';
import { personalAccessTokenRoutes } from './http/routes/personal_access_tokens.ts';
import { settingsRoutes } from './http/routes/settings.ts';
import { ACCEPT_APPROVAL, DeviceOnboardingService } from './devices/device_onboarding.ts';
import { KeycloakDeviceDirectory } from './keycloak/device_clients.ts';
import { applyAcceptance, PgDeviceStore } from './storage/device_store.ts';
import { deviceRoutes } from './http/routes/devices.ts';
import { sklmErrorRenderer, sklmRoutes } from './http/routes/sklm.ts';
import { auditRoutes } from './http/routes/audit.ts';
import { AuditEvents } from './audit/audit_events.ts';
import { PgAuditEventStore } from './storage/audit_event_store.ts';
import { consoleClientSecret } from './keycloak/console_client.ts';
import { publishRealmCa } from './keycloak/truststore.ts';
import { KeywardError } from './kernel/errors.ts';
import { decodeCertificate, formatRfc4514, splitPemCertificates } from './ca/index.ts';
import type { ApiClientCertificateIssuer } from './provisioning/ports.ts';
import { sessionCookies } from './http/console/cookies.ts';
import { consoleRouter, expectedOrigin } from './http/console/routes.ts';
import { ConsoleSessions } from './http/console/sessions.ts';
import { PgConsoleSessionStore } from './storage/console_session_store.ts';
import { fileURLToPath } from 'node:url';
import { createAcme, type Acme } from './acme/acme.ts';
import { acmeRouter } from './http/acme/router.ts';
import { acmeEabRoutes } from './http/acme/eab_routes.ts';
import { PgAcmeStore } from './storage/acme_store.ts';
import { IdentityFollow } from './follow/identity_follow.ts';
import { KeycloakIdentityDirectory } from './keycloak/identity_directory.ts';
import { PgFollowStore } from './storage/identity_follow_store.ts';
import { allowedNetworks, post } from './events/destination.ts';
import { WebhookDelivery } from './events/delivery.ts';
import { WebhookService } from './events/webhooks.ts';
import { webhookRoutes } from './http/routes/webhooks.ts';
import { cached } from './http/metrics.ts';
import { EXPIRY_METRICS_CACHE_MS, EXPIRY_WINDOWS_DAYS, expiryFamilies } from './http/expiry_metrics.ts';
import { PgCertificateStats } from './storage/certificate_stats.ts';
import { PgWebhookStore } from './storage/webhook_store.ts';

/** The built web console of this installation (services/console/dist), unless KEYWARD_CONSOLE_DIR says otherwise. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/dist/', import.meta.url));

export interface Keyward {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  readonly db: Database;
  readonly keycloak: AdminSession;
  readonly verifier: AccessTokenVerifier;
  readonly audit: AuditLog;
  readonly auditEvents: AuditEvents;
  readonly metrics: Metrics;
  readonly identity: KeycloakIdentityAdmin;
  readonly authz: Authorizer;
  readonly realms: RealmService;
  readonly policies: PolicyService;
  readonly apiClients: ApiClientService;
  readonly realmConfig: RealmConfigService;
  readonly issuance: Issuance;
  readonly clientCertificates: ClientCertificateService;
  readonly approvals: ApprovalService<Queryable>;
  readonly settings: ProtectedSettings;
  readonly pats: PersonalAccessTokenService;
  readonly devices: DeviceOnboardingService;
  readonly consoleSessions: ConsoleSessions;
  readonly acme: Acme;
  /** Certificates follow identity (run by the holder of the identity-sync lease every KEYWARD_IDENTITY_SYNC_SECONDS). */
  readonly identityFollow: IdentityFollow;
  readonly webhooks: WebhookService;
  readonly webhookDelivery: WebhookDelivery;
  readonly certificateStats: PgCertificateStats;
  readonly routes: readonly RouteSpec[];
  readonly app: ReturnType<typeof createApp>;
  /** Stops background work and closes the store (and the embedded database if we started it). */
  close(): Promise<void>;
}

/**
 * Opens the configured database, or starts the embedded one in development mode.
 * `bounded`: statements are bounded by KEYWARD_DATABASE_TIMEOUT_MS (the server's requests); tools such as
 * `keyward migrate` leave it off.
 */
export async function openStore(
  config: Config,
  log: Logger,
  options: { bounded?: boolean } = {},
): Promise<{ db: Database; url: string; stop: () => Promise<void>; embedded: boolean }> {
  const timeoutMs = options.bounded ? config.databaseTimeoutMs : undefined;
  if (config.databaseUrl) {
    const db = openDatabase(config.databaseUrl, { log, timeoutMs });
    return { db, url: config.databaseUrl, stop: () => db.close(), embedded: false };
  }
  if (config.mode === 'production') throw new TypeError('production mode needs KEYWARD_DATABASE_URL'); // loadConfig refuses this already
  log.warn('KEYWARD_DATABASE_URL is not set: using an embedded PostgreSQL for development', { dataDir: join(config.dataDir, 'postgres') });
  // Imported lazily: only development mode without KEYWARD_DATABASE_URL needs the embedded server.
  const { startEmbeddedPostgres } = await import('./devenv/postgres.ts');
  const pg = await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'postgres'), log: (line: string) => log.info(line) });
  const db = openDatabase(pg.url, { log, timeoutMs });
  return {
    db,
    url: pg.url,
    embedded: true,
    stop: async () => {
      await db.close();
      await pg.stop();
    },
  };
}

/** The key-encryption key: from configuration, or generated once for development. */
export function loadKek(config: Config, log: Logger): Buffer {
  if (config.kek) return Buffer.from(config.kek, 'base64');
  const file = join(config.dataDir, 'dev-kek');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  log.warn('KEYWARD_KEK is not set: CA keys are protected by a generated development key (refused in production mode)', { file });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

export interface ComposeOptions {
  readonly log: Logger;
  readonly clock?: Clock;
  /** Run migrations at start (default true). */
  readonly migrate?: boolean;
  /** Test-only: make a Keycloak step fail to prove compensation. */
  readonly faults?: IdentityAdminFaults;
}

/**
 * The PKCS#11 key store, loaded only when configured: its binding (pkcs11js, a native addon and an optional
 * dependency) may be absent where `npm ci` had no C++ toolchain.
 */
async function loadPkcs11(): Promise<typeof Pkcs11KeyStore> {
  try {
    return (await import('./crypto/pkcs11_key_store.ts')).Pkcs11KeyStore;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') || !String((err as Error).message).includes('pkcs11')) throw err;
    throw new ConfigError(
      'KEYWARD_CA_KEY_STORE',
      'is pkcs11, but the pkcs11js module is not installed (npm ci builds it when python3, make and g++ are present)',
    );
  }
}

export async function compose(config: Config, options: ComposeOptions): Promise<Keyward> {
  const log = options.log;
  const clock = options.clock ?? systemClock;
  const keycloakUrl = required(config.keycloak.url, 'KEYWARD_KEYCLOAK_URL', 'to reach Keycloak');
  const clientSecret = required(config.keycloak.clientSecret, 'KEYWARD_KEYCLOAK_CLIENT_SECRET', '(create it with: keyward bootstrap)');
  const store = await openStore(config, log, { bounded: true });
  const db = store.db;
  try {
    // Migrations may run longer than a request's statement is allowed to: on a connection of their own, unbounded.
    if (options.migrate ?? true) {
      const migrations = openDatabase(store.url, { max: 1, log });
      try {
        await migrate(migrations, log);
      } finally {
        await migrations.close();
      }
    }
  } catch (err) {
    await store.stop();
    throw err;
  }
  const keycloak = createAdminSession({
    url: keycloakUrl,
    issuerUrl: config.keycloak.issuerUrl,
    clientId: config.keycloak.clientId,
    clientSecret,
    timeoutMs: config.keycloak.timeoutMs,
  });
  const audit = new AuditLog(clock);
  const metrics = new Metrics();
  const verifier = new AccessTokenVerifier({
    keycloakUrl,
    issuerUrl: config.keycloak.issuerUrl,
    audience: config.audience,
    algorithms: config.tokenAlgorithms,
    clockSkewSeconds: config.tokenClockSkewSeconds,
    acceptsRealm: async (realm) =>
      realm === 'master' || (await db.query('SELECT 1 FROM realms WHERE name = $1 AND unmanaged_at IS NULL', [realm])).rowCount === 1,
  });

  const identity = new KeycloakIdentityAdmin(keycloak.client, config.audience, options.faults);
  const authz = new Authorizer({
    identity,
    cacheSeconds: config.roleCacheSeconds,
    graceSeconds: config.roleGraceSeconds,
    onClientRefused: (p, reason) =>
      audit
        .record(db, { action: 'api_client.token_refused', actor: auditActor(p), realm: p.realm, target: p.clientId, details: { reason } })
        .catch((err: unknown) => log.warn('could not record a refused API client token', { error: (err as Error).message })),
  });
  const provisioningStore = new PgProvisioningStore(db, audit);
  // The web console's client in each managed realm: its redirect at KEYWARD_PUBLIC_URL, its secret derived from ours.
  const realms = new RealmService(identity, provisioningStore, authz, {
    consoleClient: (realm) => ({ publicUrl: config.publicUrl, secret: consoleClientSecret(clientSecret, realm) }),
  });
  const auditEvents = new AuditEvents({
    store: new PgAuditEventStore(db),
    authz,
    realms,
    chain: { verify: () => audit.verify(db), status: () => audit.status(db) },
  });
  const policies = new PolicyService(provisioningStore, realms, authz, parsePolicy);
  // Certificates of secretless API clients come from the one issuance pipeline (bound once issuance exists).
  let issuanceForClients: Issuance | undefined;
  // Keycloak's X.509 client authenticator takes its trust anchors from the self-signed certificates of its truststore
  // (the others only help build the path; its CertificateValidator, checked on 26.7.3), so the whole chain goes into the
  // truststore and x509.casubjectdn pins the chain's anchor: the installation's root, or the realm's imported parent.
  const signingCaOf = async (realm: string) => {
    const { chain } = await issuanceForClients!.issuingCa(realm);
    if (config.keycloak.truststoreDir && publishRealmCa(config.keycloak.truststoreDir, realm, chain.join('\n')))
      log.warn("a realm's CA chain was written to Keycloak's truststore directory; Keycloak trusts it after its next restart", {
        realm,
        dir: config.keycloak.truststoreDir,
      });
    const anchor = splitPemCertificates(chain.at(-1)!)[0]!;
    const der = new Uint8Array(Buffer.from(anchor.replace(/-----[^-]+-----|\s+/g, ''), 'base64'));
    return { subjectDn: formatRfc4514(decodeCertificate(der).subject) };
  };
  const apiClientCertificates: ApiClientCertificateIssuer = {
    signingCa: signingCaOf,
    issue: async (realm, client, input) => {
      const outcome = await issuanceForClients!.issue(realm, client, input);
      if (outcome.kind !== 'issued')
        throw new KeywardError(
          'api_client.certificate_policy_invalid',
          `Policy ${input.policy} needs approval, so it cannot issue API client certificates`,
        );
      const c = outcome.certificate;
      return { serialNumber: c.serialNumber, certificate: c.certificate, chain: c.chain, notAfter: c.notAfter, subject: c.subject };
    },
  };
  const apiClients = new ApiClientService({
    identity,
    store: provisioningStore,
    realms,
    policies,
    authz,
    certificates: apiClientCertificates,
    cacheSeconds: config.roleCacheSeconds,
    graceSeconds: config.roleGraceSeconds,
  });
  const realmConfigSchema = realmConfigJsonSchema(policyJsonSchema);
  const realmConfig = new RealmConfigService(realms, policies, apiClients, realmConfigSchema);
  const kek = loadKek(config, log);
  // CSR proof-of-possession checks and CA signatures run on worker threads under load.
  const offload = sharedOffload();
  if (!isCaKeyType(config.caKeyType)) throw new TypeError(`KEYWARD_CA_KEY_TYPE ${config.caKeyType} is not a CA key type`);
  // CA keys: sealed under the KEK (default), or generated inside a PKCS#11 token; sealed keys of older CAs keep opening.
  const sealedKeys = sealedKeyStore(kek, (key) => offload.signer(key));
  let hsm: Pkcs11KeyStore | undefined;
  let caKeys: CaKeyStore = sealedKeys;
  if (config.pkcs11) {
    try {
      hsm = (await loadPkcs11()).open(config.pkcs11);
    } catch (err) {
      await store.stop();
      throw err;
    }
    caKeys = combinedKeyStore(hsm, sealedKeys);
    log.info('CA keys are generated in a PKCS#11 token', { token: hsm.tokenLabel, module: config.pkcs11.module });
  }
  const issuance = createIssuance(
    {
      store: new PgIssuanceStore(db, audit),
      realms,
      policies,
      apiClients,
      authz,
      clock,
      kek,
      signerFor: (key) => offload.signer(key),
      verifyCsr: offload.verifyCsr,
      caKeys,
    },
    {
      publicUrl: config.publicUrl,
      issuingKeyType: config.caKeyType,
      onRevoked: (realm, record) => apiClients.certificateRevoked(realm, record),
    },
  );
  issuanceForClients = issuance;
  const idempotency = new PgIdempotencyStore(db, kek);
  // Other replicas' changes drop what this process cached of them at once: OCSP answers, realms, policies.
  const changes = new ChangeListener(store.url, log)
    .on(CHANNELS.revocation, () => issuance.revocationChanged())
    .on(CHANNELS.realms, (realm) => realms.forget(realm || undefined))
    .on(CHANNELS.policies, (realm) => policies.forget(realm || undefined))
    .on(CHANNELS.cas, (realm) => issuance.casChanged(realm || undefined));
  await changes.start();
  const clientCertificates = new ClientCertificateService({
    store: new PgClientCertStore(db, audit),
    kek,
    caFor: (realm) => issuance.clientAuthCa(realm),
    realms,
    authz,
    users: identity,
    identity,
    clock,
  });
  const approvals = new ApprovalService({ store: new PgApprovalStore(db, audit), clock, ttlSeconds: config.approvalTtlSeconds });
  const settings = new ProtectedSettings({ store: new PgSettingsStore(db, audit), approvals, realms, authz });
  const pats = new PersonalAccessTokenService({ store: new PgPatStore(db, audit), settings, realms, authz, users: identity, clock, log });
  const devices = new DeviceOnboardingService({
    store: new PgDeviceStore(db, audit),
    directory: new KeycloakDeviceDirectory(keycloak.client, {
      audience: config.audience,
      truststoreDir: config.keycloak.truststoreDir,
    }),
    settings,
    approvals,
    realms,
    authz,
    clock,
    log,
    pushesPerMinute: config.devices.pushesPerMinute,
  });
  // Dual control knows no kind: each domain states the rules of its kinds, and
  // its store applies an approved effect in the transaction of the decision.
  for (const name of SETTING_NAMES) {
    approvals.register(approvalKind(name), { ...settings.approvalRules(name), apply: (q, c) => writeSetting(q, c.realm, c.name, c.value) });
  }
  approvals.register(ACCEPT_APPROVAL, { ...devices.acceptanceRules(), apply: (q, a) => applyAcceptance(q, a.device) });
  const consoleSessions = new ConsoleSessions({
    keycloakUrl,
    issuerUrl: config.keycloak.issuerUrl,
    publicUrl: config.publicUrl,
    kek,
    store: new PgConsoleSessionStore(db, audit),
    verifier,
    acceptsRealm: async (realm) => realm === 'master' || (await realms.isManaged(realm)),
    clientSecret: (realm) => consoleClientSecret(clientSecret, realm),
    idleSeconds: config.console.idleSeconds,
    lifetimeSeconds: config.console.lifetimeSeconds,
    timeoutMs: config.keycloak.timeoutMs,
    log,
  });
  const acme = createAcme(
    { store: new PgAcmeStore(db, audit, kek), issuance, authz, realms, policies, clock, log },
    {
      publicUrl: config.publicUrl,
      allowedNetworks: config.acme.allowedNetworks,
      http01Port: config.acme.http01Port,
      tlsAlpn01Port: config.acme.tlsAlpn01Port,
      dnsServer: config.acme.dnsServer,
      requestsPerMinute: config.acme.requestsPerMinute,
      termsOfService: config.acme.termsOfService,
    },
  );
  // Lifecycle webhooks: the outbox is written by the stores; one replica fans it out and delivers.
  const allowed = allowedNetworks(config.webhooks.allowedNetworks);
  const webhookStore = new PgWebhookStore(db, audit, kek, config.publicUrl);
  const webhooks = new WebhookService({ store: webhookStore, realms, authz, clock, allowed });
  const webhookDelivery = new WebhookDelivery({
    store: webhookStore,
    send: (url, headers, body) =>
      post(url, headers, body, { timeoutMs: config.webhooks.timeoutMs, allowed, userAgent: `Keyward/${VERSION}` }),
    clock,
    log,
    retry: {
      baseMs: config.webhooks.retryBaseSeconds * 1000,
      maxMs: config.webhooks.retryMaxSeconds * 1000,
      maxAttempts: config.webhooks.maxAttempts,
    },
    claimMs: config.webhooks.timeoutMs + 30_000,
  });
  const certificateStats = new PgCertificateStats(db);
  const expiryGauges = cached(EXPIRY_METRICS_CACHE_MS, async () => {
    const t = performance.now();
    const figures = await certificateStats.expiry(clock.now(), EXPIRY_WINDOWS_DAYS);
    return expiryFamilies(figures, performance.now() - t);
  });
  const consoleCookies = sessionCookies(config.publicUrl);
  const auth = new Authenticator(verifier, {
    sessions: {
      cookieName: consoleCookies.name,
      expectedOrigin: (req) => expectedOrigin(req, config.publicUrl, config.console.publicUrlSet),
      accessToken: (id) => consoleSessions.accessToken(id),
    },
    clients: authz,
    certificates: clientCertificates,
    devices,
    pats,
    clientCertHeader: config.clientCertHeader,
    trustedProxies: config.trustedProxies,
    log,
  });

  const routes: RouteSpec[] = [];
  routes.push(
    ...systemRoutes({
      metrics,
      version: VERSION,
      openapi: () => buildOpenApi(routes, VERSION),
      checks: {
        store: () => db.ping(),
        keycloak: async () => {
          const res = await fetch(`${keycloakUrl}/realms/master/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2500) });
          if (!res.ok) throw new Error(`Keycloak answered HTTP ${res.status}`);
        },
      },
      notes: {
        keycloak: () => ({ graceSeconds: config.roleGraceSeconds, servingLastKnownRoles: authz.degraded }),
      },
      gauges: () => ({
        keyward_jwks_fetches: { help: 'JWKS documents fetched since start', value: verifier.jwksFetches },
        keyward_client_state_lookups: { help: "API clients' states read from Keycloak since start", value: authz.clientLookups },
        keyward_keycloak_grace_answers: {
          help: 'Roles and client states served from the last known values while Keycloak was unreachable (KEYWARD_ROLE_GRACE_SECONDS)',
          value: authz.staleServed,
        },
        keyward_keycloak_degraded: {
          help: '1 while Keycloak is unreachable and last known roles are served',
          value: authz.degraded ? 1 : 0,
        },
      }),
      families: () =>
        expiryGauges().catch((err: unknown) => {
          log.warn('the certificate expiry metrics could not be read', { err });
          return [];
        }),
    }),
  );

  routes.push(
    ...docsRoutes(),
    ...whoamiRoutes({ auth, authz, realms }),
    ...realmRoutes({ auth, authz, realms }),
    ...apiClientRoutes({ auth, clients: apiClients, idempotency }),
    ...policyRoutes({ auth, policies, policySchema: policyJsonSchema }),
    ...realmConfigRoutes({ auth, authz, realmConfig, schema: realmConfigSchema }),
    ...certificateRoutes({ auth, issuance, idempotency }),
    ...clientCertificateRoutes({ auth, certs: clientCertificates, settings, idempotency }),
    ...personalAccessTokenRoutes({ auth, pats, idempotency }),
    ...settingsRoutes({ auth, settings, approvals }),
    ...deviceRoutes({ auth, devices, settings }),
    ...sklmRoutes({ auth, devices, defaultRealm: config.devices.defaultRealm }),
    ...auditRoutes({ auth, events: auditEvents }),
    ...acmeEabRoutes({ auth, acme }),
    ...webhookRoutes({ auth, webhooks }),
  );
  const consoleRoutes = consoleRouter({
    sessions: consoleSessions,
    publicUrl: config.publicUrl,
    publicUrlSet: config.console.publicUrlSet,
    dir: config.console.dir ?? DEFAULT_CONSOLE_DIR,
    realms: async () => (await realms.list()).map((r) => ({ name: r.name, displayName: r.displayName })),
    log,
  });
  const app = createApp({
    log,
    metrics,
    routes,
    bodyLimitBytes: config.bodyLimitBytes,
    errorRenderers: sklmErrorRenderer,
    console: consoleRoutes,
    acme: acmeRouter({ acme, publicUrl: config.publicUrl, bodyLimitBytes: config.bodyLimitBytes, log }),
  });
  // Periodic work runs on one replica at a time, task by task: the holder of the task's lease.
  const lease = (name: string) => new LeaderLease(db, { name, seconds: config.leaderLeaseSeconds, log }).start();
  const leases = {
    seal: lease('audit-seal'),
    crl: lease('crl-refresh'),
    sweep: config.patSweepSeconds > 0 ? lease('token-sweep') : undefined,
    webhooks: config.webhooks.pollSeconds > 0 ? lease('webhook-delivery') : undefined,
    expiry: config.expiry.sweepSeconds > 0 ? lease('expiry-sweep') : undefined,
    counts: lease('certificate-counts'),
  };
  const sealer = setInterval(() => {
    leases.seal.whenLeader(() => audit.seal(db)).catch((err) => log.warn('audit sealing failed; will retry', { err }));
  }, 1000);
  sealer.unref();
  // Idempotency keys older than a day go.
  const keyExpiry = setInterval(() => {
    leases.crl.whenLeader(() => idempotency.expire()).catch((err) => log.warn('expiring idempotency keys failed; will retry', { err }));
  }, 60 * 60_000);
  keyExpiry.unref();
  // Expired ACME nonces go (each is refused at its use anyway).
  const nonceExpiry = setInterval(() => {
    leases.crl.whenLeader(() => acme.expireNonces()).catch((err) => log.warn('expiring ACME nonces failed; will retry', { err }));
  }, 10 * 60_000);
  nonceExpiry.unref();
  // CRLs are re-signed on revocation and, here, before they get stale.
  const crlSchedule = setInterval(() => {
    leases.crl.whenLeader(() => issuance.refreshDueCrls()).catch((err) => log.warn('CRL refresh failed; will retry', { err }));
  }, 10 * 60_000);
  crlSchedule.unref();
  // Rotated CAs are retired once the last certificate they issued has expired (until then they sign CRLs and answer OCSP).
  const caSweep =
    config.caSweepSeconds > 0
      ? setInterval(() => {
          leases.crl
            .whenLeader(async () => {
              for (const ca of await issuance.retireCas())
                log.info('retired a rotated CA: its certificates have all expired', { id: ca.id, realm: ca.realm });
            })
            .catch((err) => log.warn('retiring rotated CAs failed; will retry', { err }));
        }, config.caSweepSeconds * 1000)
      : undefined;
  caSweep?.unref();
  // Tokens of users who lost access leave the admin view within KEYWARD_PAT_SWEEP_SECONDS; due approvals expire; ended
  // console sessions go (each is refused at its next use anyway).
  let sweeping: Promise<unknown> | undefined;
  const patSweep =
    leases.sweep &&
    setInterval(() => {
      sweeping ??= leases
        .sweep!.whenLeader(() =>
          Promise.all([
            pats.sweep().catch((err) => log.warn('personal access token sweep failed; will retry', { err })),
            approvals.expireDue().catch((err) => log.warn('approval expiry failed; will retry', { err })),
            consoleSessions.sweep().catch((err) => log.warn('console session sweep failed; will retry', { err })),
          ]),
        )
        .finally(() => {
          sweeping = undefined;
        });
    }, config.patSweepSeconds * 1000);
  patSweep?.unref();
  // Certificates follow identity: Keycloak admin events and reconciliation, on the holder of the identity-sync lease.
  const identityFollow = new IdentityFollow({
    directory: new KeycloakIdentityDirectory(keycloak.client, identity),
    store: new PgFollowStore(db, audit),
    changes: issuance.statusChanges,
    realms,
    policies,
    clock,
    log,
  });
  const identityLease = config.identitySyncSeconds > 0 ? lease('identity-sync') : undefined;
  let following: Promise<unknown> | undefined;
  const identitySync =
    identityLease &&
    setInterval(() => {
      following ??= identityLease
        .whenLeader(() => identityFollow.run())
        .catch((err) => log.warn('following identity failed; will retry', { err }))
        .finally(() => {
          following = undefined;
        });
    }, config.identitySyncSeconds * 1000);
  identitySync?.unref();
  // Webhooks: fan the outbox out and send what is due; one round at a time.
  let delivering: Promise<unknown> | undefined;
  const deliveryTimer =
    leases.webhooks &&
    setInterval(() => {
      delivering ??= leases
        .webhooks!.whenLeader(() => webhookDelivery.run())
        .catch((err) => log.warn('webhook delivery failed; will retry', { err }))
        .finally(() => {
          delivering = undefined;
        });
    }, config.webhooks.pollSeconds * 1000);
  deliveryTimer?.unref();
  // certificate.expiring, once per certificate and threshold.
  let expirySweeping: Promise<unknown> | undefined;
  const runExpirySweep = () =>
    (expirySweeping ??= leases
      .expiry!.whenLeader(async () => {
        while ((await certificateStats.sweepExpiring(clock.now(), config.expiry.thresholdsDays)) > 0);
      })
      .catch((err) => log.warn('the certificate expiry sweep failed; will retry', { err }))
      .finally(() => {
        expirySweeping = undefined;
      }));
  const expiryTimer = leases.expiry && setInterval(runExpirySweep, config.expiry.sweepSeconds * 1000);
  expiryTimer?.unref();
  // The expiry metrics' count deltas are folded every few seconds.
  const countFold = setInterval(() => {
    leases.counts
      .whenLeader(() => certificateStats.fold())
      .catch((err) => log.warn('folding certificate counts failed; will retry', { err }));
  }, 5000);
  countFold.unref();

  return {
    config,
    log,
    clock,
    db,
    keycloak,
    verifier,
    audit,
    auditEvents,
    metrics,
    identity,
    authz,
    realms,
    policies,
    apiClients,
    realmConfig,
    issuance,
    clientCertificates,
    approvals,
    settings,
    pats,
    devices,
    consoleSessions,
    acme,
    identityFollow,
    webhooks,
    webhookDelivery,
    certificateStats,
    routes,
    app,
    async close() {
      await changes.stop();
      clearInterval(deliveryTimer);
      clearInterval(expiryTimer);
      clearInterval(countFold);
      await delivering;
      await expirySweeping;
      clearInterval(sealer);
      clearInterval(crlSchedule);
      clearInterval(caSweep);
      clearInterval(keyExpiry);
      clearInterval(nonceExpiry);
      await acme.settled();
      clearInterval(patSweep);
      clearInterval(identitySync);
      await sweeping;
      await following;
      await identityLease?.stop();
      await Promise.all(Object.values(leases).map((l) => l?.stop()));
      await audit.seal(db).catch(() => 0);
      await store.stop();
      hsm?.close();
    },
  };
}
