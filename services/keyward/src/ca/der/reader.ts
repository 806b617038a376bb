/**
 * A strict, allocation-light DER reader for the untrusted structures on the
 * hot paths (CSRs, OCSP requests) and for slicing exact bytes out of our own
 * certificates (a CA's subject name must be copied byte for byte into the
 * issuer field of what it signs, RFC 5280 §7.1).
 *
 * Strict means DER, not BER (X.690 §10.1): definite lengths in their shortest
 * form, single-octet tag numbers, nothing after the outermost value. Every
 * violation throws {@link DerError}; callers translate it into their own
 * error code (`csr.malformed`, `ocsp.malformed`), keeping it as `cause`.
 */

export class DerError extends Error {
  override name = 'DerError';
}

/** One decoded TLV: offsets into the buffer it was read from. */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly body: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** Reads the TLV at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-octet tag numbers are not used here');
  let length = buf[offset + 1]!;
  let body = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0) throw new DerError('indefinite length (BER, not DER)');
    if (n > 4) throw new DerError('length too large');
    if (body + n > limit) throw new DerError('truncated length');
    if (buf[body] === 0) throw new DerError('non-minimal length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[body + i]!;
    if (length < 0x80) throw new DerError('non-minimal length');
    body += n;
  }
  const end = body + length;
  if (end > limit) throw new DerError('truncated value');
  return { tag, start: offset, body, end };
}

/** Reads a whole buffer as exactly one TLV of the expected tag. */
export function readRoot(buf: Uint8Array, tag: number): Tlv {
  const t = readTlv(buf, 0, buf.length);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  if (t.end !== buf.length) throw new DerError('trailing data');
  return t;
}

/** The TLVs inside a constructed value. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if (!(parent.tag & 0x20)) throw new DerError('expected a constructed value');
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end;) {
    const t = readTlv(buf, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`${what} is missing`);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

/** Content octets (a view, not a copy). */
export const contents = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.body, t.end);
/** The whole TLV (a view, not a copy). */
export const whole = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.start, t.end);

const oidNames = new Map<string, string>();

/** OBJECT IDENTIFIER → dotted form (cached by encoding). */
export function readOid(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06) throw new DerError('expected an OBJECT IDENTIFIER');
  const bytes = contents(buf, t);
  if (bytes.length === 0 || bytes.length > 64) throw new DerError('bad OBJECT IDENTIFIER length');
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  const cached = oidNames.get(key);
  if (cached) return cached;
  const arcs: bigint[] = [];
  let v = 0n;
  let fresh = true;
  for (const b of bytes) {
    if (fresh && b === 0x80) throw new DerError('non-minimal OID arc');
    v = (v << 7n) | BigInt(b & 0x7f);
    fresh = !(b & 0x80);
    if (fresh) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (!fresh) throw new DerError('truncated OID arc');
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  const dotted = [...head, ...arcs.slice(1)].join('.');
  if (oidNames.size < 10_000) oidNames.set(key, dotted);
  return dotted;
}

/** A DER INTEGER as lowercase hex of its magnitude; refuses negative values. */
export function readUnsignedHex(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x02) throw new DerError('expected an INTEGER');
  const b = contents(buf, t);
  if (b.length === 0) throw new DerError('empty INTEGER');
  if (b.length > 1 && ((b[0] === 0 && !(b[1]! & 0x80)) || (b[0] === 0xff && b[1]! & 0x80))) throw new DerError('non-minimal INTEGER');
  if (b[0]! & 0x80) throw new DerError('negative INTEGER');
  // Even-length lowercase hex without the sign octet, as openssl prints serials.
  return Buffer.from(b.buffer, b.byteOffset, b.length)
    .toString('hex')
    .replace(/^00(?=..)/, '');
}

/** A small non-negative INTEGER (versions). */
export function readSmallInteger(buf: Uint8Array, t: Tlv): number {
  const hex = readUnsignedHex(buf, t);
  if (hex.length > 6) throw new DerError('INTEGER too large');
  return parseInt(hex, 16);
}

/** BIT STRING content without the unused-bits octet; refuses unused bits (keys, signatures). */
export function readOctetAlignedBits(buf: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== 0x03) throw new DerError('expected a BIT STRING');
  if (t.end - t.body < 1) throw new DerError('empty BIT STRING');
  if (buf[t.body] !== 0) throw new DerError('BIT STRING with unused bits');
  return buf.subarray(t.body + 1, t.end);
}

const utf16be = new TextDecoder('utf-16be', { fatal: true });
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A character string of any ASN.1 string type X.509 names use, as text. */
export function readString(buf: Uint8Array, t: Tlv): string {
  const b = contents(buf, t);
  try {
    switch (t.tag) {
      case 0x0c: // UTF8String
        return utf8.decode(b);
      case 0x12: // NumericString
      case 0x13: // PrintableString
      case 0x16: // IA5String
      case 0x1a: // VisibleString
        for (const c of b) if (c > 0x7f) throw new DerError('non-ASCII octet in an ASCII string type');
        return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
      case 0x14: // TeletexString: treated as ISO 8859-1, as most toolkits do
        return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
      case 0x1e: // BMPString
        return utf16be.decode(b);
      case 0x1c: {
        // UniversalString (UTF-32BE)
        if (b.length % 4) throw new DerError('bad UniversalString length');
        let s = '';
        for (let i = 0; i < b.length; i += 4)
          s += String.fromCodePoint(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0);
        return s;
      }
      default:
        throw new DerError(`tag 0x${t.tag.toString(16)} is not a character string`);
    }
  } catch (err) {
    if (err instanceof DerError) throw err;
    throw new DerError('invalid character string encoding');
  }
}

/** UTCTime or GeneralizedTime (the `Z` forms DER allows, X.690 §11.7–11.8). */
export function readTime(buf: Uint8Array, t: Tlv): Date {
  const s = Buffer.from(contents(buf, t)).toString('latin1');
  let m: RegExpExecArray | null;
  if (t.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    return utc(yy < 50 ? 2000 + yy : 1900 + yy, m.slice(2));
  }
  if (t.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\.\d*[1-9])?Z$/.exec(s))) {
    const d = utc(Number(m[1]), m.slice(2, 7));
    return m[7] ? new Date(d.getTime() + Math.floor(Number(`0${m[7]}`) * 1000)) : d;
  }
  throw new DerError('bad time');
}

function utc(year: number, parts: readonly string[]): Date {
  const [mo, d, h, mi, s] = parts.slice(0, 5).map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, s));
  date.setUTCFullYear(year, mo - 1, d);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw new DerError('bad time');
  return date;
}
