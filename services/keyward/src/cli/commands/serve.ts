import { compose } from '../../compose.ts';
import { loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/log.ts';
import { closeServer, listen, listenTls } from '../../server.ts';
import { VERSION } from '../../version.ts';
import { parse, type Command } from '../command.ts';

export const serve: Command = {
  name: 'serve',
  summary: 'Run the Keyward API server',
  help: `
Usage: keyward serve

Runs the HTTP API (KEYWARD_HOST:KEYWARD_PORT), and HTTPS with client-certificate
authentication on KEYWARD_TLS_PORT when KEYWARD_TLS_CERT and KEYWARD_TLS_KEY are set. Configuration comes from KEYWARD_*
environment variables (keyward config lists them). Needs KEYWARD_KEYCLOAK_URL and
KEYWARD_KEYCLOAK_CLIENT_SECRET (from keyward bootstrap); without
KEYWARD_DATABASE_URL an embedded PostgreSQL is started (development mode only).
Stops gracefully on SIGINT/SIGTERM.`,
  async run(argv) {
    parse(argv, {}, false);
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel });
    const keyward = await compose(config, { log });
    const servers = [];
    try {
      servers.push(await listen(keyward));
      if (config.tls.certFile) servers.push(await listenTls(keyward));
    } catch (err) {
      for (const s of servers) await closeServer(s, 1000);
      await keyward.close();
      throw err;
    }
    log.info('keyward listening', {
      version: VERSION,
      url: `http://${config.host}:${config.port}`,
      mode: config.mode,
      ...(config.tls.certFile ? { tlsUrl: `https://${config.host}:${config.tls.port}` } : {}),
    });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info('shutting down', { signal });
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await Promise.all(servers.map((s) => closeServer(s)));
    await keyward.close();
    return 0;
  },
};
