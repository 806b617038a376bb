/**
 * `keyward serve`: listens, shuts down gracefully on SIGINT/SIGTERM (stop
 * accepting, finish in-flight requests for up to 10 s, close the store).
 */
import type { Server } from 'node:http';
import type { Keyward } from './compose.ts';

export class PortInUseError extends Error {
  constructor(port: number, variable: string) {
    super(`port ${port} is already in use; stop what is using it or choose another with ${variable}`);
    this.name = 'PortInUseError';
  }
}

/** Starts listening; resolves with the server once bound. */
export function listen(keyward: Keyward, host = keyward.config.host, port = keyward.config.port): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = keyward.app.listen(port, host);
    server.keepAliveTimeout = 65_000;
    server.once('listening', () => resolve(server));
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, 'KEYWARD_PORT') : err);
    });
  });
}

/** Closes the listener and waits for open requests, at most `graceMs`. */
export async function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, graceMs);
    t.unref();
    server.close(() => {
      clearTimeout(t);
      resolve();
    });
    server.closeIdleConnections();
  });
}
