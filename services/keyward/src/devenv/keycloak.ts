/**
 * A real Keycloak for the demo (`scripts/up`), the integration tests and the
 * benchmarks, chosen in this order:
 *  a. an existing server named by KEYWARD_KEYCLOAK_URL (probed; never stopped by us);
 *  b. a Docker engine, if one answers (testcontainers, the official image; it has no
 *     TLS listener, so a start that asks for one goes to c first when Java is found);
 *  c. the official distribution org.keycloak:keycloak-quarkus-dist, fetched once
 *     with Maven (`-C`: the repository checksums must match; we also record the
 *     tarball's SHA-256 in the cache and check it whenever the tarball is used),
 *     pre-built once with `kc.sh build`, started with `start --optimized` on
 *     loopback in its own KC_HOME (a hard-link copy of the built distribution).
 *
 * No orphaned JVM: Keycloak runs in its own process group; stop() ends the group
 * (SIGTERM, then SIGKILL after 15 s); process 'exit', SIGINT and SIGTERM end it
 * too; and a detached watchdog shell ends it when this Node process dies by any
 * means, SIGKILL included.
 *
 * Facts used here (Keycloak's server guides on configuration and hostname, and
 * its `bin/kc.sh`; checked on 26.7.3):
 * build options (db, health, metrics) are persisted by `build`; `start
 * --optimized` skips the re-augmentation check; `JAVA_OPTS` would replace all
 * of kc.sh's defaults, so only `JAVA_OPTS_KC_HEAP` is set; the issuer follows
 * `--hostname`, so the URL we return is exactly the one in `iss`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  createReadStream,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { findJava, type JavaHome } from './java.ts';
import { assertPortFree, freePort } from './ports.ts';
import { alive, sleep } from './process.ts';

/** The pinned Keycloak version (Maven Central serves it; Java 25 supported since 26.6). */
export const DEFAULT_KEYCLOAK_VERSION = '26.7.3';

/** Heap for the dev/test JVM: 256 MB OOMs at start-up on 26.5+, 768 MB (~1 GB RSS) suits 2 cores. */
const HEAP = '-Xms256m -Xmx768m';
const COLD_TIMEOUT_MS = 300_000;
const WARM_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 15_000;

export interface KeycloakHandle {
  /** Base URL, also the issuer prefix: `${url}/realms/<realm>`. */
  readonly url: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly source: 'external' | 'docker' | 'distribution';
  /** The TLS listener (`https://127.0.0.1:<port>`), when {@link StartKeycloakOptions.https} asked for one. */
  readonly httpsUrl?: string | undefined;
  /** Keycloak's stdout and stderr (distribution only). */
  readonly logFile?: string | undefined;
  /** Stops what this handle started (a no-op for an external server). Idempotent. */
  stop(): Promise<void>;
}

export interface StartKeycloakOptions {
  /** HTTP port; 0 or undefined: a free loopback port. */
  readonly port?: number | undefined;
  /** Named in the error when `port` is taken (default KEYWARD_KEYCLOAK_PORT). */
  readonly portVariable?: string | undefined;
  /**
   * Keep the instance (its KC_HOME with the H2 data) in this directory across
   * runs, so realms survive (the demo). Default: a fresh directory removed at stop (tests).
   */
  readonly persistentDir?: string | undefined;
  /** Progress lines (downloading…, building…, ready in N s). */
  readonly log?: ((line: string) => void) | undefined;
  /** Bootstrap admin (default KEYWARD_KEYCLOAK_ADMIN_USER / _PASSWORD, else admin/admin). Applies when the instance is new. */
  readonly adminUser?: string | undefined;
  readonly adminPassword?: string | undefined;
  /**
   * A TLS listener beside the plain HTTP one (distribution only; without it nothing changes), for clients that
   * authenticate with certificates (Keycloak's `client-x509`, RFC 8705 §2) and get certificate-bound tokens (§3).
   */
  readonly https?: KeycloakHttpsOptions | undefined;
}

/**
 * Keycloak's TLS listener (its server guides "Configuring TLS" and "Configuring trusted certificates for mTLS", checked
 * on 26.7.3): `--https-port`, `--https-certificate-file`/`--https-certificate-key-file` (PEM), `--https-client-auth`
 * and `--truststore-paths` (PEM or PKCS#12 files, or directories scanned recursively, read at start and used as the
 * system truststore, which mTLS uses when no `--https-trust-store-file` is given). The management interface stays on
 * plain HTTP (`--http-management-scheme=http`) so that health probes need no client certificate.
 */
export interface KeycloakHttpsOptions {
  /** HTTPS port; 0 or undefined: a free loopback port. */
  readonly port?: number | undefined;
  /** Named in the error when `port` is taken (default KEYWARD_KEYCLOAK_HTTPS_PORT). */
  readonly portVariable?: string | undefined;
  /** The server certificate (PEM, the chain after it) and its private key (PEM). */
  readonly certificateFile: string;
  readonly keyFile: string;
  /** `request` (default): a client certificate is asked for and checked when sent; `required`; `none`. */
  readonly clientAuth?: 'none' | 'request' | 'required' | undefined;
  /** PEM files or directories of CA certificates Keycloak trusts for client certificates (e.g. KEYWARD_KEYCLOAK_TRUSTSTORE_DIR). */
  readonly truststorePaths?: readonly string[] | undefined;
}

/** The `kc.sh start` arguments of {@link KeycloakHttpsOptions}. */
export function httpsArguments(https: KeycloakHttpsOptions, port: number): string[] {
  return [
    `--https-port=${port}`,
    `--https-certificate-file=${https.certificateFile}`,
    `--https-certificate-key-file=${https.keyFile}`,
    `--https-client-auth=${https.clientAuth ?? 'request'}`, // also built in: see prepareDistribution
    ...(https.truststorePaths?.length ? [`--truststore-paths=${https.truststorePaths.join(',')}`] : []),
    '--http-management-scheme=http',
  ];
}

/** `${KEYWARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward}`: outside the repository, shared by checkouts. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEYWARD_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'keyward');
}

/** KEYWARD_KEYCLOAK_VERSION, else {@link DEFAULT_KEYCLOAK_VERSION}. */
export function keycloakVersion(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.KEYWARD_KEYCLOAK_VERSION || DEFAULT_KEYCLOAK_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(v))
    throw new Error(`KEYWARD_KEYCLOAK_VERSION=${v} is not a release version like ${DEFAULT_KEYCLOAK_VERSION}`);
  return v;
}

const seconds = (since: number) => Math.round((Date.now() - since) / 1000);

/**
 * Starts (or finds) a Keycloak: KEYWARD_KEYCLOAK_URL, else Docker, else the
 * distribution. Resolves when the master realm answers.
 *
 * @example
 * const kc = await startKeycloak({ log: (l) => console.error(l) });
 * try { await fetch(`${kc.url}/realms/master`); } finally { await kc.stop(); }
 */
export async function startKeycloak(options: StartKeycloakOptions = {}): Promise<KeycloakHandle> {
  const log = options.log ?? (() => {});
  const adminUser = options.adminUser ?? process.env.KEYWARD_KEYCLOAK_ADMIN_USER ?? 'admin';
  const adminPassword = options.adminPassword ?? process.env.KEYWARD_KEYCLOAK_ADMIN_PASSWORD ?? 'admin';
  const external = process.env.KEYWARD_KEYCLOAK_URL;
  if (external) return useExternal(external, adminUser, adminPassword, log);
  // Only the distribution has the TLS listener: with `https` it comes first when a Java runtime is there.
  if (options.https && javaFound()) return startKeycloakDistribution({ ...options, adminUser, adminPassword, log });
  const docker = await startWithDocker({ ...options, adminUser, adminPassword, log });
  if (docker) return docker;
  return startKeycloakDistribution({ ...options, adminUser, adminPassword, log });
}

function javaFound(): boolean {
  try {
    findJava();
    return true;
  } catch {
    return false;
  }
}

async function probe(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/realms/master/.well-known/openid-configuration`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ?? (err as Error).name ?? 'no answer';
  }
}

async function useExternal(external: string, adminUser: string, adminPassword: string, log: (l: string) => void): Promise<KeycloakHandle> {
  const url = external.replace(/\/+$/, '');
  const problem = await probe(url, 5000);
  if (problem) {
    throw new Error(
      `KEYWARD_KEYCLOAK_URL=${url} does not answer (${url}/realms/master/.well-known/openid-configuration: ${problem});` +
        ' start that Keycloak or unset KEYWARD_KEYCLOAK_URL to have one started',
    );
  }
  log(`using the Keycloak at ${url} (KEYWARD_KEYCLOAK_URL)`);
  return { url, adminUser, adminPassword, source: 'external', stop: async () => {} };
}

/** Undefined when no container engine answers (fast: the runtime probe rejects in milliseconds). */
async function startWithDocker(
  options: StartKeycloakOptions & { adminUser: string; adminPassword: string; log: (l: string) => void },
): Promise<KeycloakHandle | undefined> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined; // no module or no engine: the distribution it is
  }
  const { log } = options;
  const version = keycloakVersion();
  const started = Date.now();
  if (options.port) await assertPortFree(options.port, options.portVariable ?? 'KEYWARD_KEYCLOAK_PORT');
  log(`starting Keycloak ${version} in Docker (quay.io/keycloak/keycloak:${version})…`);
  if (options.persistentDir) log('note: in Docker the Keycloak data is not kept across runs');
  try {
    const container = await new tc.GenericContainer(`quay.io/keycloak/keycloak:${version}`)
      .withEnvironment({
        KC_BOOTSTRAP_ADMIN_USERNAME: options.adminUser,
        KC_BOOTSTRAP_ADMIN_PASSWORD: options.adminPassword,
        KC_HEALTH_ENABLED: 'true',
        KC_METRICS_ENABLED: 'true',
        JAVA_OPTS_KC_HEAP: HEAP,
      })
      .withCommand(['start-dev'])
      .withExposedPorts(options.port ? { container: 8080, host: options.port } : 8080, 9000)
      .withWaitStrategy(tc.Wait.forHttp('/health/ready', 9000).forStatusCode(200))
      .withStartupTimeout(COLD_TIMEOUT_MS)
      .start();
    const url = `http://${container.getHost()}:${container.getMappedPort(8080)}`;
    log(`Keycloak ready in ${seconds(started)} s at ${url} (Docker)`);
    let stopped: Promise<void> | undefined;
    return {
      url,
      adminUser: options.adminUser,
      adminPassword: options.adminPassword,
      source: 'docker',
      stop: () => (stopped ??= container.stop().then(() => {})),
    };
  } catch (err) {
    // An engine that answers but cannot run the image (offline, no quota): say so, then try the distribution.
    log(`Docker could not start Keycloak (${(err as Error).message.split('\n')[0]}); trying the distribution instead`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// The distribution: download, verify, extract, build (once per version)
// ---------------------------------------------------------------------------

export interface PreparedDistribution {
  /** The built, read-only template KC_HOME; never run directly (each instance gets a copy). */
  readonly home: string;
  readonly version: string;
  readonly java: JavaHome;
  /** True when this call downloaded or built it. */
  readonly fresh: boolean;
}

/** Runs a command, keeping the tail of its output; rejects with that tail. */
function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; what: string; hint?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const keep = (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-20_000);
    };
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === 'ENOENT'
            ? `${opts.what}: \`${cmd}\` is not installed${opts.hint ? `; ${opts.hint}` : ''}`
            : `${opts.what}: ${err.message}`,
        ),
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(out);
      const tail = out.trim().split('\n').slice(-25).join('\n');
      reject(
        new Error(`${opts.what} failed (${signal ?? `exit code ${code}`})${opts.hint ? `; ${opts.hint}` : ''}${tail ? `\n${tail}` : ''}`),
      );
    });
  });
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An exclusive lock between processes sharing the cache: the lock file is
 * created atomically *with* our pid in it (link of a written temp file), and a
 * lock whose process is gone is taken over.
 */
async function withLock<T>(file: string, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(mine, `${process.pid}\n`);
  let announced = false;
  try {
    for (;;) {
      try {
        linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = readPid(file);
        if (holder === undefined || !alive(holder)) {
          rmSync(file, { force: true }); // left by a run that died
          continue;
        }
        if (!announced) log(`waiting for another run (pid ${holder}) that is preparing Keycloak; if none is running, delete ${file}`);
        announced = true;
        await sleep(1000);
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

/** Logs "still <doing> (N s)" every 20 s while `work` runs. */
async function ticking<T>(log: (l: string) => void, doing: string, work: Promise<T>): Promise<T> {
  const t = Date.now();
  const timer = setInterval(() => log(`still ${doing} (${seconds(t)} s)…`), 20_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Makes sure `${cacheDir}/keycloak/<version>/built` holds the built distribution:
 * downloads with Maven, checks the SHA-256 recorded on the first download,
 * extracts and runs `kc.sh build` in a staging directory, then renames it into
 * place, so an interrupted run never leaves a half-built cache. Concurrent runs
 * wait for one another (file lock).
 */
export async function prepareDistribution(
  options: {
    log?: ((line: string) => void) | undefined;
    env?: NodeJS.ProcessEnv;
    /**
     * `https-client-auth` is a build-time option in Keycloak 26.7 (`start --optimized` refuses a different value):
     * a mode other than none gets its own built copy, `built-client-auth-<mode>`.
     */
    clientAuth?: 'none' | 'request' | 'required' | undefined;
  } = {},
): Promise<PreparedDistribution> {
  const log = options.log ?? (() => {});
  const env = options.env ?? process.env;
  const version = keycloakVersion(env);
  const java = findJava(env);
  const base = join(cacheDir(env), 'keycloak', version);
  const clientAuth = options.clientAuth && options.clientAuth !== 'none' ? options.clientAuth : undefined;
  const builtName = clientAuth ? `built-client-auth-${clientAuth}` : 'built';
  const built = join(base, builtName);
  const ready = () => existsSync(join(built, 'bin', 'kc.sh')) && existsSync(join(built, 'lib', 'quarkus', 'quarkus-application.dat'));
  if (ready()) return { home: built, version, java, fresh: false };
  mkdirSync(base, { recursive: true });
  return withLock(join(base, '.lock'), log, async () => {
    if (ready()) return { home: built, version, java, fresh: false };
    // Leftovers of interrupted runs (only a lock holder gets here, so none is in use).
    for (const name of readdirSync(base)) {
      if (/^(staging|dl)-/.test(name) || name === builtName) rmSync(join(base, name), { recursive: true, force: true });
    }
    const tarball = join(base, `keycloak-quarkus-dist-${version}.tar.gz`);
    const pin = join(base, 'sha256');
    const artifact = `org.keycloak:keycloak-quarkus-dist:${version}:tar.gz`;
    if (!existsSync(tarball)) {
      log(`downloading Keycloak ${version} (${artifact}, about 180 MB, once) with Maven…`);
      const t = Date.now();
      const dl = join(base, `dl-${randomBytes(4).toString('hex')}`);
      mkdirSync(dl);
      try {
        await ticking(
          log,
          'downloading',
          run(
            'mvn',
            [
              '-B',
              '-C',
              '-q',
              'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
              `-Dartifact=${artifact}`,
              `-DoutputDirectory=${dl}`,
            ],
            {
              env: { ...env, JAVA_HOME: env.JAVA_HOME || java.home },
              what: `downloading ${artifact} with Maven`,
              hint:
                'Maven (mvn) fetches Keycloak once: install it (apt-get install maven) and check that Maven Central is reachable,' +
                ' or set KEYWARD_KEYCLOAK_URL to a running Keycloak',
            },
          ),
        );
        renameSync(join(dl, `keycloak-quarkus-dist-${version}.tar.gz`), tarball);
      } finally {
        rmSync(dl, { recursive: true, force: true });
      }
      log(`downloaded in ${seconds(t)} s`);
    }
    const digest = await sha256(tarball);
    if (existsSync(pin)) {
      const expected = readFileSync(pin, 'utf8').trim();
      if (expected !== digest) {
        rmSync(tarball, { force: true });
        throw new Error(
          `the cached Keycloak ${version} tarball has SHA-256 ${digest}, not the ${expected} recorded when it was first downloaded;` +
            ` it was removed: run again to download it anew (and if it differs again, delete ${pin} only once you trust the new file)`,
        );
      }
    } else {
      writeFileSync(pin, `${digest}\n`);
    }
    log(`extracting Keycloak ${version}…`);
    const staging = join(base, `staging-${randomBytes(4).toString('hex')}`);
    mkdirSync(staging);
    try {
      await run('tar', ['xzf', tarball, '-C', staging], { what: `extracting ${tarball}` });
      const home = join(staging, `keycloak-${version}`);
      if (!existsSync(join(home, 'bin', 'kc.sh')))
        throw new Error(`${tarball} does not contain keycloak-${version}/bin/kc.sh; delete ${base} and run again`);
      log(`building Keycloak (first run only, may take a minute or two; Java ${java.version} from ${java.home})…`);
      const t = Date.now();
      await ticking(
        log,
        'building',
        run(
          join(home, 'bin', 'kc.sh'),
          [
            'build',
            '--db=dev-file',
            '--health-enabled=true',
            '--metrics-enabled=true',
            ...(clientAuth ? [`--https-client-auth=${clientAuth}`] : []),
          ],
          {
            env: { ...env, JAVA_HOME: java.home, JAVA_OPTS: undefined, JAVA_OPTS_KC_HEAP: HEAP },
            what: 'kc.sh build',
          },
        ),
      );
      log(`built in ${seconds(t)} s`);
      renameSync(home, built); // the one step that makes it visible: a Ctrl-C before it leaves only staging-*
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return { home: built, version, java, fresh: true };
  });
}

/**
 * A copy of a directory tree whose files are hard links (instant, no space),
 * falling back to real copies across file systems. Keycloak started with
 * `--optimized` writes only below data/, which the template does not have.
 */
export function linkTree(src: string, dst: string): void {
  mkdirSync(dst, { mode: statSync(src).mode & 0o7777 });
  for (const entry of readdirSync(src, { withFileTypes: true })) {
    const from = join(src, entry.name);
    const to = join(dst, entry.name);
    if (entry.isDirectory()) linkTree(from, to);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else {
      try {
        linkSync(from, to);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
        copyFileSync(from, to);
        chmodSync(to, lstatSync(from).mode & 0o7777);
      }
    }
  }
}

const MARKER = '.keyward-keycloak';
const OWNER = '.keyward-owner';

/** Removes temporary instances whose owning process is gone (e.g. a SIGKILLed run whose watchdog was killed too). */
function sweepInstances(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const instance = join(dir, name);
    const owner = readPid(join(instance, OWNER));
    let old = false;
    try {
      old = Date.now() - statSync(instance).mtimeMs > 3_600_000;
    } catch {
      continue;
    }
    if (owner ? !alive(owner) : old) rmSync(instance, { recursive: true, force: true });
  }
}

/** Creates or reuses the persistent instance directory; keeps its data/ across Keycloak versions. */
function preparePersistent(dir: string, dist: PreparedDistribution, log: (l: string) => void): boolean {
  const marker = join(dir, MARKER);
  const owner = readPid(join(dir, OWNER));
  if (owner && owner !== process.pid && alive(owner)) {
    throw new Error(
      `the Keycloak instance in ${dir} is in use by another running Keyward (pid ${owner});` +
        ' stop that one first, or use another data directory (KEYWARD_DATA_DIR)',
    );
  }
  // The version, and the build (a TLS client-auth build has its own lib/): another one relinks the binaries, keeping data/.
  const build = basename(dist.home) === 'built' ? dist.version : `${dist.version} ${basename(dist.home)}`;
  if (existsSync(join(dir, 'bin', 'kc.sh')) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === build) {
    return existsSync(join(dir, 'data', 'h2'));
  }
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    /* does not exist yet */
  }
  if (entries.length > 0 && !existsSync(join(dir, 'bin', 'kc.sh'))) {
    throw new Error(`${dir} is not empty and holds no Keycloak instance; empty it or choose another directory for Keycloak's data`);
  }
  mkdirSync(join(dir, '..'), { recursive: true });
  if (entries.length > 0) {
    // Another Keycloak version (or an unmarked instance): new binaries, same data.
    // Keycloak migrates its database schema at start.
    const previous = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : 'an earlier version';
    log(`updating the Keycloak instance in ${dir} from ${previous} to ${build} (its data is kept)…`);
    const old = `${dir}.old-${randomBytes(4).toString('hex')}`;
    renameSync(dir, old);
    linkTree(dist.home, dir);
    if (existsSync(join(old, 'data'))) renameSync(join(old, 'data'), join(dir, 'data'));
    for (const name of ['keycloak.log', 'keycloak.log.1']) if (existsSync(join(old, name))) renameSync(join(old, name), join(dir, name));
    rmSync(old, { recursive: true, force: true });
  } else {
    rmSync(dir, { recursive: true, force: true });
    linkTree(dist.home, dir);
  }
  writeFileSync(marker, `${build}\n`);
  return existsSync(join(dir, 'data', 'h2'));
}

function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * The shell that outlives a SIGKILLed Node: once Node is gone it ends
 * Keycloak's process group (TERM, KILL after 15 s) and then removes a
 * temporary instance. It checks the group only while it exists, so a reused
 * process-group id is never signalled. stop() kills the watchdog itself.
 * Arguments are positional, so paths need no quoting.
 */
const WATCHDOG = `node=$1 pgid=$2 dir=$3
while kill -0 "$node" 2>/dev/null && kill -0 -"$pgid" 2>/dev/null; do sleep 1; done
if kill -0 -"$pgid" 2>/dev/null; then
  kill -TERM -"$pgid" 2>/dev/null
  i=0; while [ $i -lt 15 ] && kill -0 -"$pgid" 2>/dev/null; do sleep 1; i=$((i+1)); done
  kill -KILL -"$pgid" 2>/dev/null
fi
[ -z "$dir" ] && exit 0
while kill -0 "$node" 2>/dev/null; do sleep 1; done
rm -rf "$dir"`;

/**
 * Starts the official distribution (step c of {@link startKeycloak}) whatever
 * KEYWARD_KEYCLOAK_URL or Docker say: prepares it if needed, then runs
 * `kc.sh start --optimized` on 127.0.0.1 with a free management port, and
 * resolves when /health/ready and the master realm answer.
 */
export async function startKeycloakDistribution(options: StartKeycloakOptions = {}): Promise<KeycloakHandle> {
  const log = options.log ?? (() => {});
  const adminUser = options.adminUser ?? process.env.KEYWARD_KEYCLOAK_ADMIN_USER ?? 'admin';
  const adminPassword = options.adminPassword ?? process.env.KEYWARD_KEYCLOAK_ADMIN_PASSWORD ?? 'admin';
  // A taken port fails before anything slow happens.
  if (options.port) await assertPortFree(options.port, options.portVariable ?? 'KEYWARD_KEYCLOAK_PORT');
  if (options.https?.port) await assertPortFree(options.https.port, options.https.portVariable ?? 'KEYWARD_KEYCLOAK_HTTPS_PORT');
  const started = Date.now();
  const dist = await prepareDistribution({ log, clientAuth: options.https ? (options.https.clientAuth ?? 'request') : undefined });

  let home: string;
  let temporary: boolean;
  let hasData: boolean;
  if (options.persistentDir) {
    home = options.persistentDir;
    temporary = false;
    hasData = preparePersistent(home, dist, log);
  } else {
    const instances = join(cacheDir(), 'keycloak', 'instances');
    mkdirSync(instances, { recursive: true });
    sweepInstances(instances);
    home = join(instances, `${dist.version}-${process.pid}-${randomBytes(4).toString('hex')}`);
    linkTree(dist.home, home);
    temporary = true;
    hasData = false;
  }
  writeFileSync(join(home, OWNER), `${process.pid}\n`);

  const port = options.port || (await freePort());
  let management = await freePort();
  while (management === port) management = await freePort();
  let httpsPort: number | undefined;
  if (options.https) {
    httpsPort = options.https.port || (await freePort());
    while (httpsPort === port || httpsPort === management) httpsPort = await freePort();
  }
  const url = `http://127.0.0.1:${port}`;
  const httpsUrl = httpsPort ? `https://127.0.0.1:${httpsPort}` : undefined;
  const logFile = join(home, 'keycloak.log');
  if (!temporary && existsSync(logFile)) renameSync(logFile, `${logFile}.1`);
  const out = openSync(logFile, 'a');
  log(`starting Keycloak ${dist.version} on ${url} (Java ${dist.java.version}; log: ${logFile})…`);
  let child: ChildProcess;
  try {
    child = spawn(
      join(home, 'bin', 'kc.sh'),
      [
        'start',
        '--optimized',
        '--http-enabled=true',
        '--http-host=127.0.0.1',
        `--http-port=${port}`,
        `--http-management-port=${management}`,
        `--hostname=${url}`,
        // Production mode defaults to a clustered Infinispan cache whose JGroups
        // sockets bind to a non-loopback address (port 7800, and 57800 on every
        // interface); a dev/test instance stays local. (A runtime option in 26.7.)
        '--cache=local',
        ...(options.https && httpsPort ? httpsArguments(options.https, httpsPort) : []),
      ],
      {
        detached: true, // own process group: we signal the group, Ctrl-C in a terminal does not reach it directly
        stdio: ['ignore', out, out],
        env: {
          ...process.env,
          JAVA_HOME: dist.java.home,
          JAVA_OPTS: undefined,
          JAVA_OPTS_KC_HEAP: HEAP,
          KC_BOOTSTRAP_ADMIN_USERNAME: adminUser,
          KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
        },
      },
    );
  } finally {
    closeSync(out);
  }
  const pgid = child.pid;
  if (pgid === undefined) {
    if (temporary) rmSync(home, { recursive: true, force: true });
    throw new Error(`could not run ${join(home, 'bin', 'kc.sh')}`);
  }
  child.unref(); // a forgotten stop() must not keep Node alive; the exit hook and the watchdog end Keycloak
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'keyward-watchdog', String(process.pid), String(pgid), temporary ? home : ''], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();

  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ?? `exit code ${code}`;
  });
  const onExit = () => signalGroup(pgid, 'SIGTERM'); // the watchdog follows up with SIGKILL if needed
  const onSignal = (signal: NodeJS.Signals) => {
    signalGroup(pgid, 'SIGTERM');
    detach();
    // Keep the default behaviour (terminate) unless someone else handles the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const detach = () => {
    process.removeListener('exit', onExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      detach();
      if (groupAlive(pgid)) {
        signalGroup(pgid, 'SIGTERM');
        const deadline = Date.now() + STOP_GRACE_MS;
        while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
        if (groupAlive(pgid)) {
          signalGroup(pgid, 'SIGKILL');
          for (let i = 0; i < 50 && groupAlive(pgid); i++) await sleep(100);
        }
      }
      if (watchdog.pid) signalGroup(watchdog.pid, 'SIGKILL');
      if (temporary) rmSync(home, { recursive: true, force: true });
      else rmSync(join(home, OWNER), { force: true });
    })());

  const fail = async (why: string): Promise<never> => {
    const tail = tailOf(logFile);
    let kept = logFile;
    if (temporary) {
      kept = join(tmpdir(), `keyward-keycloak-${randomBytes(4).toString('hex')}.log`);
      try {
        copyFileSync(logFile, kept);
      } catch {
        kept = '(lost)';
      }
    }
    await stop();
    throw new Error(`Keycloak ${why}; full log: ${kept}; its last lines:\n${tail}`);
  };

  const timeout = dist.fresh || !hasData ? COLD_TIMEOUT_MS : WARM_TIMEOUT_MS;
  const deadline = Date.now() + timeout;
  const t = Date.now();
  let nextNote = t + 20_000;
  for (;;) {
    if (exited) return fail(`exited during start-up (${exited})`);
    if (await ready(management, url)) break;
    if (Date.now() > deadline) return fail(`was not ready after ${timeout / 1000} s`);
    if (Date.now() > nextNote) {
      log(`still starting (${seconds(t)} s)…`);
      nextNote += 20_000;
    }
    await sleep(400);
  }
  log(`Keycloak ready in ${seconds(started)} s at ${url}${httpsUrl ? ` and ${httpsUrl}` : ''}`);
  return { url, httpsUrl, adminUser, adminPassword, source: 'distribution', logFile, stop };
}

async function ready(management: number, url: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${management}/health/ready`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    if (!res.ok) return false;
  } catch {
    return false;
  }
  return (await probe(url, 2000)) === undefined;
}
