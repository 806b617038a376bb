/**
 * OCSP (RFC 6960): decoding requests, recognising which CA they are about,
 * and signing BasicOCSPResponses with the issuing CA's own key (§4.2.2.2
 * allows the CA itself to sign; no delegated responder certificate needed).
 *
 * Requests are decoded by the strict DER reader and responses written
 * directly as DER (target ≥ 5,000 responses/s);
 * test/unit/ca/ocsp.test.ts checks both against @peculiar/asn1-ocsp and
 * `openssl ocsp`.
 */
import { timingSafeEqual } from 'node:crypto';
import { KeywardError } from '../../kernel/errors.ts';
import { assembleSigned } from '../certificate.ts';
import type { CaContext, CertIdDigest } from '../ca_context.ts';
import { DerError, children, contents, expectTag, readOid, readRoot, readUnsignedHex, whole, type Tlv } from '../der/reader.ts';
import { enumerated, explicit, generalizedTime, octetString, oid, sequence, tlv, tlvOf, contextConstructed, TAG } from '../der/writer.ts';
import { OID } from '../oids.ts';
import type { CertificateStatus, CertificateStatusLookup } from '../ports.ts';
import { REASON_CODES } from './reasons.ts';

/** One CertID of a request (RFC 6960 §4.1.1). */
export interface CertId {
  /** OID of the hash algorithm. */
  readonly hashAlgorithm: string;
  /** The node:crypto digest, when it is one Keyward recognises. */
  readonly digest: CertIdDigest | undefined;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  readonly serialHex: string;
  /** The CertID DER as received, echoed in the response. */
  readonly der: Uint8Array;
}

export interface OcspRequest {
  readonly certIds: readonly CertId[];
  /** The nonce extension (RFC 8954) as received, whole, to echo; undefined when absent. */
  readonly nonceExtension: Uint8Array | undefined;
}

export type OcspErrorStatus = 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

const RESPONSE_STATUS: Readonly<Record<'successful' | OcspErrorStatus, number>> = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
};

const DIGESTS: Readonly<Record<string, CertIdDigest>> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

/** At most this many CertIDs per request; real clients send one. */
export const MAX_CERT_IDS = 64;
/** RFC 8954 §2.1: nonces of 1 to 32 octets; a little room for the OCTET STRING wrapping. */
const MAX_NONCE_VALUE = 40;

const malformed = (detail: string, cause?: unknown): KeywardError =>
  new KeywardError('ocsp.malformed', `The OCSP request is malformed: ${detail}`, cause === undefined ? {} : { cause });

function readCertId(der: Uint8Array, t: Tlv): CertId {
  expectTag(t, TAG.SEQUENCE, 'CertID');
  const [alg, nameHash, keyHash, serial, ...rest] = children(der, t);
  if (rest.length) throw new DerError('CertID has four fields');
  const hashAlgorithm = readOid(der, expectTag(children(der, expectTag(alg, TAG.SEQUENCE, 'hashAlgorithm'))[0], TAG.OID, 'hash algorithm'));
  return {
    hashAlgorithm,
    digest: DIGESTS[hashAlgorithm],
    issuerNameHash: contents(der, expectTag(nameHash, TAG.OCTET_STRING, 'issuerNameHash')),
    issuerKeyHash: contents(der, expectTag(keyHash, TAG.OCTET_STRING, 'issuerKeyHash')),
    serialHex: readUnsignedHex(der, expectTag(serial, TAG.INTEGER, 'serialNumber')),
    der: whole(der, t),
  };
}

/**
 * Decodes a DER OCSPRequest. Signed requests are accepted; their signature
 * is not checked (RFC 6960 §4.1.2: optional, and Keyward answers anyone).
 * @example const { certIds, nonceExtension } = parseOcspRequest(body);
 * @throws KeywardError ocsp.malformed
 */
export function parseOcspRequest(input: Uint8Array): OcspRequest {
  if (!(input instanceof Uint8Array)) throw new TypeError('parseOcspRequest takes DER bytes');
  const der = input.slice();
  try {
    const root = readRoot(der, TAG.SEQUENCE);
    const [tbs, signature, ...rest] = children(der, root);
    if (rest.length || (signature && signature.tag !== 0xa0)) throw new DerError('OCSPRequest has a tbsRequest and an optional signature');
    const fields = children(der, expectTag(tbs, TAG.SEQUENCE, 'tbsRequest'));
    let i = 0;
    if (fields[i]?.tag === 0xa0) {
      const [v] = children(der, fields[i]!);
      if (!v || v.tag !== TAG.INTEGER || contents(der, v).length !== 1 || der[v.body] !== 0)
        throw new DerError('unknown OCSP request version');
      i++;
    }
    if (fields[i]?.tag === 0xa1) i++; // requestorName
    const list = children(der, expectTag(fields[i], TAG.SEQUENCE, 'requestList'));
    i++;
    if (list.length === 0) throw new DerError('empty requestList');
    if (list.length > MAX_CERT_IDS) throw new DerError(`more than ${MAX_CERT_IDS} CertIDs`);
    const certIds = list.map((req) => {
      const [certId, ...more] = children(der, expectTag(req, TAG.SEQUENCE, 'Request'));
      if (more.length > 1 || (more[0] && more[0].tag !== 0xa0)) throw new DerError('Request has a CertID and optional extensions');
      return readCertId(der, certId!);
    });
    let nonceExtension: Uint8Array | undefined;
    if (fields[i]) {
      const [exts] = children(der, expectTag(fields[i], 0xa2, 'requestExtensions'));
      for (const ext of children(der, expectTag(exts, TAG.SEQUENCE, 'Extensions'))) {
        const parts = children(der, expectTag(ext, TAG.SEQUENCE, 'Extension'));
        if (readOid(der, expectTag(parts[0], TAG.OID, 'extnID')) !== OID.ocspNonce) continue;
        const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'nonce extnValue');
        if (value.end - value.body > MAX_NONCE_VALUE || value.end === value.body)
          throw new DerError('nonce of an unreasonable length (RFC 8954: 1 to 32 octets)');
        nonceExtension = whole(der, ext);
      }
      i++;
    }
    if (fields[i]) throw new DerError('unexpected field in tbsRequest');
    return { certIds, nonceExtension };
  } catch (err) {
    if (err instanceof DerError) throw malformed(err.message, err);
    throw err;
  }
}

/**
 * The DER request of an OCSP GET (RFC 6960 Appendix A.1: the URL-encoded
 * base64 of the DER after the responder's path). Accepts standard and URL-safe
 * base64, percent-encoded or not.
 * @throws KeywardError ocsp.malformed
 */
export function ocspRequestFromGetPath(segment: string): Uint8Array {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch (err) {
    throw malformed('the GET path is not valid percent-encoding', err);
  }
  text = text.replace(/^\/+/, '');
  if (text.length === 0 || text.length > 4096 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw malformed('the GET path is not base64');
  const der = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (der.length === 0) throw malformed('the GET path is empty');
  return new Uint8Array(der);
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);

/** True when the CertID names `ca` as the issuer (issuer name and key hashes match, RFC 6960 §4.1.1). */
export function isIssuedBy(certId: CertId, ca: CaContext): boolean {
  if (!certId.digest) return false;
  const h = ca.certIdHashes[certId.digest];
  return equal(certId.issuerNameHash, h.name) && equal(certId.issuerKeyHash, h.key);
}

// ------------------------------------------------------------------ responses

/** An OCSPResponse without responseBytes: malformedRequest, unauthorized, … (RFC 6960 §4.2.1). */
export function ocspErrorResponse(status: OcspErrorStatus): Uint8Array {
  const code = RESPONSE_STATUS[status];
  if (code === undefined || code === 0) throw new TypeError(`not an OCSP error status: ${status}`);
  return sequence(enumerated(code));
}

const GOOD = Buffer.from([0x80, 0]);
const UNKNOWN = Buffer.from([0x82, 0]);
const SUCCESSFUL = enumerated(0);
const BASIC = oid(OID.ocspBasic);

function certStatus(s: CertificateStatus): Buffer {
  switch (s.status) {
    case 'good':
      return GOOD;
    case 'unknown':
      return UNKNOWN;
    case 'revoked': {
      const code = REASON_CODES[s.reason];
      if (code === undefined) throw new TypeError(`unknown revocation reason ${String(s.reason)}`);
      // revoked [1] IMPLICIT RevokedInfo { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
      return s.reason === 'unspecified'
        ? tlv(contextConstructed(1), generalizedTime(s.revokedAt))
        : tlv(contextConstructed(1), generalizedTime(s.revokedAt), explicit(0, enumerated(code)));
    }
    default:
      throw new TypeError('unknown certificate status');
  }
}

export interface OcspResponseRequest {
  readonly ca: CaContext;
  readonly responses: readonly { readonly certId: CertId; readonly status: CertificateStatus }[];
  /** The request's nonce extension, echoed (RFC 8954). */
  readonly nonceExtension?: Uint8Array | undefined;
  readonly now: Date;
  /** How long the answers may be cached: nextUpdate = now + this. Default 3600. */
  readonly validitySeconds?: number;
}

/**
 * Signs a successful BasicOCSPResponse (responderID byKey, producedAt and
 * thisUpdate = now, nextUpdate = now + validitySeconds).
 */
export async function buildOcspResponse(r: OcspResponseRequest): Promise<Uint8Array> {
  if (r.responses.length === 0) throw new TypeError('an OCSP response answers at least one CertID');
  const now = new Date(Math.floor(r.now.getTime() / 1000) * 1000);
  const produced = generalizedTime(now);
  const next = explicit(0, generalizedTime(new Date(now.getTime() + (r.validitySeconds ?? 3600) * 1000)));
  const singles = r.responses.map((x) => tlvOf(TAG.SEQUENCE, [x.certId.der, certStatus(x.status), produced, next]));
  const data: Uint8Array[] = [
    explicit(2, octetString(r.ca.certIdHashes.sha1.key)), // responderID byKey: SHA-1 of the CA's public key bits
    produced,
    tlvOf(TAG.SEQUENCE, singles),
  ];
  if (r.nonceExtension) data.push(explicit(1, sequence(r.nonceExtension)));
  const tbs = tlvOf(TAG.SEQUENCE, data);
  const basic = assembleSigned(tbs, r.ca.der.signatureAlgorithm, await r.ca.signer.sign(tbs));
  return sequence(SUCCESSFUL, explicit(0, sequence(BASIC, octetString(basic))));
}

/**
 * Answers a DER OCSP request for `ca` in one call: malformedRequest for a
 * request that does not decode, unauthorized when none of its CertIDs names
 * this CA, otherwise each CertID's status (`unknown` for those about other
 * issuers).
 * @example res.type('application/ocsp-response').send(await answerOcsp(ca, body, (serial) => store.status(ca, serial), clock.now()));
 */
export async function answerOcsp(
  ca: CaContext,
  requestDer: Uint8Array,
  lookup: CertificateStatusLookup,
  now: Date,
  options: { validitySeconds?: number } = {},
): Promise<Uint8Array> {
  let request: OcspRequest;
  try {
    request = parseOcspRequest(requestDer);
  } catch (err) {
    if (err instanceof KeywardError) return ocspErrorResponse('malformedRequest');
    throw err;
  }
  const mine = request.certIds.map((id) => isIssuedBy(id, ca));
  if (!mine.some(Boolean)) return ocspErrorResponse('unauthorized');
  const responses = [];
  for (const [i, certId] of request.certIds.entries()) {
    responses.push({ certId, status: mine[i] ? await lookup(certId.serialHex) : ({ status: 'unknown' } as const) });
  }
  return buildOcspResponse({ ca, responses, nonceExtension: request.nonceExtension, now, ...options });
}
