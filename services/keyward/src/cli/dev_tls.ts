/**
 * The development HTTPS listener's certificate: `keyward dev` makes one
 * (self-signed, ECDSA P-256, for 127.0.0.1 and localhost) under the data
 * directory when KEYWARD_TLS_CERT is not set, so client certificates and
 * device onboarding work in the demo without any setup. Reused while it has
 * more than a week left.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../ca/pem.ts';
import { newSerialHex } from '../kernel/ids.ts';

x509.cryptoProvider.set(webcrypto as never);

const DAY = 86_400_000;

export async function ensureDevTls(dataDir: string): Promise<{ certFile: string; keyFile: string; created: boolean }> {
  const dir = join(dataDir, 'dev-tls');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      if (new Date(new X509Certificate(readFileSync(certFile)).validTo).getTime() - Date.now() > 7 * DAY)
        return { certFile, keyFile, created: false };
    } catch {
      /* unreadable: make a new one */
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerialHex(),
    name: 'CN=Keyward development server',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * DAY),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
  writeFileSync(keyFile, toPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY'), { mode: 0o600 });
  writeFileSync(certFile, cert.toString('pem') + '\n', { mode: 0o644 });
  return { certFile, keyFile, created: true };
}
