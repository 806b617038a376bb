/**
 * Keycloak's truststore directory (its `--truststore-paths`, PEM files scanned recursively; server guide
 * "Configuring trusted certificates", checked on 26.7.3): Keyward writes there the CA certificate of each realm
 * whose API clients authenticate with certificates (RFC 8705 §2), so that Keycloak's TLS listener accepts their
 * certificates. Keycloak builds its truststore at start: a CA written later is trusted after Keycloak's next restart.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file of a realm's CA in the directory. */
export const truststoreFile = (dir: string, realm: string): string => join(dir, `keyward-${encodeURIComponent(realm)}.pem`);

/**
 * Writes (or replaces) the realm's CA PEM atomically; returns whether the file changed.
 * @example publishRealmCa('/etc/keycloak/truststores/keyward', 'demo', pem)
 */
export function publishRealmCa(dir: string, realm: string, pem: string): boolean {
  const file = truststoreFile(dir, realm);
  const content = pem.endsWith('\n') ? pem : `${pem}\n`;
  try {
    if (readFileSync(file, 'utf8') === content) return false;
  } catch {
    /* not there yet */
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, file);
  return true;
}
