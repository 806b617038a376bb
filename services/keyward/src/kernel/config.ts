/**
 * Keyward's one typed configuration.
 *
 * Only this module reads `process.env`. Every setting is
 * declared once in {@link SETTINGS} with its environment variable, its default
 * and a description; `keyward config --markdown` prints the table the README
 * carries. Values come from, in increasing precedence: defaults, the JSON file
 * named by `KEYWARD_CONFIG_FILE` (keys are the variable names), the
 * environment. Unknown `KEYWARD_*` variables and unknown file keys are refused,
 * so a typo never silently falls back to a default.
 */
import { existsSync, readFileSync } from 'node:fs';

export type Mode = 'development' | 'production';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  readonly mode: Mode;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly tls: { readonly certFile: string | undefined; readonly keyFile: string | undefined; readonly port: number };
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly keycloak: {
    readonly url: string | undefined;
    /** The base URL in tokens' `iss`, when it differs from `url`. */
    readonly issuerUrl: string | undefined;
    readonly clientId: string;
    readonly clientSecret: string | undefined;
    readonly adminUser: string | undefined;
    readonly adminPassword: string | undefined;
    readonly timeoutMs: number;
    /** KEYWARD_KEYCLOAK_TRUSTSTORE_DIR. */
    readonly truststoreDir?: string | undefined;
  };
  readonly audience: string;
  readonly tokenClockSkewSeconds: number;
  readonly tokenAlgorithms: readonly string[];
  readonly roleCacheSeconds: number;
  /** Stale-if-error grace for what is read from Keycloak at call time (KEYWARD_ROLE_GRACE_SECONDS). */
  readonly roleGraceSeconds: number;
  readonly kek: string | undefined;
  readonly logLevel: LogLevel;
  readonly bodyLimitBytes: number;
  readonly clientCertHeader: 'bundle' | 'proxy' | 'off';
  readonly caKeyType: string;
  readonly trustedProxies: readonly string[];
  readonly patSweepSeconds: number;
  /** Lease time of the periodic tasks' leadership (KEYWARD_LEADER_LEASE_SECONDS). */
  readonly leaderLeaseSeconds: number;
  /** Bound of one database statement (KEYWARD_DATABASE_TIMEOUT_MS). */
  readonly databaseTimeoutMs: number;
  readonly approvalTtlSeconds: number;
  /** Interval of identity following (KEYWARD_IDENTITY_SYNC_SECONDS); 0: off. */
  readonly identitySyncSeconds: number;
  readonly devices: { readonly defaultRealm: string | undefined; readonly pushesPerMinute: number };
  /** The ACME front door (RFC 8555): challenge validation's reach and ports, its DNS server, the per-account rate. */
  readonly acme: {
    readonly allowedNetworks: readonly string[];
    readonly http01Port: number;
    readonly tlsAlpn01Port: number;
    readonly dnsServer: string | undefined;
    readonly requestsPerMinute: number;
    readonly termsOfService: string | undefined;
  };
  /** The web console: its built files (undefined: the repository's services/console/dist) and session lifetimes. */
  readonly console: {
    readonly dir: string | undefined;
    readonly idleSeconds: number;
    readonly lifetimeSeconds: number;
    /** Whether KEYWARD_PUBLIC_URL was set (else the console's CSRF check compares Origin with the request's own host). */
    readonly publicUrlSet: boolean;
  };
  /** Where new CA keys are generated (KEYWARD_CA_KEY_STORE). */
  readonly caKeyStore: 'sealed' | 'pkcs11';
  /** The PKCS#11 token, when KEYWARD_CA_KEY_STORE is pkcs11. */
  readonly pkcs11:
    | {
        readonly module: string;
        readonly tokenLabel: string | undefined;
        readonly slot: number | undefined;
        readonly pin: string;
        /** KEYWARD_PKCS11_PIN or KEYWARD_PKCS11_PIN_FILE: named when the token refuses the PIN. */
        readonly pinSetting: string;
        readonly sessions: number;
      }
    | undefined;
  /** Interval of the sweep that retires rotated CAs whose certificates have all expired (KEYWARD_CA_SWEEP_SECONDS). */
  readonly caSweepSeconds: number;
  /** Lifecycle webhooks: where they may go, and how they are delivered and retried. */
  readonly webhooks: {
    readonly allowedNetworks: readonly string[];
    readonly timeoutMs: number;
    readonly retryBaseSeconds: number;
    readonly retryMaxSeconds: number;
    readonly maxAttempts: number;
    /** 0: this replica delivers none. */
    readonly pollSeconds: number;
  };
  /** The certificate.expiring sweep: its interval (0: off on this replica) and thresholds in days. */
  readonly expiry: { readonly sweepSeconds: number; readonly thresholdsDays: readonly number[] };
}

interface Setting {
  readonly env: string;
  readonly default: string | undefined;
  readonly description: string;
  /** Parses and validates the raw string; throws Error with a message that does not repeat secrets. */
  readonly parse?: (raw: string) => unknown;
  readonly secret?: boolean;
}

function int(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new Error(`must be a whole number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function oneOf<T extends string>(...values: T[]) {
  return (raw: string): T => {
    if (!(values as string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
    return raw as T;
  };
}

function url(protocols: string[]) {
  return (raw: string): string => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Error(`must be a URL (${protocols.join(' or ')})`);
    }
    if (!protocols.includes(u.protocol.replace(/:$/, ''))) throw new Error(`must be a URL (${protocols.join(' or ')})`);
    return raw.replace(/\/+$/, '');
  };
}

/** A positive number with up to four decimals (0.05 minutes is 3 s). */
function decimal(min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+(\.\d{1,4})?$/.test(raw) || n < min || n > max) throw new Error(`must be a number from ${min} to ${max}`);
    return n;
  };
}

/** A comma-separated list of CIDR ranges (IPv4 or IPv6). */
function cidrList(raw: string): string[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const c of list) {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(c);
    const v4 = m && /^\d+\.\d+\.\d+\.\d+$/.test(m[1]!);
    if (!m || Number(m[2]) > (v4 ? 32 : 128) || (!v4 && !m[1]!.includes(':')))
      throw new Error(`must be a comma-separated list of CIDR ranges; ${c} is not one`);
  }
  return list;
}

/** host:port (IPv6 in brackets). */
function hostPort(raw: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(raw) || Number(raw.split(':').pop()) > 65535)
    throw new Error('must be host:port (an IPv6 address in brackets)');
  return raw;
}

function kek(raw: string): string {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64').replace(/=+$/, '') !== raw.replace(/=+$/, '')) {
    throw new Error('must be 32 random bytes in base64 (generate one with: openssl rand -base64 32)');
  }
  return raw;
}

/** Every setting, documented next to its default. */
export const SETTINGS = [
  {
    env: 'KEYWARD_MODE',
    default: 'development',
    parse: oneOf('development', 'production'),
    description:
      'development allows convenient defaults (embedded PostgreSQL, generated key-encryption key, admin/admin bootstrap) with a loud ' +
      'warning; production refuses them.',
  },
  { env: 'KEYWARD_HOST', default: '127.0.0.1', description: 'Address the HTTP listener binds to.' },
  { env: 'KEYWARD_PORT', default: '3000', parse: int(0, 65535), description: 'HTTP port.' },
  {
    env: 'KEYWARD_PUBLIC_URL',
    default: undefined,
    parse: url(['http', 'https']),
    description:
      'Base URL clients use to reach Keyward (CRL and OCSP URLs in certificates, the web console and its login redirect; https makes ' +
      'the session cookie __Host-keyward-session). Default: http://KEYWARD_HOST:KEYWARD_PORT.',
  },
  {
    env: 'KEYWARD_TLS_CERT',
    default: undefined,
    description: 'PEM certificate (chain) of the HTTPS listener; HTTPS is on when this and KEYWARD_TLS_KEY are set.',
  },
  { env: 'KEYWARD_TLS_KEY', default: undefined, description: 'PEM private key of the HTTPS listener.', secret: false },
  { env: 'KEYWARD_TLS_PORT', default: '3443', parse: int(0, 65535), description: 'HTTPS port.' },
  {
    env: 'KEYWARD_DATABASE_URL',
    default: undefined,
    parse: url(['postgres', 'postgresql']),
    secret: true,
    description: 'PostgreSQL connection URL. Unset: an embedded PostgreSQL under KEYWARD_DATA_DIR (development mode only).',
  },
  {
    env: 'KEYWARD_DATABASE_TIMEOUT_MS',
    default: '10000',
    parse: int(100, 600000),
    description:
      'Longest a database statement may run (PostgreSQL cancels it; the client gives up 5 s later when the server does not ' +
      'answer at all) and, at most 5 s of it, the wait for a connection: past that a request answers 503 store.unavailable.',
  },
  {
    env: 'KEYWARD_DATA_DIR',
    default: undefined,
    description:
      'Directory for the embedded PostgreSQL and the generated development key. Default: $XDG_DATA_HOME/keyward or ~/.local/share/keyward.',
  },
  {
    env: 'KEYWARD_KEYCLOAK_URL',
    default: undefined,
    parse: url(['http', 'https']),
    description: 'Base URL of Keycloak (e.g. http://127.0.0.1:8080). Required by serve and every command that talks to Keycloak.',
  },
  {
    env: 'KEYWARD_KEYCLOAK_ISSUER_URL',
    default: undefined,
    parse: url(['http', 'https']),
    description:
      "Keycloak's public base URL as it appears in tokens' iss (its --hostname), when Keyward reaches Keycloak at another address (a " +
      'cluster-internal service, say). Default: KEYWARD_KEYCLOAK_URL.',
  },
  {
    env: 'KEYWARD_KEYCLOAK_TRUSTSTORE_DIR',
    default: undefined,
    description:
      "A directory in Keycloak's --truststore-paths: Keyward writes there the PEM of each realm's CA that signs certificate " +
      "API clients' certificates (keyward-<realm>.pem) when such a client is made. Keycloak reads its truststore at start: " +
      'restart it after a new realm CA appears (or put the PEMs in place before). Default: not written.',
  },
  {
    env: 'KEYWARD_KEYCLOAK_CLIENT_ID',
    default: 'keyward-control-plane',
    description: "Keyward's own confidential client in the master realm (created by `keyward bootstrap`).",
  },
  {
    env: 'KEYWARD_KEYCLOAK_CLIENT_SECRET',
    default: undefined,
    secret: true,
    description: 'Secret of that client (printed or written by `keyward bootstrap`).',
  },
  {
    env: 'KEYWARD_KEYCLOAK_ADMIN_USER',
    default: undefined,
    description: "Keycloak admin used only by `keyward bootstrap` to create Keyward's client. Development default: admin.",
  },
  {
    env: 'KEYWARD_KEYCLOAK_ADMIN_PASSWORD',
    default: undefined,
    secret: true,
    description: 'Password of that admin. Development default: admin; refused in production.',
  },
  { env: 'KEYWARD_KEYCLOAK_TIMEOUT_MS', default: '10000', parse: int(100, 600000), description: 'Timeout of one call to Keycloak.' },
  { env: 'KEYWARD_AUDIENCE', default: 'keyward', description: 'Audience that access tokens must carry.' },
  { env: 'KEYWARD_TOKEN_CLOCK_SKEW_SECONDS', default: '5', parse: int(0, 300), description: 'Tolerated clock skew for exp/nbf/iat.' },
  {
    env: 'KEYWARD_TOKEN_ALGORITHMS',
    default: 'RS256,PS256,ES256,ES384,EdDSA',
    parse: (raw: string) => {
      const algs = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const allowed = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
      const bad = algs.filter((a) => !allowed.includes(a));
      if (algs.length === 0 || bad.length > 0) throw new Error(`must list asymmetric JWS algorithms from ${allowed.join(', ')}`);
      return algs;
    },
    description: 'Allow-list of JWS algorithms for access tokens (asymmetric only; none and HMAC are never accepted).',
  },
  {
    env: 'KEYWARD_ROLE_CACHE_SECONDS',
    default: '10',
    parse: int(0, 3600),
    description:
      'How long roles and cross-realm grants read from Keycloak are cached: the bounded staleness of a change made in the console.',
  },
  {
    env: 'KEYWARD_ROLE_GRACE_SECONDS',
    default: '300',
    parse: int(0, 86400),
    description:
      'While Keycloak is unreachable, how long past KEYWARD_ROLE_CACHE_SECONDS the last known roles, grants, client states and default ' +
      'policies are still used (0: none; calls that need them answer 503).',
  },
  {
    env: 'KEYWARD_KEK',
    default: undefined,
    parse: kek,
    secret: true,
    description:
      'Key-encryption key (32 bytes, base64) protecting CA private keys. Development default: generated once under KEYWARD_DATA_DIR; ' +
      'required in production.',
  },
  { env: 'KEYWARD_LOG_LEVEL', default: 'info', parse: oneOf('debug', 'info', 'warn', 'error'), description: 'Minimum log level.' },
  { env: 'KEYWARD_BODY_LIMIT_BYTES', default: '65536', parse: int(1024, 10485760), description: 'Largest accepted request body.' },
  {
    env: 'KEYWARD_CLIENT_CERT_HEADER',
    default: 'bundle',
    parse: oneOf('bundle', 'proxy', 'off'),
    description:
      'X-Client-Certificate header: bundle = the downloaded .pem (certificate and its private key) from anywhere, certificate alone ' +
      'only from KEYWARD_TRUSTED_PROXIES; proxy = only from those proxies; off = ignored.',
  },
  {
    env: 'KEYWARD_TRUSTED_PROXIES',
    default: '',
    parse: (raw: string) => {
      const list = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const c of list)
        if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(c))
          throw new Error(`must be a comma-separated list of IP addresses or CIDR ranges ("${c}" is not)`);
      return list;
    },
    description:
      'TLS-terminating proxies whose X-Client-Certificate header (URL-encoded PEM, as nginx $ssl_client_escaped_cert) is trusted.',
  },
  {
    env: 'KEYWARD_CA_KEY_TYPE',
    default: 'EC-P256',
    parse: oneOf('EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096'),
    description: 'Key type of new issuing and client-authentication CAs (existing CAs keep theirs). The Keyward root is ECDSA P-384.',
  },
  {
    env: 'KEYWARD_PAT_SWEEP_SECONDS',
    default: '60',
    parse: int(0, 86400),
    description:
      'Interval of the background sweep that deletes the personal access tokens of users who lost access (deleted or disabled in ' +
      'Keycloak, or holding no keyward-* role) and expires due approvals: the longest such a token stays in the admin view. 0 turns the ' +
      'sweep off (tokens are still refused at their next use).',
  },
  {
    env: 'KEYWARD_LEADER_LEASE_SECONDS',
    default: '15',
    parse: int(3, 600),
    description:
      'Periodic work (audit sealing, CRL refresh, token sweeps) runs on one replica at a time per task, the holder of a ' +
      'lease in PostgreSQL renewed every third of this; a replica that dies or stalls is replaced within this time.',
  },
  {
    env: 'KEYWARD_IDENTITY_SYNC_SECONDS',
    default: '30',
    parse: int(0, 86400),
    description:
      'Interval at which certificates follow identity: one replica reads the Keycloak admin events of each managed realm and ' +
      'revokes, holds or releases the certificates of requesters deleted or disabled in Keycloak and of revoked cross-realm ' +
      'grants, as their policies say; every tenth run (and the first of a replica taking the task over) also reconciles every ' +
      'requester with Keycloak. 0 turns it off.',
  },
  {
    env: 'KEYWARD_APPROVAL_TTL_SECONDS',
    default: '86400',
    parse: int(1, 2592000),
    description: 'How long a change proposed under dual control waits for a second admin before it expires (default 24 h).',
  },
  {
    env: 'KEYWARD_DEVICE_DEFAULT_REALM',
    default: undefined,
    description:
      'Realm served by the SKLM-compatible device onboarding path /SKLM/rest/v1/pendingClientCertificates (unset: that path answers 404).',
  },
  {
    env: 'KEYWARD_DEVICE_PUSH_RATE',
    default: '30',
    parse: int(1, 100000),
    description:
      'Device certificate pushes (TLS hello or upload) accepted per minute from one source address, per server process; more get 429 ' +
      'device.rate_limited.',
  },
  {
    env: 'KEYWARD_CONSOLE_DIR',
    default: undefined,
    description: 'Directory of the built web console served at /console/. Default: services/console/dist of the installation.',
  },
  {
    env: 'KEYWARD_CONSOLE_SESSION_IDLE_MINUTES',
    default: '30',
    parse: decimal(0.01, 1440),
    description: 'A web console session without a request for this long ends (fractions allowed).',
  },
  {
    env: 'KEYWARD_CONSOLE_SESSION_HOURS',
    default: '10',
    parse: decimal(0.0001, 720),
    description: 'A web console session ends this long after its login, however active (fractions allowed).',
  },
  {
    env: 'KEYWARD_WEBHOOK_ALLOWED_NETWORKS',
    default: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7',
    parse: (raw: string) => {
      const list = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const c of list)
        if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(c))
          throw new Error(`must be a comma-separated list of IP addresses or CIDR ranges ("${c}" is not)`);
      return list;
    },
    description:
      'Networks (CIDR, comma-separated) webhooks may be sent to; every address a webhook host resolves to is checked when it is ' +
      'saved and at each connection. The default is the private networks (RFC 1918, RFC 4193): loopback, link-local (cloud ' +
      'metadata) and public addresses are refused until listed (0.0.0.0/0,::/0 allows all).',
  },
  {
    env: 'KEYWARD_WEBHOOK_TIMEOUT_MS',
    default: '10000',
    parse: int(100, 120000),
    description: 'Time one webhook attempt may take (connection, request and answer); longer counts as a failed attempt.',
  },
  {
    env: 'KEYWARD_WEBHOOK_RETRY_BASE_SECONDS',
    default: '30',
    parse: decimal(0.01, 86400),
    description: 'Wait after the first failed webhook attempt; it doubles after each further one (±20 % jitter), up to the cap below.',
  },
  {
    env: 'KEYWARD_WEBHOOK_RETRY_MAX_SECONDS',
    default: '3600',
    parse: decimal(0.01, 86400),
    description: 'Longest wait between two attempts of a webhook delivery.',
  },
  {
    env: 'KEYWARD_WEBHOOK_MAX_ATTEMPTS',
    default: '15',
    parse: int(1, 1000),
    description: 'Attempts of one webhook delivery before it is marked failed (it stays in the delivery log and can be redelivered).',
  },
  {
    env: 'KEYWARD_WEBHOOK_POLL_SECONDS',
    default: '1',
    parse: decimal(0, 3600),
    description:
      'How often the replica holding the webhook-delivery lease reads the event outbox and sends due deliveries; 0: this replica ' +
      'never delivers webhooks.',
  },
  {
    env: 'KEYWARD_EXPIRY_SWEEP_SECONDS',
    default: '600',
    parse: int(0, 86400),
    description:
      'Interval of the sweep that records certificate.expiring events for valid certificates entering a threshold (one replica, ' +
      'the holder of its lease); 0 turns it off on this replica.',
  },
  {
    env: 'KEYWARD_EXPIRY_THRESHOLDS_DAYS',
    default: '30,7',
    parse: (raw: string) => {
      const list = raw.split(',').map((s) => s.trim());
      if (!list.length || list.some((d) => !/^\d{1,4}$/.test(d) || Number(d) < 1))
        throw new Error('must be a comma-separated list of whole numbers of days (e.g. 30,7)');
      return [...new Set(list.map(Number))].sort((a, b) => b - a);
    },
    description: 'Days before expiry at which certificate.expiring is sent, once per certificate and threshold.',
  },
  { env: 'KEYWARD_CONFIG_FILE', default: undefined, description: 'Optional JSON file whose keys are these variable names.' },
  {
    env: 'KEYWARD_ACME_ALLOWED_NETWORKS',
    default: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128,fc00::/7',
    parse: cidrList,
    description:
      'CIDR ranges ACME challenge validation (http-01, tls-alpn-01) may connect to; a name resolving elsewhere fails validation. The ' +
      'default, private (RFC 1918, RFC 4193) and loopback ranges, suits an internal CA and keeps validation off the internet.',
  },
  {
    env: 'KEYWARD_ACME_HTTP01_PORT',
    default: '80',
    parse: int(1, 65535),
    description:
      "Port ACME http-01 validation connects to (RFC 8555 §8.3 says 80; another port for tests, as Pebble's httpPort setting allows).",
  },
  {
    env: 'KEYWARD_ACME_TLSALPN01_PORT',
    default: '443',
    parse: int(1, 65535),
    description:
      "Port ACME tls-alpn-01 validation connects to (RFC 8737 says 443; another port for tests, as Pebble's tlsPort setting allows).",
  },
  {
    env: 'KEYWARD_ACME_DNS_SERVER',
    default: undefined,
    parse: hostPort,
    description:
      'DNS server (host:port) for ACME dns-01 TXT lookups and for resolving names to validate (like Pebble -dnsserver). Default: the ' +
      "system's resolvers.",
  },
  {
    env: 'KEYWARD_ACME_RATE',
    default: '300',
    parse: int(1, 1000000),
    description: 'Signed ACME requests accepted per account and minute, per server process; more answer rateLimited with Retry-After.',
  },
  {
    env: 'KEYWARD_ACME_TERMS_OF_SERVICE',
    default: undefined,
    parse: url(['http', 'https']),
    description: "URL of the terms of service shown in the ACME directory's meta (unset: none).",
  },
  {
    env: 'KEYWARD_CA_KEY_STORE',
    default: 'sealed',
    parse: oneOf('sealed', 'pkcs11'),
    description:
      'Where new CA keys are generated: sealed = in Keyward, stored envelope-encrypted under KEYWARD_KEK in PostgreSQL; pkcs11 = inside ' +
      'the PKCS#11 token of the KEYWARD_PKCS11_* settings (never extractable; the database keeps only the token label and key id). CAs ' +
      'made before a switch keep their keys.',
  },
  {
    env: 'KEYWARD_PKCS11_MODULE',
    default: undefined,
    description: 'Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). Required when KEYWARD_CA_KEY_STORE is pkcs11.',
  },
  {
    env: 'KEYWARD_PKCS11_TOKEN_LABEL',
    default: undefined,
    description: 'Label of the token that holds the CA keys (or give KEYWARD_PKCS11_SLOT).',
  },
  {
    env: 'KEYWARD_PKCS11_SLOT',
    default: undefined,
    parse: int(0, 4294967295),
    description: 'Slot id of that token, as `pkcs11-tool --list-slots` shows it, when no token label is given.',
  },
  {
    env: 'KEYWARD_PKCS11_PIN',
    default: undefined,
    secret: true,
    description: "The token's user PIN (or give KEYWARD_PKCS11_PIN_FILE).",
  },
  {
    env: 'KEYWARD_PKCS11_PIN_FILE',
    default: undefined,
    description: "File whose first line is the token's user PIN (a mounted secret, say).",
  },
  {
    env: 'KEYWARD_PKCS11_SESSIONS',
    default: '4',
    parse: int(1, 256),
    description: 'PKCS#11 sessions opened for signing at once (certificates, CRLs, OCSP): the signing concurrency the token is given.',
  },
  {
    env: 'KEYWARD_CA_SWEEP_SECONDS',
    default: '3600',
    parse: int(0, 86400),
    description:
      'Interval of the sweep (on the leader) that marks a rotated, retiring CA retired once the last certificate it issued has ' +
      'expired; until then it keeps signing CRLs and answering OCSP. 0 turns the sweep off.',
  },
] as const satisfies readonly Setting[];

/** Settings of the `keyward` command line when it talks to a Keyward server (read by cli/api.ts). */
export const CLI_SETTINGS = [
  { env: 'KEYWARD_URL', default: 'http://127.0.0.1:3000', description: 'The Keyward server the CLI talks to.' },
  {
    env: 'KEYWARD_TOKEN',
    default: undefined,
    description: 'An access token to send (else the CLI gets one with the client credentials below).',
  },
  {
    env: 'KEYWARD_CLIENT_ID',
    default: undefined,
    description: 'API client the CLI authenticates as (client credentials against KEYWARD_KEYCLOAK_URL).',
  },
  { env: 'KEYWARD_CLIENT_SECRET', default: undefined, description: 'Its secret.' },
  { env: 'KEYWARD_CLIENT_REALM', default: 'master', description: 'Its realm (master for operators).' },
] as const;

/** Variables read by the tooling around Keyward (harness, scripts, CLI), not by the server; accepted silently. */
const TOOLING_VARIABLES = new Set([
  ...CLI_SETTINGS.map((s) => s.env),
  'KEYWARD_NODE_QUIET',
  'KEYWARD_KEYCLOAK_VERSION',
  'KEYWARD_CACHE_DIR',
  'KEYWARD_JAVA_HOME',
  'KEYWARD_TEST_DATABASE_URL',
  'KEYWARD_KEYCLOAK_PORT',
  'KEYWARD_NODE_VERSION',
  'KEYWARD_BENCH_QUICK',
  'KEYWARD_BENCH_NODE_OPTIONS',
  'KEYWARD_KEYCLOAK_HTTPS_PORT',
]);

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.variable = variable;
    this.name = 'ConfigError';
  }
}

type Raw = Record<string, string | undefined>;

/**
 * Loads and validates the configuration once; the result is frozen.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError naming the variable
 */
export function loadConfig(env: Raw = process.env, overrides: Raw = {}): Config {
  const known = new Set<string>(SETTINGS.map((s) => s.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith('KEYWARD_') && !known.has(name) && !TOOLING_VARIABLES.has(name)) {
      throw new ConfigError(name, `is not a Keyward setting (known settings: keyward config)`);
    }
  }
  const file: Raw = {};
  const fileName = overrides.KEYWARD_CONFIG_FILE ?? env.KEYWARD_CONFIG_FILE;
  if (fileName) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(fileName, 'utf8'));
    } catch (err) {
      throw new ConfigError('KEYWARD_CONFIG_FILE', `could not be read as JSON: ${(err as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new ConfigError('KEYWARD_CONFIG_FILE', 'must hold a JSON object');
    for (const [k, v] of Object.entries(parsed)) {
      if (!known.has(k)) throw new ConfigError('KEYWARD_CONFIG_FILE', `has unknown key ${k}`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new ConfigError(k, 'in KEYWARD_CONFIG_FILE must be a string or number');
      file[k] = String(v);
    }
  }
  const values: Record<string, unknown> = {};
  for (const s of SETTINGS as readonly Setting[]) {
    const raw = overrides[s.env] ?? env[s.env] ?? file[s.env];
    const chosen = raw === undefined || raw === '' ? s.default : raw;
    if (chosen === undefined) {
      values[s.env] = undefined;
      continue;
    }
    try {
      values[s.env] = s.parse ? s.parse(chosen) : chosen;
    } catch (err) {
      throw new ConfigError(s.env, (err as Error).message);
    }
  }
  const v = values as Record<string, never>;
  const mode = v.KEYWARD_MODE as Mode;
  const host = v.KEYWARD_HOST as string;
  const port = v.KEYWARD_PORT as number;
  const home = env.HOME ?? '/tmp';
  const dataDir = (v.KEYWARD_DATA_DIR as string | undefined) ?? `${env.XDG_DATA_HOME ?? `${home}/.local/share`}/keyward`;
  const tlsCert = v.KEYWARD_TLS_CERT as string | undefined;
  const tlsKey = v.KEYWARD_TLS_KEY as string | undefined;
  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    throw new ConfigError(tlsCert ? 'KEYWARD_TLS_KEY' : 'KEYWARD_TLS_CERT', 'must be set together with the other TLS setting');
  }
  const config: Config = {
    mode,
    host,
    port,
    publicUrl: (v.KEYWARD_PUBLIC_URL as string | undefined) ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { certFile: tlsCert, keyFile: tlsKey, port: v.KEYWARD_TLS_PORT as number },
    databaseUrl: v.KEYWARD_DATABASE_URL,
    databaseTimeoutMs: v.KEYWARD_DATABASE_TIMEOUT_MS,
    dataDir,
    keycloak: {
      url: v.KEYWARD_KEYCLOAK_URL,
      issuerUrl: v.KEYWARD_KEYCLOAK_ISSUER_URL,
      clientId: v.KEYWARD_KEYCLOAK_CLIENT_ID,
      clientSecret: v.KEYWARD_KEYCLOAK_CLIENT_SECRET,
      adminUser: (v.KEYWARD_KEYCLOAK_ADMIN_USER as string | undefined) ?? (mode === 'development' ? 'admin' : undefined),
      adminPassword: (v.KEYWARD_KEYCLOAK_ADMIN_PASSWORD as string | undefined) ?? (mode === 'development' ? 'admin' : undefined),
      timeoutMs: v.KEYWARD_KEYCLOAK_TIMEOUT_MS,
      truststoreDir: v.KEYWARD_KEYCLOAK_TRUSTSTORE_DIR as string | undefined,
    },
    audience: v.KEYWARD_AUDIENCE,
    tokenClockSkewSeconds: v.KEYWARD_TOKEN_CLOCK_SKEW_SECONDS,
    tokenAlgorithms: Object.freeze([...(v.KEYWARD_TOKEN_ALGORITHMS as string[])]),
    roleCacheSeconds: v.KEYWARD_ROLE_CACHE_SECONDS,
    roleGraceSeconds: v.KEYWARD_ROLE_GRACE_SECONDS,
    kek: v.KEYWARD_KEK,
    logLevel: v.KEYWARD_LOG_LEVEL,
    bodyLimitBytes: v.KEYWARD_BODY_LIMIT_BYTES,
    clientCertHeader: v.KEYWARD_CLIENT_CERT_HEADER,
    caKeyType: v.KEYWARD_CA_KEY_TYPE,
    trustedProxies: Object.freeze([...((v.KEYWARD_TRUSTED_PROXIES as string[] | undefined) ?? [])]),
    patSweepSeconds: v.KEYWARD_PAT_SWEEP_SECONDS,
    leaderLeaseSeconds: v.KEYWARD_LEADER_LEASE_SECONDS,
    approvalTtlSeconds: v.KEYWARD_APPROVAL_TTL_SECONDS,
    identitySyncSeconds: v.KEYWARD_IDENTITY_SYNC_SECONDS,
    devices: { defaultRealm: v.KEYWARD_DEVICE_DEFAULT_REALM, pushesPerMinute: v.KEYWARD_DEVICE_PUSH_RATE },
    acme: {
      allowedNetworks: Object.freeze([...(v.KEYWARD_ACME_ALLOWED_NETWORKS as string[])]),
      http01Port: v.KEYWARD_ACME_HTTP01_PORT,
      tlsAlpn01Port: v.KEYWARD_ACME_TLSALPN01_PORT,
      dnsServer: v.KEYWARD_ACME_DNS_SERVER,
      requestsPerMinute: v.KEYWARD_ACME_RATE,
      termsOfService: v.KEYWARD_ACME_TERMS_OF_SERVICE,
    },
    console: {
      dir: v.KEYWARD_CONSOLE_DIR,
      idleSeconds: Math.round((v.KEYWARD_CONSOLE_SESSION_IDLE_MINUTES as number) * 60),
      lifetimeSeconds: Math.round((v.KEYWARD_CONSOLE_SESSION_HOURS as number) * 3600),
      publicUrlSet: v.KEYWARD_PUBLIC_URL !== undefined,
    },
    caKeyStore: v.KEYWARD_CA_KEY_STORE,
    pkcs11: v.KEYWARD_CA_KEY_STORE === 'pkcs11' ? pkcs11Settings(v) : undefined,
    caSweepSeconds: v.KEYWARD_CA_SWEEP_SECONDS,
    webhooks: {
      allowedNetworks: Object.freeze([...(v.KEYWARD_WEBHOOK_ALLOWED_NETWORKS as string[])]),
      timeoutMs: v.KEYWARD_WEBHOOK_TIMEOUT_MS,
      retryBaseSeconds: v.KEYWARD_WEBHOOK_RETRY_BASE_SECONDS,
      retryMaxSeconds: v.KEYWARD_WEBHOOK_RETRY_MAX_SECONDS,
      maxAttempts: v.KEYWARD_WEBHOOK_MAX_ATTEMPTS,
      pollSeconds: v.KEYWARD_WEBHOOK_POLL_SECONDS,
    },
    expiry: {
      sweepSeconds: v.KEYWARD_EXPIRY_SWEEP_SECONDS,
      thresholdsDays: Object.freeze([...(v.KEYWARD_EXPIRY_THRESHOLDS_DAYS as number[])]),
    },
  };
  if (mode === 'production') {
    if (!config.databaseUrl)
      throw new ConfigError('KEYWARD_DATABASE_URL', 'is required in production mode (the embedded PostgreSQL is for development)');
    if (!config.kek) throw new ConfigError('KEYWARD_KEK', 'is required in production mode');
    if (config.keycloak.adminPassword === 'admin')
      throw new ConfigError('KEYWARD_KEYCLOAK_ADMIN_PASSWORD', 'must not be the development password in production mode');
  }
  return deepFreeze(config);
}

/** The KEYWARD_PKCS11_* settings, checked together; the PIN file is read here. */
function pkcs11Settings(v: Record<string, never>): Config['pkcs11'] {
  const module = v.KEYWARD_PKCS11_MODULE as string | undefined;
  if (!module) throw new ConfigError('KEYWARD_PKCS11_MODULE', 'is required when KEYWARD_CA_KEY_STORE is pkcs11');
  if (!existsSync(module)) throw new ConfigError('KEYWARD_PKCS11_MODULE', `names ${module}, which does not exist`);
  const tokenLabel = v.KEYWARD_PKCS11_TOKEN_LABEL as string | undefined;
  const slot = v.KEYWARD_PKCS11_SLOT as number | undefined;
  if (tokenLabel === undefined && slot === undefined)
    throw new ConfigError('KEYWARD_PKCS11_TOKEN_LABEL', 'or KEYWARD_PKCS11_SLOT is required when KEYWARD_CA_KEY_STORE is pkcs11');
  if (tokenLabel !== undefined && slot !== undefined)
    throw new ConfigError('KEYWARD_PKCS11_SLOT', 'must not be set together with KEYWARD_PKCS11_TOKEN_LABEL (give one of them)');
  const pinFile = v.KEYWARD_PKCS11_PIN_FILE as string | undefined;
  let pin = v.KEYWARD_PKCS11_PIN as string | undefined;
  if (pin !== undefined && pinFile !== undefined)
    throw new ConfigError('KEYWARD_PKCS11_PIN_FILE', 'must not be set together with KEYWARD_PKCS11_PIN (give one of them)');
  if (pinFile !== undefined) {
    try {
      pin = readFileSync(pinFile, 'utf8').split(/\r?\n/)[0]!;
    } catch (err) {
      throw new ConfigError(
        'KEYWARD_PKCS11_PIN_FILE',
        `names ${pinFile}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  if (!pin) throw new ConfigError('KEYWARD_PKCS11_PIN', 'or KEYWARD_PKCS11_PIN_FILE is required when KEYWARD_CA_KEY_STORE is pkcs11');
  return {
    module,
    tokenLabel,
    slot,
    pin,
    pinSetting: pinFile !== undefined ? 'KEYWARD_PKCS11_PIN_FILE' : 'KEYWARD_PKCS11_PIN',
    sessions: v.KEYWARD_PKCS11_SESSIONS,
  };
}

/** Requires a setting that is optional in general but needed by one command. */
export function required<T>(value: T | undefined, variable: string, why: string): T {
  if (value === undefined || value === '') throw new ConfigError(variable, `is required ${why}`);
  return value;
}

/** The settings table for the README (`keyward config --markdown`). */
export function settingsMarkdown(): string {
  const rows = (SETTINGS as readonly Setting[]).map(
    (s) => `| \`${s.env}\` | ${s.default === undefined ? '—' : `\`${s.default}\``} | ${s.description} |`,
  );
  const cli = CLI_SETTINGS.map((s) => `| \`${s.env}\` | ${s.default === undefined ? '—' : `\`${s.default}\``} | ${s.description} |`);
  return [
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
    'Command-line client settings:',
    '',
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...cli,
  ].join('\n');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
