/**
 * The certificate a caller presented in the TLS handshake of Keyward's HTTPS
 * listener (which asks every client for one and lets the application decide).
 * Possession of its key is proven by the handshake's own CertificateVerify
 * (RFC 8446 §4.4.3). Plain HTTP, and a forwarded header, yield nothing: a
 * renewal authenticated by the certificate needs the handshake itself.
 */
import type { Request } from 'express';
import type { TLSSocket } from 'node:tls';

/** The DER of the peer's own certificate, or undefined when the caller presented none. */
export function peerCertificateDer(req: Request): Uint8Array | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.encrypted || typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  return peer?.raw?.length ? new Uint8Array(peer.raw) : undefined;
}
