/** Port helpers for the development harness (loopback only). */
import { createServer } from 'node:net';

/**
 * A TCP port that is free on 127.0.0.1 right now (the kernel picks it). Another
 * process may take it before the caller binds it; the harness accepts that race.
 *
 * @example const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not obtain a free port on 127.0.0.1'))));
    });
  });
}

/**
 * Resolves when `port` can be bound on 127.0.0.1; otherwise rejects with a
 * one-line error naming the variable that chooses another port.
 *
 * @example await assertPortFree(8080, 'KEYWARD_KEYCLOAK_PORT');
 * // Error: port 8080 is already in use; stop what is using it or set KEYWARD_KEYCLOAK_PORT to another port (0 = any free port)
 */
export function assertPortFree(port: number, variableName: string): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return Promise.reject(new Error(`${variableName}=${port} is not a TCP port; use 1-65535, or 0 for any free port`));
  }
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new Error(`port ${port} is already in use; stop what is using it or set ${variableName} to another port (0 = any free port)`),
        );
      } else if (err.code === 'EACCES') {
        reject(new Error(`port ${port} needs privileges to bind; set ${variableName} to a port above 1023 (0 = any free port)`));
      } else {
        reject(err);
      }
    });
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}
