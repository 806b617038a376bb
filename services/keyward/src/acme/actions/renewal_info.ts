/**
 * ACME Renewal Information (RFC 9773): `GET <renewalInfo>/<certID>`, where
 * certID is base64url(authority key identifier) "." base64url(serial DER
 * bytes) (§4.1). The suggested window is Keyward's renewal point: the last
 * third of the certificate's lifetime, its first half; a revoked certificate
 * is due at once (§4.2). Answers carry Retry-After (§4.3).
 */
import { decodeCertificate } from '../../ca/index.ts';
import type { AcmeContext } from '../context.ts';
import { AcmeProblem } from '../problem.ts';

/** How long clients wait before asking again (RFC 9773 §4.3). */
export const ARI_RETRY_AFTER_SECONDS = 6 * 3600;
const AKI_OID = '2.5.29.35';

/** The keyIdentifier [0] of an AuthorityKeyIdentifier extension value (RFC 5280 §4.2.1.1). */
function keyIdentifier(extValue: Uint8Array): Buffer | undefined {
  const b = Buffer.from(extValue);
  if (b[0] !== 0x30) return undefined;
  let i = 2;
  if (b[1]! & 0x80) i = 2 + (b[1]! & 0x7f);
  if (b[i] !== 0x80) return undefined;
  let len = b[i + 1]!;
  let start = i + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = b.readUIntBE(i + 2, n);
    start = i + 2 + n;
  }
  return b.subarray(start, start + len);
}

export interface RenewalInfo {
  readonly suggestedWindow: { readonly start: string; readonly end: string };
  readonly retryAfterSeconds: number;
}

export async function renewalInfo(ctx: AcmeContext, realm: string, certId: string): Promise<RenewalInfo> {
  await ctx.realms.getManaged(realm);
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(certId);
  if (!m) throw new AcmeProblem('malformed', 'The certificate identifier must be base64url(AKI).base64url(serial)');
  const aki = Buffer.from(m[1]!, 'base64url');
  const serial = Buffer.from(m[2]!, 'base64url')
    .toString('hex')
    .replace(/^0+(?=.)/, '');
  const record = await ctx.issuance.findBySerial(realm, serial);
  const ext = record && decodeCertificate(record.der).extensions.get(AKI_OID);
  const issuerKey = ext && keyIdentifier(ext.value);
  if (!record || !issuerKey || Buffer.compare(issuerKey, aki) !== 0)
    throw new AcmeProblem('malformed', 'This directory did not issue a certificate with that identifier', { status: 404 });
  const nb = record.notBefore.getTime();
  const life = record.notAfter.getTime() - nb;
  const now = ctx.clock.now().getTime();
  const window =
    record.status === 'revoked' ? { start: now - 3_600_000, end: now } : { start: nb + (life * 2) / 3, end: nb + (life * 5) / 6 };
  return {
    suggestedWindow: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
    retryAfterSeconds: ARI_RETRY_AFTER_SECONDS,
  };
}
