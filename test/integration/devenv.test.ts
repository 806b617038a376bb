/**
 * The development harness (services/keyward/src/devenv): what the demo, the
 * integration tests and the benchmarks stand on. Real processes throughout:
 * a JDK, PostgreSQL (the machine's, and embedded), and Keycloak started from
 * the official distribution, whose process group must be gone after stop()
 * and even after its Node process is SIGKILLed.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import {
  assertPortFree,
  clusterDir,
  findJava,
  freePort,
  javaVersionOf,
  parseJavaVersion,
  parseReleaseFile,
  startEmbeddedPostgres,
  startKeycloak,
  startKeycloakDistribution,
  SUPPORTED_JAVA,
  testDatabase,
  type KeycloakHandle,
} from '../../services/keyward/src/devenv/index.ts';

const say = (line: string) => process.stderr.write(`      [devenv] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The URL of a devenv module, as a JavaScript string literal for the scripts run in child processes. */
const devenvModule = (file: string) => JSON.stringify(new URL(`../../services/keyward/src/devenv/${file}`, import.meta.url).href);

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

async function occupiedPort(): Promise<{ port: number; close(): Promise<void> }> {
  const port = await freePort();
  const srv = await listenOn(port);
  return { port, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

/** Process ids in a process group (ps is the independent witness). */
function groupMembers(pgid: number): number[] {
  const out = spawnSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, g]) => g === pgid)
    .map(([p]) => p!);
}

/** The JVM of the instance whose KC_HOME is `home`: its pid and process group. */
function keycloakJvm(home: string): { pid: number; pgid: number } | undefined {
  const out = spawnSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' }).stdout;
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m && /\bjava\b/.test(m[3]!) && m[3]!.includes(`-Dkc.home.dir=${home}/`)) return { pid: Number(m[1]), pgid: Number(m[2]) };
  }
  return undefined;
}

async function adminToken(kc: KeycloakHandle): Promise<string> {
  const res = await fetch(`${kc.url}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: kc.adminUser, password: kc.adminPassword }),
  });
  expect(res.status, 'bootstrap admin login').to.equal(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('devenv: the development harness', function () {
  describe('JDK discovery', () => {
    const versions: Array<[string, number | undefined]> = [
      ['openjdk version "25.0.3" 2026-04-21 LTS\nOpenJDK Runtime Environment Temurin-25.0.3+9 (build 25.0.3+9-LTS)', 25],
      ['openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)', 17],
      ['openjdk version "21" 2023-09-19', 21],
      ['openjdk version "21-ea" 2023-09-19', 21],
      ['java version "1.8.0_401"\nJava(TM) SE Runtime Environment (build 1.8.0_401-b10)', 8],
      ['java version "11.0.2" 2019-01-15 LTS', 11],
      ['Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version "25" 2025-09-16', 25],
      ['bash: java: command not found', undefined],
    ];
    for (const [output, expected] of versions) {
      it(`reads Java ${expected ?? 'nothing'} from \`java -version\`: ${JSON.stringify(output.split('\n')[0])}`, () => {
        expect(parseJavaVersion(output)).to.equal(expected);
      });
    }

    it('reads the feature version from a JDK release file', () => {
      expect(parseReleaseFile('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="25.0.3"\nJAVA_VERSION_DATE="2026-04-21"\n')).to.equal(25);
      expect(parseReleaseFile('JAVA_VERSION="1.8.0_401"\n')).to.equal(8);
      expect(parseReleaseFile('JAVA_VERSION="21"\n')).to.equal(21);
      expect(parseReleaseFile('IMPLEMENTOR="x"\n')).to.equal(undefined);
    });

    describe('choice among installed JDKs', () => {
      let root: string;
      const fakeJdk = (name: string, version: string) => {
        const home = join(root, name);
        mkdirSync(join(home, 'bin'), { recursive: true });
        writeFileSync(join(home, 'bin', 'java'), `#!/bin/sh\necho 'openjdk version "${version}"' >&2\n`);
        chmodSync(join(home, 'bin', 'java'), 0o755);
        writeFileSync(join(home, 'release'), `JAVA_VERSION="${version}"\n`);
        return home;
      };
      before(() => {
        root = mkdtempSync(join(tmpdir(), 'keyward-jdks-'));
        fakeJdk('jdk-11', '11.0.2');
        fakeJdk('jdk-17', '17.0.15');
        fakeJdk('jdk-21', '21.0.5');
        fakeJdk('jdk-25', '25.0.3');
        fakeJdk('java-8', '1.8.0_401');
        mkdirSync(join(root, 'not-a-jdk'));
      });
      after(() => rmSync(root, { recursive: true, force: true }));

      it('takes the newest supported JDK of the scanned directories', () => {
        expect(findJava({}, [root])).to.deep.equal({ home: join(root, 'jdk-25'), version: 25, source: root });
      });
      it('takes JAVA_HOME when its version is supported, even an older one', () => {
        expect(findJava({ JAVA_HOME: join(root, 'jdk-17') }, [root])).to.include({
          home: join(root, 'jdk-17'),
          version: 17,
          source: 'JAVA_HOME',
        });
      });
      it('passes over a JAVA_HOME of an unsupported version', () => {
        expect(findJava({ JAVA_HOME: join(root, 'jdk-11') }, [root]).version).to.equal(25);
      });
      it('takes KEYWARD_JAVA_HOME before JAVA_HOME', () => {
        expect(findJava({ KEYWARD_JAVA_HOME: join(root, 'jdk-21'), JAVA_HOME: join(root, 'jdk-25') }, [root])).to.include({
          version: 21,
          source: 'KEYWARD_JAVA_HOME',
        });
      });
      it('refuses an unsupported KEYWARD_JAVA_HOME with a message naming the variable', () => {
        expect(() => findJava({ KEYWARD_JAVA_HOME: join(root, 'java-8') }, [root])).to.throw(
          /^KEYWARD_JAVA_HOME=.*java-8 is Java 8; Keycloak needs Java 25, 21 or 17/,
        );
        expect(() => findJava({ KEYWARD_JAVA_HOME: join(root, 'not-a-jdk') }, [root])).to.throw(/not a JDK \(no bin\/java\)/);
      });
      it('falls back to the java on PATH, and says what to do when there is none', () => {
        expect(findJava({ PATH: join(root, 'jdk-21', 'bin') }, [])).to.deep.equal({
          home: join(root, 'jdk-21'),
          version: 21,
          source: 'PATH',
        });
        expect(() => findJava({ PATH: join(root, 'java-8', 'bin') }, [])).to.throw(
          /^no supported JDK found \(Keycloak needs Java 25, 21 or 17\): install one .* or set KEYWARD_JAVA_HOME/,
        );
        expect(() => findJava({ PATH: join(root, 'nowhere') }, [])).to.throw(/^no supported JDK found/);
      });
    });

    it('finds a supported JDK on this machine, and its version is what the JVM says', () => {
      const java = findJava();
      expect(SUPPORTED_JAVA).to.include(java.version);
      const r = spawnSync(join(java.home, 'bin', 'java'), ['-version'], { encoding: 'utf8' });
      expect(parseJavaVersion(r.stderr)).to.equal(java.version);
      expect(javaVersionOf(java.home)).to.equal(java.version);
    });
  });

  describe('ports', () => {
    it('freePort returns a port that can be bound on 127.0.0.1', async () => {
      const port = await freePort();
      const srv = await listenOn(port);
      await new Promise<void>((r) => srv.close(() => r()));
    });

    it('names the variable to set when a fixed port is taken', async () => {
      const busy = await occupiedPort();
      try {
        await assertPortFree(busy.port, 'KEYWARD_KEYCLOAK_PORT').then(
          () => expect.fail('no error'),
          (err: Error) => {
            expect(err.message).to.equal(
              `port ${busy.port} is already in use; stop what is using it or set KEYWARD_KEYCLOAK_PORT to another port (0 = any free port)`,
            );
          },
        );
      } finally {
        await busy.close();
      }
      await assertPortFree(busy.port, 'KEYWARD_KEYCLOAK_PORT');
    });

    it('refuses a taken Keycloak port at once, before preparing anything', async () => {
      const busy = await occupiedPort();
      const t = Date.now();
      try {
        const err = await startKeycloakDistribution({ port: busy.port }).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).to.match(new RegExp(`^port ${busy.port} is already in use; .*set KEYWARD_KEYCLOAK_PORT`));
        expect(err?.message).not.to.include('\n');
        expect(Date.now() - t).to.be.below(2000);
      } finally {
        await busy.close();
      }
    });
  });

  describe('PostgreSQL', function () {
    this.timeout(120_000);

    it('testDatabase creates a fresh database that drop() removes', async () => {
      const db = await testDatabase({ log: say });
      say(`testDatabase from ${db.source}`);
      const name = new URL(db.url).pathname.slice(1);
      expect(name).to.match(/^keyward_test_[0-9a-f]{12}$/);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      expect((await c.query('SELECT current_database() AS d')).rows[0].d).to.equal(name);
      await c.query('CREATE TABLE t (x int)');
      // left open on purpose: drop() must end it (WITH (FORCE))
      c.on('error', () => {});
      await db.drop();
      await c.end().catch(() => {});
      const server = new URL(db.url);
      server.pathname = '/postgres';
      const check = new pg.Client({ connectionString: server.toString() });
      if (db.source !== 'embedded') {
        await check.connect();
        expect((await check.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [name])).rows[0].n).to.equal(0);
        await check.end();
      }
      await db.drop(); // idempotent
    });

    it('starts an embedded PostgreSQL that answers, and restarts on its data despite a stale postmaster.pid', async () => {
      const parent = mkdtempSync(join(tmpdir(), 'keyward-pg-test-'));
      if (process.getuid?.() === 0) chmodSync(parent, 0o755);
      const dataDir = join(parent, 'data');
      try {
        let t = Date.now();
        let db = await startEmbeddedPostgres({ dataDir, log: say });
        say(`embedded PostgreSQL: first start (initdb) ${Date.now() - t} ms`);
        let c = new pg.Client({ connectionString: db.url });
        await c.connect();
        expect((await c.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
        await c.query('CREATE TABLE kept (x int)');
        await c.query('INSERT INTO kept VALUES (42)');
        await c.end();
        await db.stop();
        await db.stop(); // idempotent

        // A killed run leaves postmaster.pid behind; its pid may since belong to
        // another process (here: this one), which PostgreSQL alone would refuse.
        const dir = clusterDir(dataDir);
        writeFileSync(join(dir, 'postmaster.pid'), `${process.pid}\n${dir}\n`);
        t = Date.now();
        db = await startEmbeddedPostgres({ dataDir, log: say });
        say(`embedded PostgreSQL: restart on existing data ${Date.now() - t} ms`);
        c = new pg.Client({ connectionString: db.url });
        await c.connect();
        expect((await c.query('SELECT x FROM kept')).rows).to.deep.equal([{ x: 42 }]);
        await c.end();

        // A second server on the same live directory is refused with a reason.
        const err = await startEmbeddedPostgres({ dataDir }).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).to.match(/^a PostgreSQL \(pid \d+\) is already running on .*; stop that one/);
        await db.stop();
      } finally {
        rmSync(clusterDir(dataDir), { recursive: true, force: true });
        rmSync(parent, { recursive: true, force: true });
      }
    });

    it('runs the embedded PostgreSQL in its own process group and stops it when Node is SIGKILLed', async () => {
      const parent = mkdtempSync(join(tmpdir(), 'keyward-pg-kill-'));
      if (process.getuid?.() === 0) chmodSync(parent, 0o755);
      const script = `
        const { startEmbeddedPostgres } = await import(${devenvModule('postgres.ts')});
        await startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(parent, 'data'))} });
        process.stdout.write('ready\\n');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
          child.once('exit', (code) => reject(new Error(`the child exited (${code}) before PostgreSQL was ready`)));
        });
        const postmaster = Number(readFileSync(join(clusterDir(join(parent, 'data')), 'postmaster.pid'), 'utf8').split('\n')[0]);
        const pgids = spawnSync('ps', ['-o', 'pgid=', '-p', `${postmaster},${child.pid}`], { encoding: 'utf8' })
          .stdout.trim()
          .split(/\s+/);
        expect(new Set(pgids).size, 'postmaster and Node in different process groups').to.equal(2);
        child.kill('SIGKILL');
        const t = Date.now();
        while (groupMembers(postmaster).length > 0 && Date.now() - t < 20_000) await sleep(100);
        say(`after SIGKILL of Node: PostgreSQL gone in ${Date.now() - t} ms`);
        expect(groupMembers(postmaster)).to.deep.equal([]);
      } finally {
        child.kill('SIGKILL');
        rmSync(clusterDir(join(parent, 'data')), { recursive: true, force: true });
        rmSync(parent, { recursive: true, force: true });
      }
    });

    it('refuses a taken port for the embedded PostgreSQL with a one-line reason', async () => {
      const busy = await occupiedPort();
      try {
        const err = await startEmbeddedPostgres({
          dataDir: join(tmpdir(), 'keyward-never-created'),
          port: busy.port,
          portVariable: 'KEYWARD_TEST_PG_PORT',
        }).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).to.match(new RegExp(`^port ${busy.port} is already in use; .*KEYWARD_TEST_PG_PORT`));
      } finally {
        await busy.close();
      }
    });
  });

  describe('Keycloak', function () {
    this.timeout(900_000); // a first run downloads and builds

    describe('KEYWARD_KEYCLOAK_URL', () => {
      const saved = process.env.KEYWARD_KEYCLOAK_URL;
      afterEach(() => {
        if (saved === undefined) delete process.env.KEYWARD_KEYCLOAK_URL;
        else process.env.KEYWARD_KEYCLOAK_URL = saved;
      });

      it('fails loudly, in one line, when the named server does not answer', async () => {
        const port = await freePort();
        process.env.KEYWARD_KEYCLOAK_URL = `http://127.0.0.1:${port}/`;
        const err = await startKeycloak().then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).to.match(
          new RegExp(
            `^KEYWARD_KEYCLOAK_URL=http://127.0.0.1:${port} does not answer \\(.*ECONNREFUSED\\);` +
              ' start that Keycloak or unset KEYWARD_KEYCLOAK_URL',
          ),
        );
        expect(err?.message).not.to.include('\n');
      });
    });

    describe('from the official distribution', () => {
      let kc: KeycloakHandle | undefined;
      let home: string;
      before(async () => {
        const t = Date.now();
        kc = await startKeycloakDistribution({ log: say });
        say(`distribution start (including any download and build): ${Math.round((Date.now() - t) / 1000)} s`);
        home = dirname(kc.logFile!);
      });
      after(async () => {
        await kc?.stop();
      });

      it('starts on a free loopback port and answers /realms/master with its issuer', async () => {
        expect(kc!.source).to.equal('distribution');
        expect(kc!.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
        const res = await fetch(`${kc!.url}/realms/master`);
        expect(res.status).to.equal(200);
        const discovery = (await (await fetch(`${kc!.url}/realms/master/.well-known/openid-configuration`)).json()) as { issuer: string };
        expect(discovery.issuer).to.equal(`${kc!.url}/realms/master`);
        expect(existsSync(kc!.logFile!)).to.equal(true);
      });

      it('lets the bootstrap admin log in', async () => {
        await adminToken(kc!);
      });

      it('listens on loopback only (no clustering sockets)', () => {
        const jvm = keycloakJvm(home)!;
        expect(jvm, 'the JVM of the instance').to.not.equal(undefined);
        const ss = spawnSync('ss', ['-Hltnp'], { encoding: 'utf8' });
        if (ss.status !== 0) return; // no ss here: nothing to witness with
        const mine = ss.stdout.split('\n').filter((l) => l.includes(`pid=${jvm.pid},`));
        expect(mine.length).to.be.greaterThan(0);
        for (const line of mine) expect(line.split(/\s+/)[3]).to.match(/^(\[::ffff:)?127\.0\.0\.1\]?:\d+$/);
      });

      it('is found by startKeycloak through KEYWARD_KEYCLOAK_URL, whose stop() leaves it running', async () => {
        const saved = process.env.KEYWARD_KEYCLOAK_URL;
        process.env.KEYWARD_KEYCLOAK_URL = kc!.url;
        try {
          const external = await startKeycloak();
          expect(external).to.include({ url: kc!.url, source: 'external', adminUser: 'admin' });
          await external.stop();
          expect((await fetch(`${kc!.url}/realms/master`)).status).to.equal(200);
        } finally {
          if (saved === undefined) delete process.env.KEYWARD_KEYCLOAK_URL;
          else process.env.KEYWARD_KEYCLOAK_URL = saved;
        }
      });

      it('stop() ends the whole process group and removes the temporary instance', async () => {
        const jvm = keycloakJvm(home)!;
        expect(groupMembers(jvm.pgid)).to.include(jvm.pid);
        const t = Date.now();
        await kc!.stop();
        say(`stop: ${Date.now() - t} ms`);
        kc = undefined;
        expect(groupMembers(jvm.pgid)).to.deep.equal([]);
        expect(keycloakJvm(home)).to.equal(undefined);
        expect(existsSync(home)).to.equal(false);
      });
    });

    it('keeps realms in a persistent directory across restarts', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keyward-kc-persist-'));
      const persistentDir = join(dir, 'keycloak');
      let kc: KeycloakHandle | undefined;
      try {
        kc = await startKeycloakDistribution({ persistentDir, log: say });
        const token = await adminToken(kc);
        const created = await fetch(`${kc.url}/admin/realms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ realm: 'devenv-kept', enabled: true }),
        });
        expect(created.status).to.equal(201);
        await kc.stop();
        kc = undefined;
        expect(existsSync(join(persistentDir, 'data', 'h2'))).to.equal(true);

        const t = Date.now();
        kc = await startKeycloakDistribution({ persistentDir, log: say });
        say(`warm start on existing data: ${Math.round((Date.now() - t) / 1000)} s`);
        expect((await fetch(`${kc.url}/realms/devenv-kept`)).status).to.equal(200);
        // The instance is taken while it runs.
        const err = await new Promise<Error | undefined>((resolve) => {
          const child = spawn(
            process.execPath,
            [
              '--input-type=module',
              '-e',
              `
            const { startKeycloakDistribution } = await import(${devenvModule('keycloak.ts')});
            startKeycloakDistribution({ persistentDir: ${JSON.stringify(persistentDir)} })
              .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); });
          `,
            ],
            { stdio: ['ignore', 'ignore', 'pipe'] },
          );
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('exit', (code) => resolve(code === 3 ? new Error(stderr.trim()) : undefined));
        });
        expect(err?.message).to.match(/^the Keycloak instance in .* is in use by another running Keyward \(pid \d+\)/);
      } finally {
        await kc?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('leaves no Keycloak behind when its Node process is killed with SIGKILL', async () => {
      const script = `
        const { startKeycloakDistribution } = await import(${devenvModule('keycloak.ts')});
        const kc = await startKeycloakDistribution();
        process.stdout.write(JSON.stringify({ logFile: kc.logFile }) + '\\n');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before Keycloak was ready`)));
      });
      const home = dirname((JSON.parse(line) as { logFile: string }).logFile);
      const jvm = keycloakJvm(home);
      expect(jvm, "the JVM of the child's instance").to.not.equal(undefined);
      child.kill('SIGKILL');
      const t = Date.now();
      while ((groupMembers(jvm!.pgid).length > 0 || existsSync(home)) && Date.now() - t < 40_000) await sleep(250);
      say(`after SIGKILL of Node: JVM group gone and instance removed in ${Date.now() - t} ms`);
      expect(groupMembers(jvm!.pgid)).to.deep.equal([]);
      expect(existsSync(home)).to.equal(false);
    });
  });
});
