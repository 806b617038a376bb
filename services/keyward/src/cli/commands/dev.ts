import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compose } from '../../compose.ts';
import { startKeycloak, type KeycloakHandle, type StartKeycloakOptions } from '../../devenv/keycloak.ts';
import { bootstrap } from '../../keycloak/bootstrap.ts';
import { loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { closeServer, listen, listenTls, PortInUseError } from '../../server.ts';
import { out, parse, type Command } from '../command.ts';
import { afterStart } from './dev_demo.ts';
import { ensureDevTls } from '../dev_tls.ts';

export const dev: Command = {
  name: 'dev',
  summary: 'Start Keycloak and Keyward for development (what scripts/up runs)',
  help: `
Usage: keyward dev [--keycloak-port PORT] [--keycloak-https-port PORT]

Starts a real Keycloak (KEYWARD_KEYCLOAK_URL if set, else a Docker engine if one
answers, else the official distribution fetched with Maven and cached under
~/.cache/keyward), bootstraps Keyward's client with the development admin
(admin/admin unless KEYWARD_KEYCLOAK_ADMIN_USER/PASSWORD say otherwise), starts
Keyward on an embedded PostgreSQL (unless KEYWARD_DATABASE_URL is set), applies
the demo realm from realm-config/, makes the web console's demo users (demo-user,
demo-admin, demo-approver; passwords generated once and kept under the data
directory), and prints how to use it, the console URL and those logins. Without
KEYWARD_TLS_CERT it also serves HTTPS on KEYWARD_TLS_PORT (default 3443) with a
self-signed development certificate kept under the data directory, for client
certificates and device onboarding, and the SKLM-compatible device path serves
the demo realm unless KEYWARD_DEVICE_DEFAULT_REALM says otherwise. The Keycloak
it starts also serves HTTPS (that certificate, client certificates requested) and
trusts the realm CA chains Keyward writes to its truststore directory, for the
demo realm's secretless API client demo-secretless (certificate and key kept
under the data directory; Keycloak is restarted once when a chain is new).
Ctrl-C stops everything. Development mode only.

Options:
  --keycloak-port PORT   Keycloak's HTTP port (default 8080, or KEYWARD_KEYCLOAK_PORT)
  --keycloak-https-port PORT
                         Keycloak's HTTPS port (default 8443, or KEYWARD_KEYCLOAK_HTTPS_PORT)
  --quiet-logs           only print warnings and errors of the server
  --realm-config DIR     realm-config files to apply (default: the repository's realm-config/)`,
  async run(argv) {
    const { values } = parse(
      argv,
      {
        'keycloak-port': { type: 'string' },
        'keycloak-https-port': { type: 'string' },
        'quiet-logs': { type: 'boolean' },
        'realm-config': { type: 'string' },
      },
      false,
    );
    const base = loadConfig();
    if (base.mode !== 'development') throw new Error('keyward dev runs in development mode only (KEYWARD_MODE=development)');
    const progress = (line: string) => process.stderr.write(`» ${line}\n`);
    const kcPort = Number(values['keycloak-port'] ?? process.env.KEYWARD_KEYCLOAK_PORT ?? 8080);
    const kcHttpsPort = Number(values['keycloak-https-port'] ?? process.env.KEYWARD_KEYCLOAK_HTTPS_PORT ?? 8443);
    // Keycloak's TLS listener (for certificate clients, RFC 8705) with the development server certificate, and the
    // truststore directory Keyward writes realm CA chains to. Only a Keycloak started here has them.
    const external = Boolean(process.env.KEYWARD_KEYCLOAK_URL);
    const devTls = base.tls.certFile && external ? undefined : await ensureDevTls(base.dataDir);
    if (devTls?.created) progress(`made a development TLS certificate: ${devTls.certFile}`);
    const truststoreDir = base.keycloak.truststoreDir ?? join(base.dataDir, 'keycloak-truststore');
    if (!external) mkdirSync(truststoreDir, { recursive: true, mode: 0o700 }); // Keycloak refuses a path that does not exist
    const kcOptions: StartKeycloakOptions = {
      port: kcPort,
      persistentDir: join(base.dataDir, 'keycloak-dev'),
      log: progress,
      adminUser: base.keycloak.adminUser ?? 'admin',
      adminPassword: base.keycloak.adminPassword ?? 'admin',
      ...(devTls && !external
        ? { https: { port: kcHttpsPort, certificateFile: devTls.certFile, keyFile: devTls.keyFile, truststorePaths: [truststoreDir] } }
        : {}),
    };
    const trustedAtStart = truststoreState(truststoreDir);
    let keycloak: KeycloakHandle = await startKeycloak(kcOptions);
    let stopping = false;
    const cleanups: Array<() => Promise<void>> = [() => keycloak.stop()];
    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      progress('stopping…');
      for (const c of cleanups.reverse()) await c().catch((err) => process.stderr.write(`  ${(err as Error).message}\n`));
    };
    try {
      progress("bootstrapping Keyward's client in Keycloak…");
      const boot = await bootstrap({
        url: keycloak.url,
        adminUser: keycloak.adminUser,
        adminPassword: keycloak.adminPassword,
        clientId: base.keycloak.clientId,
        audience: base.audience,
        operatorClientId: 'keyward-operator-cli',
        consoleUrl: base.publicUrl,
      });
      const config = loadConfig(process.env, {
        KEYWARD_KEYCLOAK_URL: keycloak.url,
        KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
        ...(devTls && !base.tls.certFile ? { KEYWARD_TLS_CERT: devTls.certFile, KEYWARD_TLS_KEY: devTls.keyFile } : {}),
        ...(keycloak.httpsUrl ? { KEYWARD_KEYCLOAK_TRUSTSTORE_DIR: truststoreDir } : {}),
        ...(base.devices.defaultRealm ? {} : { KEYWARD_DEVICE_DEFAULT_REALM: 'demo' }), // the SKLM-compatible path serves the demo realm
      });
      const log = createLogger({ level: values['quiet-logs'] ? 'warn' : config.logLevel });
      progress('starting Keyward…');
      const keyward = await compose(config, { log });
      cleanups.push(() => keyward.close());
      const server = await listen(keyward);
      cleanups.push(() => closeServer(server, 3000));
      let tlsUrl: string | undefined;
      if (config.tls.certFile) {
        try {
          const tls = await listenTls(keyward);
          cleanups.push(() => closeServer(tls, 3000));
          tlsUrl = `https://${config.host}:${config.tls.port}`;
        } catch (err) {
          if (!(devTls && !base.tls.certFile && err instanceof PortInUseError)) throw err;
          progress(`HTTPS not started: ${err.message}`); // only the optional development listener may be skipped
        }
      }
      const keywardUrl = `http://${config.host}:${config.port}`;
      const demo = await afterStart({
        keyward,
        keycloakUrl: keycloak.url,
        keywardUrl,
        operator: boot.operator!,
        progress,
        configDir: values['realm-config'],
        tls: tlsUrl ? { url: tlsUrl, certFile: config.tls.certFile! } : undefined,
        secretless:
          keycloak.httpsUrl && devTls
            ? { keycloakHttpsUrl: keycloak.httpsUrl, keycloakCaFile: devTls.certFile }
            : {
                unavailable: external
                  ? 'it needs the Keycloak that keyward dev starts itself (with a TLS listener), not KEYWARD_KEYCLOAK_URL'
                  : 'it needs the Keycloak distribution (Java), whose TLS listener the Docker image here does not have',
              },
      });
      if (keycloak.httpsUrl && truststoreState(truststoreDir) !== trustedAtStart) {
        // Keycloak reads its truststore only at start (its server guide "Configuring trusted certificates").
        progress("restarting Keycloak once: a realm's CA chain is new in its truststore, which it reads only at start…");
        await keycloak.stop();
        keycloak = await startKeycloak({
          ...kcOptions,
          port: portOf(keycloak.url),
          https: { ...kcOptions.https!, port: portOf(keycloak.httpsUrl) },
        });
      }
      out('');
      out('Keyward is up.');
      out(`  Keycloak admin console: ${keycloak.url}/admin/  (login ${keycloak.adminUser} / ${keycloak.adminPassword}, development only)`);
      if (keycloak.httpsUrl && devTls)
        out(`  Keycloak HTTPS:         ${keycloak.httpsUrl}  (certificate clients, RFC 8705; server certificate ${devTls.certFile})`);
      out(`  Keyward API:            ${keywardUrl}  (OpenAPI: ${keywardUrl}/v1/openapi.json, readiness: ${keywardUrl}/readyz)`);
      out(`  API reference:          ${keywardUrl}/docs`);
      if (tlsUrl)
        out(`  Keyward HTTPS:          ${tlsUrl}  (client certificates, device onboarding; server certificate ${config.tls.certFile})`);
      for (const line of demo) out(line);
      out('');
      out('Press Ctrl-C to stop Keycloak and Keyward.');
    } catch (err) {
      await shutdown();
      throw err;
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await shutdown();
    return 0;
  },
};

/** A digest of the PEM files in Keycloak's truststore directory (names and contents), to see whether it changed. */
function truststoreState(dir: string): string {
  const h = createHash('sha256');
  let names: string[] = [];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.pem'))
      .sort();
  } catch {
    /* not there: empty */
  }
  for (const n of names)
    h.update(`${n}\0`)
      .update(readFileSync(join(dir, n)))
      .update('\0');
  return h.digest('hex');
}

const portOf = (url: string): number => Number(new URL(url).port);
