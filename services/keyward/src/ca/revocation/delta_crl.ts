/**
 * Delta CRLs (RFC 5280 §5.2.4): what changed since a complete CRL, its base.
 * A delta lists the certificates revoked or put on hold since the base, those
 * whose reason changed (a hold made permanent), and, with reason
 * `removeFromCRL` (§5.3.1), those the base lists that are no longer revoked
 * (released from hold). It carries the critical deltaCRLIndicator naming the
 * base's cRLNumber and shares the base's issuer and numbering.
 *
 * The base is read back from its own DER (`crlEntries`), so the delta needs
 * no other record of what the base listed.
 */
import { DerError, children, contents, expectTag, readOid, readRoot, readTime, readUnsignedHex, type Tlv } from '../der/reader.ts';
import { TAG } from '../der/writer.ts';
import { OID } from '../oids.ts';
import type { RevokedCertificate } from '../ports.ts';
import { buildCrl, type CrlRequest } from './crl.ts';
import { reasonName, type RevocationReason } from './reasons.ts';

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

function entryReason(der: Uint8Array, exts: Tlv | undefined): RevocationReason {
  if (!exts) return 'unspecified';
  for (const ext of children(der, expectTag(exts, TAG.SEQUENCE, 'crlEntryExtensions'))) {
    const parts = children(der, expectTag(ext, TAG.SEQUENCE, 'Extension'));
    if (readOid(der, expectTag(parts[0], TAG.OID, 'extnID')) !== OID.cRLReason) continue;
    const value = contents(der, expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue'));
    const code = readRoot(value, TAG.ENUMERATED);
    return reasonName(value[code.body] ?? 0) ?? 'unspecified';
  }
  return 'unspecified';
}

/**
 * The entries of a DER CRL (serial as lowercase hex without leading zeros, revocation date, reason).
 * @example crlEntries(storedCrl.der) // → [{ serialHex: '1f…', revokedAt, reason: 'certificateHold' }]
 * @throws DerError when the bytes are not a CRL
 */
export function crlEntries(input: Uint8Array): RevokedCertificate[] {
  const der = input.slice();
  const [tbs] = children(der, readRoot(der, TAG.SEQUENCE));
  const fields = children(der, expectTag(tbs, TAG.SEQUENCE, 'tbsCertList'));
  let i = fields[0]?.tag === TAG.INTEGER ? 1 : 0;
  i += 3; // signature, issuer, thisUpdate
  if (fields[i]?.tag === UTC_TIME || fields[i]?.tag === GENERALIZED_TIME) i++; // nextUpdate
  const list = fields[i];
  if (!list || list.tag !== TAG.SEQUENCE) return [];
  return children(der, list).map((e) => {
    const [serial, date, exts] = children(der, expectTag(e, TAG.SEQUENCE, 'revokedCertificate'));
    if (!serial || !date) throw new DerError('a CRL entry has a serial and a date');
    return {
      serialHex: readUnsignedHex(der, expectTag(serial, TAG.INTEGER, 'userCertificate')).replace(/^0+(?=.)/, ''), // as stored
      revokedAt: readTime(der, date),
      reason: entryReason(der, exts),
    };
  });
}

/**
 * The entries of a delta CRL over `base`: current entries that the base lacks
 * or lists with another reason, then `removeFromCRL` for base entries no
 * longer revoked (`removedAt` gives the date written for them).
 */
export function deltaEntries(
  base: readonly RevokedCertificate[],
  current: readonly RevokedCertificate[],
  removedAt: (serialHex: string) => Date,
): RevokedCertificate[] {
  const listed = new Map(base.map((e) => [e.serialHex, e.reason]));
  const now = new Set(current.map((e) => e.serialHex));
  const out = current.filter((e) => listed.get(e.serialHex) !== e.reason);
  for (const e of base) {
    if (!now.has(e.serialHex)) out.push({ serialHex: e.serialHex, revokedAt: removedAt(e.serialHex), reason: 'removeFromCRL' });
  }
  return out;
}

export interface DeltaCrlRequest extends Omit<CrlRequest, 'baseCrlNumber' | 'freshestCrlUrl'> {
  /** The cRLNumber of the complete CRL this delta updates; lower than crlNumber (one numbering for both, §5.2.4). */
  readonly baseCrlNumber: bigint;
}

/**
 * Signs a delta CRL (DER, `application/pkix-crl`).
 * @example
 * const entries = deltaEntries(crlEntries(base.der), revokedNow, (serial) => releasedAt(serial));
 * await buildDeltaCrl({ ca, baseCrlNumber: 7n, crlNumber: 8n, entries, thisUpdate, nextUpdate });
 */
export function buildDeltaCrl(r: DeltaCrlRequest): Promise<Uint8Array> {
  return buildCrl(r);
}
