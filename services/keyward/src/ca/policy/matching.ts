/**
 * How a policy's SAN lists match requested names, compiled once
 * per frozen policy:
 * - DNS: a pattern `*.x` matches exactly one label in front of `x`; any other
 *   pattern matches itself; case-insensitive. A requested wildcard name `*.x`
 *   is allowed only by the identical pattern, since it covers exactly the names
 *   that pattern allows.
 * - IP: CIDR ranges or single addresses, IPv4 and IPv6 (node:net BlockList).
 * - URI: `*` matches any run of characters (including `/`); everything else
 *   literally, case-sensitively.
 * - e-mail: an exact address (case-insensitive) or `@domain` for any mailbox
 *   at exactly that domain.
 * An empty list allows nothing of its kind.
 */
import { BlockList, isIP } from 'node:net';
import type { Policy } from './policy.ts';

/** A host name label: letters, digits, hyphens inside, underscores tolerated (as the policy schema allows). */
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** True for a syntactically valid DNS name (ASCII, A-labels), optionally with a leading `*.` label. */
export function isDnsName(name: string, allowWildcard = true): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.toLowerCase().split('.');
  if (allowWildcard && labels[0] === '*' && labels.length > 2) labels.shift();
  return labels.every((l) => LABEL.test(l));
}

/** An absolute URI of printable ASCII without spaces (RFC 3986 §4.3). */
export const isUri = (uri: string): boolean => /^[a-z][a-z0-9+.-]*:[\x21-\x7e]+$/i.test(uri);

/** `local@domain`, printable ASCII, one `@`. */
export const isEmail = (email: string): boolean =>
  /^[\x21-\x3f\x41-\x7e]+@[a-z0-9.-]+$/i.test(email) && isDnsName(email.split('@')[1]!, false);

export interface SanMatcher {
  dns(name: string): boolean;
  ip(address: string): boolean;
  uri(uri: string): boolean;
  email(address: string): boolean;
}

export function compileSanMatcher(san: Policy['san']): SanMatcher {
  const exactDns = new Set<string>();
  const wildcardParents = new Set<string>();
  for (const p of san.dns) {
    const pat = p.toLowerCase();
    exactDns.add(pat);
    if (pat.startsWith('*.')) wildcardParents.add(pat.slice(2));
  }
  const ips = new BlockList();
  for (const c of san.ip) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const family = isIP(addr);
    if (!family) continue;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    ips.addSubnet(addr, bits === undefined ? (family === 4 ? 32 : 128) : Number(bits), type);
  }
  const uris = san.uri.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
          .join('.*')}$`,
        's',
      ),
  );
  const exactEmail = new Set(san.email.filter((e) => !e.startsWith('@')).map((e) => e.toLowerCase()));
  const emailDomains = new Set(san.email.filter((e) => e.startsWith('@')).map((e) => e.slice(1).toLowerCase()));
  return {
    dns(name) {
      if (!isDnsName(name)) return false;
      const n = name.toLowerCase();
      if (exactDns.has(n)) return true;
      const dot = n.indexOf('.');
      return dot > 0 && n[0] !== '*' && wildcardParents.has(n.slice(dot + 1));
    },
    ip(address) {
      const family = isIP(address);
      return family !== 0 && ips.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
    uri(uri) {
      return isUri(uri) && uris.some((re) => re.test(uri));
    },
    email(address) {
      if (!isEmail(address)) return false;
      const e = address.toLowerCase();
      return exactEmail.has(e) || emailDomains.has(e.slice(e.lastIndexOf('@') + 1));
    },
  };
}

const compiled = new WeakMap<Policy['san'], SanMatcher>();

/** The matcher of a policy's SAN rules, cached when the policy is frozen (as parsePolicy returns it). */
export function sanMatcher(policy: Policy): SanMatcher {
  if (!Object.isFrozen(policy.san)) return compileSanMatcher(policy.san);
  let m = compiled.get(policy.san);
  if (!m) {
    m = compileSanMatcher(policy.san);
    compiled.set(policy.san, m);
  }
  return m;
}
