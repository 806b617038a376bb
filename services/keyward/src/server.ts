/**
 * `keyward serve`: listens, shuts down gracefully on SIGINT/SIGTERM (stop
 * accepting, finish in-flight requests for up to 10 s, close the store).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
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

/**
 * The HTTPS listener (KEYWARD_TLS_CERT / KEYWARD_TLS_KEY on KEYWARD_TLS_PORT).
 * It asks every client for a certificate but lets the handshake succeed
 * without one or with one it does not know: the application decides (a
 * Bearer token still works, an unknown certificate gets a precise 401), and
 * proof of possession is the handshake's own CertificateVerify.
 */
export function listenTls(keyward: Keyward, host = keyward.config.host, port = keyward.config.tls.port): Promise<Server> {
  const { certFile, keyFile } = keyward.config.tls;
  if (!certFile || !keyFile) throw new TypeError('TLS is not configured');
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certFile);
    key = readFileSync(keyFile);
  } catch (err) {
    throw new Error(`cannot read the TLS certificate or key (KEYWARD_TLS_CERT / KEYWARD_TLS_KEY): ${(err as Error).message}`);
  }
  return new Promise((resolve, reject) => {
    const server = createHttpsServer({ cert, key, requestCert: true, rejectUnauthorized: false }, keyward.app);
    server.keepAliveTimeout = 65_000;
    server.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, 'KEYWARD_TLS_PORT') : err);
    });
  });
}

/**
 * Stops a server gracefully: every request already sent gets its answer, then
 * the process may exit.
 *
 * A busy process has connections that the kernel accepted but the process has
 * not picked up yet (the listen backlog), and requests that arrived but are
 * not read yet. Closing the listener at once resets the first, and Node's own
 * `server.close()` also closes every connection with no request in progress,
 * which includes the second. So: for `drainMs` the listener stays open while
 * every answer carries `Connection: close`; then it is closed, connections idle
 * between requests are closed (and again every 50 ms), and what is still open
 * after `graceMs` is cut.
 */
export async function closeServer(server: Server, graceMs = 10_000, drainMs = Math.min(1000, graceMs / 4)): Promise<void> {
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
  });
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, drainMs).unref());
  const timers: NodeJS.Timeout[] = [];
  await new Promise<void>((resolve) => {
    const done = () => {
      for (const t of timers) clearTimeout(t);
      resolve();
    };
    const later = (fn: () => void, ms: number) => timers.push(setTimeout(fn, ms).unref());
    later(
      () => {
        server.closeAllConnections();
        done();
      },
      Math.max(0, graceMs - (Date.now() - started)),
    );
    // Stops accepting; the callback runs once every connection has ended.
    NetServer.prototype.close.call(server, () => done());
    const sweep = () => {
      server.closeIdleConnections();
      later(sweep, 50);
    };
    sweep();
  });
}
