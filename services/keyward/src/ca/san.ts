/**
 * Subject alternative names (RFC 5280 §4.2.1.6) of the four kinds Keyward
 * certifies: dNSName, iPAddress, uniformResourceIdentifier, rfc822Name.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { DerError } from './der/reader.ts';
import { contextPrimitive, implicitIa5, tlv, tlvOf, TAG } from './der/writer.ts';

export interface Sans {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
}

export const NO_SANS: Sans = Object.freeze({
  dns: Object.freeze([]),
  ip: Object.freeze([]),
  uri: Object.freeze([]),
  email: Object.freeze([]),
});

export const sanCount = (s: Sans): number => s.dns.length + s.ip.length + s.uri.length + s.email.length;

/** `dns:…`, `ip:…`, `uri:…`, `email:…` — the flat form stores and searches use. */
export function sanStrings(s: Sans): string[] {
  return [
    ...s.dns.map((v) => `dns:${v}`),
    ...s.ip.map((v) => `ip:${v}`),
    ...s.uri.map((v) => `uri:${v}`),
    ...s.email.map((v) => `email:${v}`),
  ];
}

/** IPv4 or IPv6 text → 4 or 16 octets; undefined when it is neither. */
export function ipToBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text)) return undefined;
  let s = text.split('%')[0]!;
  const out = new Uint8Array(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: number[] = [];
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    s = `${s.slice(0, -v4[1]!.length)}0:0`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const groups = (x: string) => (x ? x.split(':') : []);
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (v4) out.set(tail, 12);
  return out;
}

/** 4 or 16 octets → text (IPv6 in RFC 5952 canonical form); DerError otherwise. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new DerError('an iPAddress name must be 4 or 16 octets');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/**
 * GeneralNames DER for a SAN extension value, kinds in a fixed order (DNS, IP,
 * URI, email). TypeError on values the validators should have refused.
 */
export function encodeSans(s: Sans): Buffer {
  const parts: Buffer[] = [];
  for (const d of s.dns) parts.push(implicitIa5(2, d));
  for (const i of s.ip) {
    const b = ipToBytes(i);
    if (!b) throw new TypeError(`not an IP address: ${i}`);
    parts.push(tlv(contextPrimitive(7), b));
  }
  for (const u of s.uri) parts.push(implicitIa5(6, u));
  for (const e of s.email) parts.push(implicitIa5(1, e));
  return tlvOf(TAG.SEQUENCE, parts);
}
