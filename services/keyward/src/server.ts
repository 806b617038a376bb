/**
 * `keyward serve`: listens, shuts down gracefully on SIGINT/SIGTERM (stop
 * accepting, finish in-flight requests for up to 10 s, close the store).
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
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
