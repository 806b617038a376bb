/**
 * tls-alpn-01 (RFC 8737): a TLS handshake with ALPN `acme-tls/1` and SNI
 * the name being validated; the server must present a self-signed
 * certificate whose only subject alternative name is that name and whose
 * critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31) holds the SHA-256
 * of the key authorization.
 */
import { createHash, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { decodeCertificate } from '../../ca/index.ts';
import { AcmeProblem } from '../problem.ts';
import type { AllowedNetworks } from './networks.ts';
import type { NameResolver } from './resolve.ts';

export const ACME_TLS_ALPN = 'acme-tls/1';
export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

export interface TlsAlpn01Options {
  readonly port: number;
  readonly timeoutMs: number;
  readonly networks: AllowedNetworks;
  readonly resolver: NameResolver;
}

function handshake(address: string, name: string, o: TlsAlpn01Options): Promise<{ alpn: string | false; der: Uint8Array | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: address,
      port: o.port,
      servername: name,
      ALPNProtocols: [ACME_TLS_ALPN],
      rejectUnauthorized: false,
      timeout: o.timeoutMs,
    });
    const timer = setTimeout(
      () => socket.destroy(new AcmeProblem('connection', `${name} did not complete the TLS handshake in time`)),
      o.timeoutMs,
    );
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = socket.getPeerX509Certificate();
      resolve({ alpn: socket.alpnProtocol ?? false, der: cert ? new Uint8Array(cert.raw) : undefined });
      socket.end();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof AcmeProblem ? err : new AcmeProblem('tls', `TLS handshake with ${name} failed: ${err.message}`));
    });
  });
}

/**
 * @throws AcmeProblem connection, dns, tls, unauthorized, incorrectResponse
 */
export async function validateTlsAlpn01(name: string, keyAuthorization: string, o: TlsAlpn01Options): Promise<string> {
  const [address] = o.networks.filter(name, await o.resolver.addresses(name));
  const { alpn, der } = await handshake(address!, name, o);
  if (alpn !== ACME_TLS_ALPN) throw new AcmeProblem('tls', `${name} did not negotiate ALPN ${ACME_TLS_ALPN}`);
  if (!der) throw new AcmeProblem('tls', `${name} presented no certificate`);
  const x = new X509Certificate(der);
  if (x.subjectAltName !== `DNS:${name}`)
    throw new AcmeProblem('unauthorized', `The certificate must name exactly DNS:${name}, not ${x.subjectAltName ?? 'nothing'}`);
  // Self-signed: signed by its own key (issuer checks of X509_check_issued would refuse the key usages clients set, e.g. lego).
  if (!x.verify(x.publicKey)) throw new AcmeProblem('unauthorized', 'The tls-alpn-01 certificate must be self-signed');
  const ext = decodeCertificate(der).extensions.get(ACME_IDENTIFIER_OID);
  if (!ext) throw new AcmeProblem('unauthorized', 'The certificate has no acmeIdentifier extension');
  if (!ext.critical) throw new AcmeProblem('unauthorized', 'The acmeIdentifier extension must be critical');
  const expected = Buffer.concat([Buffer.from([0x04, 0x20]), createHash('sha256').update(keyAuthorization).digest()]);
  if (Buffer.compare(Buffer.from(ext.value), expected) !== 0)
    throw new AcmeProblem('incorrectResponse', 'The acmeIdentifier extension does not hold the SHA-256 of the key authorization');
  return address!;
}
