/**
 * A real Keycloak for the demo, the tests and the benchmarks, chosen in this order:
 *  a. an existing server named by KEYWARD_KEYCLOAK_URL;
 *  b. a Docker engine, if one answers (testcontainers, official image);
 *  c. the official distribution org.keycloak:keycloak-quarkus-dist, fetched
 *     with Maven (which verifies the repository checksums; we also pin the
 *     tarball's SHA-256 in the cache), pre-built once with `kc.sh build`, and
 *     started on loopback with `start --optimized`.
 *
 * Each started instance runs in its own process group with a watchdog that
 * kills the group when this Node process dies, even by SIGKILL: no orphaned JVM.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { findJava } from './java.ts';
import { assertPortFree, freePort } from './ports.ts';

export const DEFAULT_KEYCLOAK_VERSION = '26.7.3';

export interface KeycloakHandle {
  readonly url: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly source: 'external' | 'docker' | 'distribution';
  readonly logFile?: string | undefined;
  stop(): Promise<void>;
}

export interface StartKeycloakOptions {
  /** Fixed HTTP port; 0 or undefined: a free one. */
  readonly port?: number | undefined;
  /** Keep the instance (and its H2 data) here across runs; default: a fresh temp dir removed at stop. */
  readonly persistentDir?: string | undefined;
  readonly log?: ((line: string) => void) | undefined;
  readonly adminUser?: string | undefined;
  readonly adminPassword?: string | undefined;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEYWARD_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'keyward');
}

async function answers(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/realms/master/.well-known/openid-configuration`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startKeycloak(options: StartKeycloakOptions = {}): Promise<KeycloakHandle> {
  const log = options.log ?? (() => {});
  const adminUser = options.adminUser ?? process.env.KEYWARD_KEYCLOAK_ADMIN_USER ?? 'admin';
  const adminPassword = options.adminPassword ?? process.env.KEYWARD_KEYCLOAK_ADMIN_PASSWORD ?? 'admin';
  const external = process.env.KEYWARD_KEYCLOAK_URL;
  if (external) {
    const url = external.replace(/\/+$/, '');
    if (!(await answers(url, 5000))) throw new Error(`KEYWARD_KEYCLOAK_URL=${url} does not answer (tried ${url}/realms/master/.well-known/openid-configuration)`);
    log(`using the Keycloak at ${url} (KEYWARD_KEYCLOAK_URL)`);
    return { url, adminUser, adminPassword, source: 'external', stop: async () => {} };
  }
  const docker = await startWithDocker(adminUser, adminPassword, log).catch(() => undefined);
  if (docker) return docker;
  return startDistribution({ ...options, adminUser, adminPassword, log });
}

async function startWithDocker(adminUser: string, adminPassword: string, log: (l: string) => void): Promise<KeycloakHandle | undefined> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined; // no engine: fall through to the distribution
  }
  const version = process.env.KEYWARD_KEYCLOAK_VERSION ?? DEFAULT_KEYCLOAK_VERSION;
  log(`starting Keycloak ${version} in Docker…`);
  const c = await new tc.GenericContainer(`quay.io/keycloak/keycloak:${version}`)
    .withEnvironment({ KC_BOOTSTRAP_ADMIN_USERNAME: adminUser, KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword, KC_HEALTH_ENABLED: 'true' })
    .withCommand(['start-dev'])
    .withExposedPorts(8080, 9000)
    .withWaitStrategy(tc.Wait.forHttp('/health/ready', 9000).forStatusCode(200))
    .withStartupTimeout(300_000)
    .start();
  return { url: `http://${c.getHost()}:${c.getMappedPort(8080)}`, adminUser, adminPassword, source: 'docker', stop: async () => { await c.stop(); } };
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** Waits for an exclusive lock file (stale after 15 minutes). */
async function withLock<T>(file: string, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let stale = false;
      try {
        const pid = Number(readFileSync(file, 'utf8'));
        stale = Date.now() - statSync(file).mtimeMs > 15 * 60_000 || !pid || !alive(pid);
      } catch {
        stale = true;
      }
      if (stale) {
        rmSync(file, { force: true });
        continue;
      }
      if (!announced) log('waiting for another run to finish preparing Keycloak…');
      announced = true;
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Downloads, verifies, extracts and pre-builds the distribution once; returns the built home. */
export async function prepareDistribution(log: (l: string) => void = () => {}): Promise<{ home: string; version: string; javaHome: string }> {
  const version = process.env.KEYWARD_KEYCLOAK_VERSION ?? DEFAULT_KEYCLOAK_VERSION;
  const java = findJava();
  const base = join(cacheDir(), 'keycloak', version);
  const built = join(base, 'built');
  mkdirSync(base, { recursive: true });
  if (existsSync(join(built, 'bin', 'kc.sh'))) return { home: built, version, javaHome: java.home };
  return withLock(join(base, '.lock'), log, async () => {
    if (existsSync(join(built, 'bin', 'kc.sh'))) return { home: built, version, javaHome: java.home };
    const tarball = join(base, `keycloak-quarkus-dist-${version}.tar.gz`);
    const pin = join(base, 'sha256');
    if (!existsSync(tarball)) {
      log(`downloading Keycloak ${version} from Maven Central (about 180 MB, once)…`);
      const dl = mkdtempSync(join(base, 'dl-'));
      try {
        execFileSync('mvn', ['-B', '-C', '-q', 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
          `-Dartifact=org.keycloak:keycloak-quarkus-dist:${version}:tar.gz`, `-DoutputDirectory=${dl}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        rmSync(dl, { recursive: true, force: true });
        throw new Error(`Maven could not fetch org.keycloak:keycloak-quarkus-dist:${version}:tar.gz: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(-800)}`);
      }
      renameSync(join(dl, `keycloak-quarkus-dist-${version}.tar.gz`), tarball);
      rmSync(dl, { recursive: true, force: true });
      writeFileSync(pin, (await sha256(tarball)) + '\n');
    }
    const digest = await sha256(tarball);
    if (existsSync(pin) && readFileSync(pin, 'utf8').trim() !== digest) {
      rmSync(tarball, { force: true });
      throw new Error(`the cached Keycloak tarball does not match its recorded SHA-256 and was removed; run again to download it anew`);
    }
    if (!existsSync(pin)) writeFileSync(pin, digest + '\n');
    log(`extracting Keycloak ${version}…`);
    const staging = mkdtempSync(join(base, 'staging-'));
    try {
      execFileSync('tar', ['xzf', tarball, '-C', staging]);
      const home = join(staging, `keycloak-${version}`);
      log('building Keycloak (first run only; may take a minute or two)…');
      const t = Date.now();
      try {
        execFileSync(join(home, 'bin', 'kc.sh'), ['build', '--db=dev-file', '--health-enabled=true', '--metrics-enabled=true'], {
          env: { ...process.env, JAVA_HOME: java.home, JAVA_OPTS_KC_HEAP: '-Xms256m -Xmx768m' }, stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        throw new Error(`kc.sh build failed: ${String((err as { stdout?: Buffer }).stdout ?? '').slice(-1500)}`);
      }
      log(`built in ${Math.round((Date.now() - t) / 1000)} s`);
      renameSync(home, built);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return { home: built, version, javaHome: java.home };
  });
}

async function startDistribution(options: StartKeycloakOptions & { adminUser: string; adminPassword: string; log: (l: string) => void }): Promise<KeycloakHandle> {
  const { log } = options;
  const started = Date.now();
  const dist = await prepareDistribution(log);
  const port = options.port || (await freePort());
  if (options.port) await assertPortFree(options.port, 'KEYWARD_KEYCLOAK_PORT');
  const mgmt = await freePort();
  const url = `http://127.0.0.1:${port}`;

  // One KC_HOME per instance: data/ and tmp are written at run time. A
  // hard-link copy of the built distribution costs almost nothing.
  let instance: string;
  let temporary = false;
  if (options.persistentDir) {
    instance = options.persistentDir;
    const marker = join(instance, '.keyward-keycloak-version');
    if (existsSync(instance) && (!existsSync(marker) || readFileSync(marker, 'utf8').trim() !== dist.version)) rmSync(instance, { recursive: true, force: true });
    if (!existsSync(instance)) {
      mkdirSync(join(instance, '..'), { recursive: true });
      execFileSync('cp', ['-al', dist.home, instance]);
      writeFileSync(marker, dist.version + '\n');
    }
  } else {
    const parent = mkdtempSync(join(tmpdir(), 'keyward-kc-'));
    instance = join(parent, 'kc');
    execFileSync('cp', ['-al', dist.home, instance]);
    temporary = true;
  }
  const logFile = join(instance, 'keycloak.log');
  const out = openSync(logFile, 'a');
  log(`starting Keycloak ${dist.version} (Java ${dist.javaHome.split('/').pop()}) on ${url}…`);
  const child: ChildProcess = spawn(join(instance, 'bin', 'kc.sh'), [
    'start', '--optimized', '--http-enabled=true', '--http-host=127.0.0.1', `--http-port=${port}`,
    `--http-management-port=${mgmt}`, `--hostname=${url}`, '--hostname-strict=false',
  ], {
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env, JAVA_HOME: dist.javaHome, KC_BOOTSTRAP_ADMIN_USERNAME: options.adminUser, KC_BOOTSTRAP_ADMIN_PASSWORD: options.adminPassword,
      JAVA_OPTS_KC_HEAP: '-Xms256m -Xmx768m', JAVA_OPTS: undefined,
    },
  });
  closeSync(out);
  const pgid = child.pid!;
  // The watchdog outlives a SIGKILLed Node and then takes the JVM down with it.
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 -${pgid} 2>/dev/null; do sleep 1; done; kill -TERM -${pgid} 2>/dev/null; sleep 10; kill -KILL -${pgid} 2>/dev/null`], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  child.unref();

  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const stopGroup = async () => {
    if (!exited && alive(pgid)) {
      try {
        process.kill(-pgid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 150 && groupAlive(pgid); i++) await sleep(100);
      if (groupAlive(pgid)) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    try {
      process.kill(watchdog.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const onExit = () => {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      /* gone */
    }
  };
  process.once('exit', onExit);

  const deadline = Date.now() + (Date.now() - started > 30_000 ? 300_000 : 180_000);
  for (;;) {
    if (exited) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`Keycloak exited during start-up; last lines of ${logFile}:\n${tail}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${mgmt}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok && (await answers(url))) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      await stopGroup();
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`Keycloak was not ready in time; last lines of ${logFile}:\n${tail}`);
    }
    await sleep(500);
  }
  log(`Keycloak ready in ${Math.round((Date.now() - started) / 1000)} s (log: ${logFile})`);
  return {
    url, adminUser: options.adminUser, adminPassword: options.adminPassword, source: 'distribution', logFile,
    stop: async () => {
      process.removeListener('exit', onExit);
      await stopGroup();
      if (temporary) rmSync(join(instance, '..'), { recursive: true, force: true });
    },
  };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
