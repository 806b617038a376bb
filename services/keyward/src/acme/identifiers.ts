/** Order identifiers (RFC 8555 §7.1.4): DNS names (RFC 8555 §7.1.3, wildcards for dns-01 only) and IP addresses (RFC 8738). */
import { isIP } from 'node:net';
import { AcmeProblem, type AcmeIdentifier } from './problem.ts';
import type { ChallengeType } from './ports.ts';

export const MAX_IDENTIFIERS = 100;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS name as certificates carry it: lowercase, no trailing dot, LDH labels (`*.` first for a wildcard). */
export function isDnsName(name: string): boolean {
  if (name.length > 253) return false;
  const bare = name.startsWith('*.') ? name.slice(2) : name;
  const labels = bare.split('.');
  return labels.length >= 1 && labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
}

/**
 * The identifiers of a newOrder payload, checked and deduplicated.
 * @throws AcmeProblem malformed, unsupportedIdentifier, rejectedIdentifier
 */
export function parseIdentifiers(value: unknown): AcmeIdentifier[] {
  if (!Array.isArray(value) || value.length === 0) throw new AcmeProblem('malformed', 'identifiers must be a non-empty list');
  if (value.length > MAX_IDENTIFIERS)
    throw new AcmeProblem('rejectedIdentifier', `An order may hold at most ${MAX_IDENTIFIERS} identifiers`);
  const seen = new Map<string, AcmeIdentifier>();
  for (const raw of value) {
    const id = raw as { type?: unknown; value?: unknown } | null;
    if (typeof id?.value !== 'string' || typeof id.type !== 'string')
      throw new AcmeProblem('malformed', 'Each identifier needs a type and a value');
    if (id.type === 'dns') {
      const v = id.value.toLowerCase().replace(/\.$/, '');
      if (!isDnsName(v))
        throw new AcmeProblem('rejectedIdentifier', `${id.value.slice(0, 80)} is not a DNS name`, {
          subproblems: [
            { type: 'rejectedIdentifier', detail: 'not a DNS name', identifier: { type: 'dns', value: id.value.slice(0, 255) } },
          ],
        });
      seen.set(`dns:${v}`, { type: 'dns', value: v });
    } else if (id.type === 'ip') {
      if (!isIP(id.value)) throw new AcmeProblem('malformed', `${id.value.slice(0, 80)} is not an IP address`);
      seen.set(`ip:${id.value}`, { type: 'ip', value: id.value });
    } else {
      throw new AcmeProblem('unsupportedIdentifier', `Identifier type ${id.type.slice(0, 40)} is not supported (dns, ip)`);
    }
  }
  return [...seen.values()];
}

/** The challenges offered for an identifier: dns-01 only for a wildcard, no dns-01 or tls-alpn-01 for an IP address. */
export function challengeTypesFor(id: AcmeIdentifier): ChallengeType[] {
  if (id.type === 'ip') return ['http-01'];
  if (id.value.startsWith('*.')) return ['dns-01'];
  return ['http-01', 'dns-01', 'tls-alpn-01'];
}
