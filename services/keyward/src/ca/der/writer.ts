/**
 * A lean DER writer (ITU-T X.690 §10) for the hot paths: certificate
 * templates, CRLs and OCSP responses (the generic ASN.1 object
 * model costs more than the signature it wraps). Every function returns the
 * complete encoding of one value; `tlv` writes its parts with one allocation.
 *
 * Only what Keyward emits is here: definite lengths, low tag numbers,
 * minimal INTEGERs, UTCTime/GeneralizedTime at second precision. Misuse
 * (a bad hex string, a non-printable PrintableString) throws TypeError: the
 * validators refuse untrusted input before anything is encoded.
 */

/** Tag octets (class | constructed | number) used by Keyward. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** `[n]` context-specific tag, constructed (EXPLICIT or an IMPLICIT constructed type). */
export const contextConstructed = (n: number): number => 0xa0 | n;
/** `[n]` context-specific tag, primitive (IMPLICIT over a primitive type). */
export const contextPrimitive = (n: number): number => 0x80 | n;

function headerLength(length: number): number {
  if (length < 0x80) return 2;
  if (length < 0x100) return 3;
  if (length < 0x10000) return 4;
  if (length < 0x1000000) return 5;
  return 6;
}

function writeHeader(out: Buffer, tag: number, length: number): number {
  out[0] = tag;
  if (length < 0x80) {
    out[1] = length;
    return 2;
  }
  const n = headerLength(length) - 2;
  out[1] = 0x80 | n;
  for (let i = n; i > 0; i--) {
    out[1 + i] = length & 0xff;
    length = Math.floor(length / 256);
  }
  return 2 + n;
}

/** The identifier and length octets of a TLV whose `length` content octets are written separately (streamed output). */
export function tlvHeader(tag: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(headerLength(length));
  writeHeader(out, tag, length);
  return out;
}

/** One TLV whose content is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Buffer {
  return tlvOf(tag, parts);
}

/** {@link tlv} over an array (avoids spreading 100,000 CRL entries). */
export function tlvOf(tag: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(headerLength(length) + length);
  let at = writeHeader(out, tag, length);
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const sequence = (...parts: readonly Uint8Array[]): Buffer => tlvOf(TAG.SEQUENCE, parts);
export const set = (...parts: readonly Uint8Array[]): Buffer => tlvOf(TAG.SET, parts);
export const explicit = (n: number, ...parts: readonly Uint8Array[]): Buffer => tlvOf(contextConstructed(n), parts);
export const octetString = (bytes: Uint8Array): Buffer => tlvOf(TAG.OCTET_STRING, [bytes]);
export const NULL = Buffer.from([TAG.NULL, 0]);
export const TRUE = Buffer.from([TAG.BOOLEAN, 1, 0xff]);

/** BIT STRING with no unused bits (keys, signatures). */
export function bitString(bytes: Uint8Array): Buffer {
  return tlvOf(TAG.BIT_STRING, [ZERO, bytes]);
}
const ZERO = Buffer.from([0]);

/**
 * A named-bit BIT STRING (X.690 §11.2.2: trailing zero bits removed), e.g.
 * KeyUsage. `bits` are bit numbers as the ASN.1 module names them (0 = MSB of
 * the first octet).
 */
export function namedBitString(bits: Iterable<number>): Buffer {
  let max = -1;
  const octets: number[] = [];
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new TypeError(`bad bit number ${b}`);
    const i = b >> 3;
    while (octets.length <= i) octets.push(0);
    octets[i] = octets[i]! | (0x80 >> (b & 7));
    if (b > max) max = b;
  }
  if (max < 0) return Buffer.from([TAG.BIT_STRING, 1, 0]);
  const unused = 7 - (max & 7);
  return tlv(TAG.BIT_STRING, Buffer.from([unused, ...octets]));
}

/** A non-negative INTEGER from big-endian magnitude octets (leading zeros removed, sign octet added). */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const body = magnitude.subarray(i);
  if (body.length === 0) return Buffer.from([TAG.INTEGER, 1, 0]);
  return body[0]! & 0x80 ? tlv(TAG.INTEGER, ZERO, body) : tlv(TAG.INTEGER, body);
}

const HEX = /^(?:[0-9a-f]{2})+$/;

/** A positive INTEGER from lowercase hex (a serial number). */
export function integerFromHex(hex: string): Buffer {
  const even = hex.length % 2 ? `0${hex}` : hex;
  if (!HEX.test(even)) throw new TypeError(`not lowercase hex: ${hex}`);
  return unsignedInteger(Buffer.from(even, 'hex'));
}

/** A non-negative INTEGER from a number or bigint. */
export function integer(value: number | bigint): Buffer {
  const v = BigInt(value);
  if (v < 0n) throw new TypeError('negative INTEGERs are not written here');
  return integerFromHex(v.toString(16));
}

/** ENUMERATED with a small non-negative value. */
export function enumerated(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 127) throw new TypeError(`bad ENUMERATED ${value}`);
  return Buffer.from([TAG.ENUMERATED, 1, value]);
}

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted form, cached. */
export function oid(dotted: string): Buffer {
  let out = oidCache.get(dotted);
  if (out) return out;
  const arcs = dotted.split('.').map((a) => {
    if (!/^(0|[1-9]\d*)$/.test(a)) throw new TypeError(`bad OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new TypeError(`bad OID ${dotted}`);
  const bytes: number[] = [];
  const push = (v: bigint) => {
    const group: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...group);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  out = tlv(TAG.OID, Buffer.from(bytes));
  oidCache.set(dotted, out);
  return out;
}

export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));

/** X.680 PrintableString characters. */
export const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
export const IA5 = /^[\x00-\x7f]*$/;

export function printableString(s: string): Buffer {
  if (!PRINTABLE.test(s)) throw new TypeError(`not a PrintableString: ${JSON.stringify(s)}`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
}

export function ia5String(s: string): Buffer {
  if (!IA5.test(s)) throw new TypeError(`not an IA5String: ${JSON.stringify(s)}`);
  return tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
}

/** IMPLICIT-tagged IA5String, e.g. a GeneralName dNSName [2] or URI [6]. */
export function implicitIa5(n: number, s: string): Buffer {
  if (!IA5.test(s)) throw new TypeError(`not an IA5String: ${JSON.stringify(s)}`);
  return tlv(contextPrimitive(n), Buffer.from(s, 'latin1'));
}

function putDigits(out: Buffer, at: number, value: number, width: number): void {
  for (let i = width - 1; i >= 0; i--) {
    out[at + i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

function checkDate(d: Date): number {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new TypeError('invalid date');
  return t;
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.2: no fractions). */
export function generalizedTime(d: Date): Buffer {
  checkDate(d);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new TypeError('year out of range');
  const out = Buffer.allocUnsafe(17);
  out[0] = TAG.GENERALIZED_TIME;
  out[1] = 15;
  putDigits(out, 2, year, 4);
  putDigits(out, 6, d.getUTCMonth() + 1, 2);
  putDigits(out, 8, d.getUTCDate(), 2);
  putDigits(out, 10, d.getUTCHours(), 2);
  putDigits(out, 12, d.getUTCMinutes(), 2);
  putDigits(out, 14, d.getUTCSeconds(), 2);
  out[16] = 0x5a;
  return out;
}

/** RFC 5280 §4.1.2.5 Time: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Buffer {
  checkDate(d);
  const year = d.getUTCFullYear();
  if (year < 1950 || year >= 2050) return generalizedTime(d);
  const out = Buffer.allocUnsafe(15);
  out[0] = TAG.UTC_TIME;
  out[1] = 13;
  putDigits(out, 2, year % 100, 2);
  putDigits(out, 4, d.getUTCMonth() + 1, 2);
  putDigits(out, 6, d.getUTCDate(), 2);
  putDigits(out, 8, d.getUTCHours(), 2);
  putDigits(out, 10, d.getUTCMinutes(), 2);
  putDigits(out, 12, d.getUTCSeconds(), 2);
  out[14] = 0x5a;
  return out;
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (DER omits a FALSE default). */
export function extension(extnId: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? sequence(oid(extnId), TRUE, octetString(value)) : sequence(oid(extnId), octetString(value));
}
