import { join } from 'node:path';
import { compose } from '../../compose.ts';
import { startKeycloak } from '../../devenv/keycloak.ts';
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
Usage: keyward dev [--keycloak-port PORT]

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
the demo realm unless KEYWARD_DEVICE_DEFAULT_REALM says otherwise. Ctrl-C stops everything. Development mode only.

Options:
  --keycloak-port PORT   Keycloak's HTTP port (default 8080, or KEYWARD_KEYCLOAK_PORT)
  --quiet-logs           only print warnings and errors of the server
  --realm-config DIR     realm-config files to apply (default: the repository's realm-config/)`,
  async run(argv) {
    const { values } = parse(
      argv,
      { 'keycloak-port': { type: 'string' }, 'quiet-logs': { type: 'boolean' }, 'realm-config': { type: 'string' } },
      false,
    );
    const base = loadConfig();
    if (base.mode !== 'development') throw new Error('keyward dev runs in development mode only (KEYWARD_MODE=development)');
    const progress = (line: string) => process.stderr.write(`» ${line}\n`);
    const kcPort = Number(values['keycloak-port'] ?? process.env.KEYWARD_KEYCLOAK_PORT ?? 8080);
    const keycloak = await startKeycloak({
      port: kcPort,
      persistentDir: join(base.dataDir, 'keycloak-dev'),
      log: progress,
      adminUser: base.keycloak.adminUser ?? 'admin',
      adminPassword: base.keycloak.adminPassword ?? 'admin',
    });
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
      const devTls = base.tls.certFile ? undefined : await ensureDevTls(base.dataDir);
      if (devTls?.created) progress(`made a development TLS certificate: ${devTls.certFile}`);
      const config = loadConfig(process.env, {
        KEYWARD_KEYCLOAK_URL: keycloak.url,
        KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
        ...(devTls ? { KEYWARD_TLS_CERT: devTls.certFile, KEYWARD_TLS_KEY: devTls.keyFile } : {}),
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
          if (!(devTls && err instanceof PortInUseError)) throw err;
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
      });
      out('');
      out('Keyward is up.');
      out(`  Keycloak admin console: ${keycloak.url}/admin/  (login ${keycloak.adminUser} / ${keycloak.adminPassword}, development only)`);
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
