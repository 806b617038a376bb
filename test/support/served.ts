/**
 * A Keyward served in this process on a port chosen before it starts, so its
 * KEYWARD_PUBLIC_URL (the console client's redirect URI, the session cookie's
 * origin) is known up front; the console tests and browser tests use it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose, type Keyward } from '../../services/keyward/src/compose.ts';
import { freePort } from '../../services/keyward/src/devenv/index.ts';
import { loadConfig } from '../../services/keyward/src/kernel/config.ts';
import { createLogger } from '../../services/keyward/src/kernel/log.ts';
import { closeServer, listen } from '../../services/keyward/src/server.ts';
import { replicaEnv } from './env.ts';

export { freePort };

export interface ServedKeyward {
  /** Where this process listens (`http://127.0.0.1:<port>`). */
  readonly url: string;
  readonly keyward: Keyward;
  /** Stops it once; later calls wait for the same stop. */
  close(): Promise<void>;
}

/** Serves a Keyward on `port`; KEYWARD_PUBLIC_URL is its own address unless `overrides` name another (a replica's). */
export async function serveOnPort(port: number, overrides: Record<string, string> = {}): Promise<ServedKeyward> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-served-'));
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig(
    await replicaEnv({ KEYWARD_PORT: String(port), KEYWARD_DATA_DIR: dataDir, KEYWARD_PUBLIC_URL: url, ...overrides }),
  );
  const keyward = await compose(config, { log: createLogger({ level: 'error' }) });
  const server = await listen(keyward, '127.0.0.1', port);
  let closed: Promise<void> | undefined;
  return {
    url,
    keyward,
    close: () =>
      (closed ??= (async () => {
        await closeServer(server, 500);
        await keyward.close();
        rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}
