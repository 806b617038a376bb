/**
 * The development HTTPS listener's certificate: `keyward dev` makes one
 * (self-signed, ECDSA P-256, for 127.0.0.1 and localhost) under the data
 * directory when KEYWARD_TLS_CERT is not set, so client certificates and
 * device onboarding work in the demo without any setup. Reused while it has
 * more than a week left.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROFILES, backdate, generateCaKey, localSigner, signCertificate } from '../ca/index.ts';
import { newSerialHex } from '../kernel/ids.ts';

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
  const key = await generateCaKey('EC-P256');
  const signer = localSigner(key);
  const now = new Date();
  const { pem } = await signCertificate({
    issuer: { selfSigned: signer },
    profile: PROFILES.devTls,
    subject: [{ type: 'CN', value: 'Keyward development server' }],
    sans: { dns: ['localhost'], ip: ['127.0.0.1', '::1'], uri: [], email: [] },
    spki: signer.spki,
    serialHex: newSerialHex(),
    notBefore: backdate(now, PROFILES.devTls),
    notAfter: new Date(now.getTime() + 365 * DAY),
  });
  writeFileSync(keyFile, key.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
  writeFileSync(certFile, pem, { mode: 0o644 });
  return { certFile, keyFile, created: true };
}
